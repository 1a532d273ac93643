// Runs before every test file (vitest.config.ts setupFiles): whatever reaches console.error
// during a test fails that test, naming what was said.
import { afterEach, beforeEach } from 'vitest';
import { watchConsoleErrors, type ConsoleWatch } from './helpers/consoleGuard.js';

let watch: ConsoleWatch | undefined;

beforeEach(() => {
  watch = watchConsoleErrors();
});

afterEach(() => {
  const said = watch?.stop() ?? [];
  watch = undefined;
  if (said.length) throw new Error(`console.error was called during this test:\n${said.join('\n')}`);
});
