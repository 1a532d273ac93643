// Runs before every test file (vitest.config.ts setupFiles):
// - whatever reaches console.error during a test fails that test, naming what was said;
// - the suite's one MSW server listens (test/mocks/server.ts says what an unanswered request
//   does: vendor origins and foreign hosts fail, other loopback ports reach the real socket),
//   and the handlers a test added with server.use(...) are dropped after it.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { watchConsoleErrors, type ConsoleWatch } from './helpers/consoleGuard.js';
import { onUnhandledRequest, server } from './mocks/server.js';

let watch: ConsoleWatch | undefined;

beforeAll(() => server.listen({ onUnhandledRequest }));
afterAll(() => server.close());

beforeEach(() => {
  watch = watchConsoleErrors();
});

afterEach(() => {
  server.resetHandlers();
  const said = watch?.stop() ?? [];
  watch = undefined;
  if (said.length) throw new Error(`console.error was called during this test:\n${said.join('\n')}`);
});
