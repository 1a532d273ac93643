// Calls the app in memory (no socket) and reads the answer as JSON.
import { createApp } from '../../lib/http/app.js';
import type { Deps } from '../../lib/core/deps.js';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: any;
}

export interface ApiOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (with its own content-type header, if any). */
  raw?: string;
  headers?: Record<string, string>;
}

export function apiClient(deps: Deps) {
  const app = createApp(deps);
  return async (method: string, path: string, opts: ApiOptions = {}): Promise<ApiAnswer> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined = opts.raw;
    if (body === undefined && opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
}
