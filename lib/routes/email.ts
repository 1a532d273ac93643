import type { Deps } from '../deps.js';
import type { App } from '../http.js';

export function registerEmailRoutes(app: App, deps: Deps): void {
  void app;
  void deps;
}
