import type { Deps } from '../deps.js';
import type { App } from '../http.js';

export function registerOauthRoutes(app: App, deps: Deps): void {
  void app;
  void deps;
}
