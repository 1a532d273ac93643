import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchConsoleErrors } from '../helpers/consoleGuard.js';

describe('console guard', () => {
  it('collects what reaches console.error and puts console.error back', () => {
    const before = console.error;
    const watch = watchConsoleErrors();
    console.error('sync failed for %s', 'ann@example.com', { code: 7 });
    const said = watch.stop();
    expect(said).toEqual(["sync failed for ann@example.com { code: 7 }"]);
    expect(console.error).toBe(before);
  });

  it('is registered for every test file', () => {
    const config = readFileSync(path.resolve(import.meta.dirname, '../../vitest.config.ts'), 'utf8');
    expect(config).toMatch(/setupFiles:\s*\[\s*'test\/setup\.ts'\s*\]/);
  });
});
