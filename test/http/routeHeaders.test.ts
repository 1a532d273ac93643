// A handler's header comment names who may call its route; the route tables decide. This keeps
// the two from drifting apart ("(admin)" on a route any team member may call).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { authRoutes } from '../../lib/http/routes/auth.js';
import { directoryRoutes } from '../../lib/http/routes/directory.js';
import { emailRoutes } from '../../lib/http/routes/email.js';
import { threadRoutes } from '../../lib/http/routes/threads.js';
import type { RouteSpec } from '../../lib/http/routes/table.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const AUDIENCE: Record<string, string> = { admin: '(admin)', user: '(any user)', download: '(any user)', feed: '(admin or feed token)', public: '(no token)' };

function header(fnName: string): string {
  const src = readFileSync(path.join(ROOT, 'functions', `${fnName}.ts`), 'utf8');
  const lines: string[] = [];
  for (const line of src.split('\n')) {
    if (!line.startsWith('//')) break;
    lines.push(line.slice(2).trim());
  }
  return lines.join(' ');
}

describe('handler headers', () => {
  const routes: RouteSpec[] = [...authRoutes, ...directoryRoutes, ...emailRoutes, ...threadRoutes];
  it.each(routes.map((r) => [`${r.method} ${r.path}`, r] as const))('%s: the header names who may call it, as the route table does', (_, r) => {
    const text = header(r.fn.name);
    expect(text, `functions/${r.fn.name}.ts`).toContain(AUDIENCE[r.access]);
    for (const mark of new Set(Object.values(AUDIENCE))) if (mark !== AUDIENCE[r.access]) expect(text, `functions/${r.fn.name}.ts`).not.toContain(mark);
  });
});
