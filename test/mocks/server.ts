// The one MSW server of the suite. test/setup.ts starts it for every test file, resets its
// handlers after each test and closes it after the file; a test adds the vendor handlers it needs
// with server.use(...) (test/mocks/gmail.ts, test/mocks/google-oauth.ts).
//
// What no handler answers:
// - a vendor origin the mocks stand in for (Gmail, Google's token and consent endpoints, real or
//   on their fixed loopback ports) is an error, so a request a test forgot to mock fails loudly;
// - any other address is an error too: tests talk only to 127.0.0.1;
// - any other 127.0.0.1 / localhost port passes through untouched. That is the Gmail emulator,
//   the service's own HTTP server and the browser a test started on a free port: those tests
//   exercise the real network path and need the real socket, not a mock.
import { setupServer } from 'msw/node';
import { AUTH_URL, GMAIL_ROOT, GOOGLE_TOKEN_URL, TOKEN_URL } from './gmail.js';
import { GOOGLE } from './google-oauth.js';

export const server = setupServer();

const MOCKED_ORIGINS = new Set([GMAIL_ROOT, TOKEN_URL, AUTH_URL, GOOGLE_TOKEN_URL, GOOGLE].map((u) => new URL(u).origin));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a request no handler answered may go out to the real socket. */
export function passesThrough(url: string): boolean {
  const u = new URL(url);
  if (MOCKED_ORIGINS.has(u.origin)) return false;
  if (u.origin.startsWith('https://') && u.hostname.endsWith('.googleapis.com')) return false;
  return LOOPBACK.has(u.hostname);
}

export function onUnhandledRequest(request: Request, print: { error(): void }): void {
  if (!passesThrough(request.url)) print.error();
}
