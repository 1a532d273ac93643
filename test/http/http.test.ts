import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lib/http/app.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

let deps: TestDeps;
let api: ReturnType<typeof apiClient>;

beforeEach(async () => {
  deps = await makeDeps();
  api = apiClient(deps);
});
afterEach(async () => {
  await deps.cleanup();
});

describe('http', () => {
  it('/healthz answers 200 {ok:true} without a token', async () => {
    const r = await api('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
  });

  it('an unknown route answers 404 in the error envelope', async () => {
    const r = await api('GET', '/api/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringContaining('/api/nothing-here') } });
  });

  it(`a body over ${MAX_BODY_BYTES} bytes answers 413 PAYLOAD_TOO_LARGE in the envelope`, async () => {
    const { token } = await userWithToken(deps, { role: 'admin' });
    const huge = 'investor,domain\n' + 'A,a.com\n'.repeat(Math.ceil(MAX_BODY_BYTES / 8) + 10);
    const r = await api('POST', '/api/investors/import', { token, raw: huge, headers: { 'content-type': 'text/csv' } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const count = await deps.db.execute('SELECT count(*) AS n FROM investors');
    expect(count.rows[0]!.n).toBe(0);
  });

  it('every answer carries an X-Request-Id; a caller-given one is echoed', async () => {
    const r = await api('GET', '/healthz');
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const given = await api('GET', '/api/nothing', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
  });

  it('a body that is not JSON answers 400 VALIDATION', async () => {
    const { token } = await userWithToken(deps, { role: 'admin' });
    const r = await api('POST', '/api/investors', { token, raw: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
  });

  it('a JSON body that is not an object answers 400 VALIDATION', async () => {
    const { token } = await userWithToken(deps, { role: 'admin' });
    const r = await api('POST', '/api/investors', { token, body: ['Fund X'] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/JSON object/);
  });

  it('each request is logged as http.request with its status', async () => {
    await api('GET', '/healthz');
    expect(deps.logs.lines).toContainEqual(expect.objectContaining({ event: 'http.request', path: '/healthz', status: 200 }));
  });
});
