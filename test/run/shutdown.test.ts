import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { freePort, start, watch } from '../helpers/subprocess.js';

// The server is started the way the Start9 image starts it. Through `npx tsx` the signal would
// stop at npm's `sh -c` wrapper and never reach the server.
const SERVER = [process.execPath, '--import', 'tsx', 'lib/run/main.ts'];

let dataDir: string;
let child: ChildProcess | undefined;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-shutdown-'));
});
afterEach(() => {
  // A test that failed half-way must not leave its server running.
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('serves /healthz, and on SIGTERM stops cleanly: exit code 0 and a server.stopped log line', async () => {
    const port = await freePort();
    child = start(SERVER, { CRM_DATA_DIR: dataDir, CRM_PORT: String(port), CRM_HOST: '127.0.0.1' });
    const { done, waitFor } = watch(child);
    try {
      // The server says when it listens; nothing is guessed with sleeps.
      await waitFor('"server.listening"');
      let health: Response | undefined;
      for (let attempt = 0; attempt < 20 && !health; attempt++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      }
      expect(health?.status).toBe(200);
      expect(await health!.json()).toEqual({ ok: true });
    } finally {
      child.kill('SIGTERM');
    }
    const { code, stdout, stderr } = await done;
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    const events = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).event);
    expect(events).toContain('server.stopping');
    expect(events.at(-1)).toBe('server.stopped');
  });

  it('a bad setting stops the start with a message naming the variable', async () => {
    child = start(SERVER, { CRM_DATA_DIR: dataDir, CRM_PORT: 'abc' });
    const { code, stderr } = await watch(child).done;
    expect(code).not.toBe(0);
    expect(stderr).toContain('CRM_PORT');
  });
});
