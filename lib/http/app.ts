// The thin HTTP layer: middleware, the error envelope, and the route modules.
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Deps } from '../core/deps.js';
import { AppError, envelope, toAppError } from '../core/errors.js';
import type { Env } from './access.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerDirectoryRoutes } from './routes/directory.js';
import { registerEmailRoutes } from './routes/email.js';
import { registerThreadRoutes } from './routes/threads.js';
import { registerOauthRoutes } from './routes/oauth.js';
import { registerSearchRoutes } from './routes/search.js';
import { isConsolePath, notFoundPage, registerConsole } from '../console/index.js';
import { registerFeedRoutes } from './routes/feed.js';
import { registerInsightRoutes } from './routes/insights.js';

export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export function createApp(deps: Deps): Hono<Env> {
  const app = new Hono<Env>();

  app.use('*', async (c, next) => {
    const requestId = c.req.header('x-request-id')?.slice(0, 64) || randomUUID();
    c.set('requestId', requestId);
    const started = deps.clock.now();
    await next();
    c.header('X-Request-Id', requestId);
    deps.log.info(
      { event: 'http.request', request_id: requestId, method: c.req.method, path: c.req.path, status: c.res.status, ms: deps.clock.now() - started },
      'request',
    );
  });

  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError('PAYLOAD_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  app.get('/healthz', async (c) => {
    await deps.db.execute('SELECT 1');
    return c.json({ ok: true });
  });

  registerAuthRoutes(app, deps);
  registerDirectoryRoutes(app, deps);
  registerEmailRoutes(app, deps);
  registerThreadRoutes(app, deps);
  registerOauthRoutes(app, deps);
  registerSearchRoutes(app, deps);
  registerFeedRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerInsightRoutes(app, deps);
  registerConsole(app, deps);

  // The API and /healthz answer JSON; every other path is the console's, so a person gets its 404 page.
  app.notFound((c) => (isConsolePath(c.req.path) ? notFoundPage(deps, c) : c.json(envelope(new AppError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)), 404)));

  app.onError((err, c) => {
    const e = toAppError(err);
    if (e.code === 'INTERNAL') {
      deps.log.error({ event: 'http.error', request_id: c.get('requestId'), err: String(err instanceof Error ? err.stack : err) }, 'unhandled error');
    }
    if (e.code === 'RATE_LIMITED') c.header('Retry-After', String(Math.max(1, Math.ceil(e.retryAfterSec ?? 1))));
    return c.json(envelope(e), e.status as 400);
  });

  return app;
}
