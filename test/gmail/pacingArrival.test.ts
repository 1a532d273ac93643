// Pacing as Gmail counts it: the emulator runs in its own process (its clock does not stall
// with ours) and counts units when requests arrive, with 40–80 ms latency, while this process
// — the one holding the limiter — blocks its event loop for 300 ms at random moments. No
// one-second window at the emulator may exceed the budget, under either cost model.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/core/clock.js';
import { loadConfig } from '../../lib/core/config.js';
import { captureLogger } from '../helpers/log.js';
import { createGmailFactory } from '../../lib/gmail/client.js';
import { ControlClient } from '../../tools/gmail-emulator/index.js';
import { start, watch } from '../helpers/subprocess.js';

const EMULATOR = [process.execPath, '--import', 'tsx', 'tools/gmail-emulator/cli.ts'];
const BOX = 'pace@fund.example';

let dir: string;
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A small seeded PRNG so a failing run can be replayed. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a deliberate stall: nothing else in this process runs meanwhile
  }
}

describe('pacing by arrival with a stalling event loop', () => {
  it.each([
    ['legacy', 150, 60, 11],
    ['2026', 100, 20, 12],
  ] as const)('%s costs at %i units/s: zero windows over budget at the emulator', async (model, budget, messages, seed) => {
    dir = mkdtempSync(path.join(tmpdir(), 'crm-pace-'));
    const keyPath = path.join(dir, 'sa.json');
    child = start([...EMULATOR, '--quota', model, '--units-per-second', String(budget), '--latency', '40-80', '--mailbox', BOX, '--service-account-out', keyPath, '--json'], {});
    const out = watch(child);
    let line = '';
    child.stdout!.on('data', (d) => (line += d));
    await out.waitFor('"controlUrl"');
    await out.waitFor('\n');
    const urls = JSON.parse(line.split('\n')[0]!) as { url: string; tokenUrl: string; controlUrl: string };
    chmodSync(keyPath, 0o600);
    const control = new ControlClient(urls.controlUrl);
    for (let i = 0; i < messages; i++) {
      await control.deliver(`From: a${i}@outside.example\r\nTo: ${BOX}\r\nSubject: m${i}\r\nMessage-ID: <m${i}@outside.example>\r\n\r\nbody ${i}\r\n`, { to: [BOX] });
    }
    const config = loadConfig({
      CRM_DATA_DIR: dir,
      CRM_GMAIL_INTEGRATION_ENABLED: 'true',
      CRM_GMAIL_AUTH_METHOD: 'dwd',
      CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.example',
      CRM_GMAIL_SA_KEY_PATH: keyPath,
      CRM_GOOGLE_TOKEN_URL: urls.tokenUrl,
      CRM_GMAIL_API_ROOT_URL: urls.url,
      CRM_GMAIL_QUOTA_COSTS: model,
      CRM_GMAIL_RATE_UNITS_SEC: String(budget),
    });
    expect(JSON.parse(readFileSync(keyPath, 'utf8')).client_email).toBeTruthy();
    const gmail = createGmailFactory({ config, clock: systemClock, log: captureLogger().log, maxInFlight: 8 })({ id: 1, email: BOX, auth_method: 'dwd' });
    await gmail.getProfile(); // the token first, so the stalls fall on paced Gmail calls

    const rnd = mulberry32(seed);
    let done = false;
    let stalls = 0;
    const stallLoop = (async () => {
      while (!done) {
        await new Promise((r) => setTimeout(r, 50 + Math.floor(rnd() * 400)));
        if (done) break;
        blockFor(300);
        stalls++;
      }
    })();
    const work = (async () => {
      const list = await gmail.listMessages({ maxResults: 500 });
      // Everything at once, twice over: the limiter alone decides when each request leaves.
      await Promise.all([...list.messages, ...list.messages].map((m) => gmail.getMessage(m.id, 'full')));
    })();
    await work.finally(() => (done = true));
    await stallLoop;
    expect(stalls).toBeGreaterThan(2);
    const stats = (await control.stats()).mailboxes[BOX]!;
    expect(stats.calls['messages.get']).toBe(2 * messages);
    expect(stats.violations).toMatchObject({ rate: 0, concurrency: 0, total: 0 });
    expect(stats.peakUnitsPerSecond).toBeLessThanOrEqual(budget);
  }, 60_000);
});
