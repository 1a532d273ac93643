// The suite's one MSW server (test/mocks/server.ts, started by test/setup.ts): a vendor origin
// nobody mocked fails, other loopback ports reach the real socket, and handlers a test added are
// gone in the next test.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GMAIL_ROOT } from '../mocks/gmail.js';
import { passesThrough, server } from '../mocks/server.js';

let real: Server | undefined;
afterEach(async () => {
  await new Promise<void>((done) => (real ? real.close(() => done()) : done()));
  real = undefined;
});

describe('the shared MSW server', () => {
  it('lets a real loopback server (an emulator, the service) answer for itself', async () => {
    real = createServer((_req, res) => res.end('real socket'));
    await new Promise<void>((up) => real!.listen(0, '127.0.0.1', up));
    const port = (real.address() as AddressInfo).port;
    expect(await (await fetch(`http://127.0.0.1:${port}/x`)).text()).toBe('real socket');
  });

  it('fails a request to a mocked vendor origin that no handler answers, and says so', async () => {
    const said = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(fetch(`${GMAIL_ROOT}gmail/v1/users/me/profile`)).rejects.toThrow();
      expect(said.mock.calls.flat().join(' ')).toMatch(/without a matching request handler/);
    } finally {
      said.mockRestore();
    }
  });

  it('never lets a request leave the machine', () => {
    expect(passesThrough('https://oauth2.googleapis.com/token')).toBe(false);
    expect(passesThrough('https://gmail.googleapis.com/gmail/v1/users/me/profile')).toBe(false);
    expect(passesThrough('https://example.com/')).toBe(false);
    expect(passesThrough('http://127.0.0.1:47110/gmail/v1/users/me/profile')).toBe(false);
    expect(passesThrough('http://127.0.0.1:39123/')).toBe(true);
    expect(passesThrough('http://localhost:39123/')).toBe(true);
  });

  it('a handler one test adds is used there…', async () => {
    server.use(http.get(`${GMAIL_ROOT}gmail/v1/users/me/profile`, () => HttpResponse.json({ emailAddress: 'a@b.example' })));
    expect(await (await fetch(`${GMAIL_ROOT}gmail/v1/users/me/profile`)).json()).toEqual({ emailAddress: 'a@b.example' });
  });

  it('…and gone in the next', () => {
    expect(server.listHandlers()).toEqual([]);
  });
});
