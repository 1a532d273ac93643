// The package's health check passes only on 200 {"ok":true} from /healthz, against a real server on loopback.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHealthz } from '../../start9/startos/healthz.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(status: number, body: string): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/healthz`;
}

describe('checkHealthz', () => {
  it('200 {"ok":true} → success', async () => {
    expect((await checkHealthz(await serve(200, '{"ok":true}'))).result).toBe('success');
  });

  it('503 from a server whose database is down → failure naming the status', async () => {
    const r = await checkHealthz(await serve(503, '{"ok":false}'));
    expect(r).toEqual({ result: 'failure', message: expect.stringContaining('503') });
  });

  it('200 without ok:true, or not JSON → failure', async () => {
    expect((await checkHealthz(await serve(200, '{"ok":false}'))).result).toBe('failure');
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    expect((await checkHealthz(await serve(200, 'fine'))).result).toBe('failure');
  });

  it('nothing listening → failure: not reachable', async () => {
    const url = await serve(200, '{"ok":true}');
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const r = await checkHealthz(url);
    expect(r.result).toBe('failure');
    expect(r.message).toContain('not reachable');
  });

  it('a fetch that times out → failure naming the timeout', async () => {
    const timedOut: typeof fetch = async () => {
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    };
    const r = await checkHealthz('http://127.0.0.1:9/healthz', { fetch: timedOut, timeoutMs: 250 });
    expect(r).toEqual({ result: 'failure', message: expect.stringContaining('no answer within 250 ms') });
  });
});
