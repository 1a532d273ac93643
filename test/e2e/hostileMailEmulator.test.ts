// Hostile mail through the real Gmail emulator: a message with 20,000 References, one with
// 10,000 recipients, one with a 1 MB subject, one with a 100 KB Date header, one whose address
// is a long run of dots and one whose attachment is named with 60,000 characters are synced by
// the production Gmail client, followed by ordinary investor mail. /healthz, served over real
// HTTP on 127.0.0.1, answers every probe in under 100 ms throughout; the investor mail after
// the hostile messages is stored and the mailbox ends `idle`.
//
// How "under 100 ms" is measured, and why: the box that runs the tests is shared, so a probe's
// wall time also holds every moment the OS gave the CPU to someone else, which says nothing
// about the service. What the service controls is how long its own event loop is kept busy.
// So the emulator runs in its own process (building and serving 1 MB messages is not the
// service's work), and for each /healthz answer and each tick of a 5 ms watchdog the test
// takes the smaller of the wall time and the CPU time this process spent meanwhile
// (process.cpuUsage). A loop blocked by parsing or SQL burns CPU for as long as it blocks and
// is caught; a process merely descheduled by a busy box burns none and is not blamed. On an
// idle machine the two numbers are the same.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { enroll } from '../../functions/enroll.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { systemClock } from '../../lib/core/clock.js';
import { invoke } from '../../lib/core/fn.js';
import { all } from '../../lib/db/client.js';
import { createGmailFactory } from '../../lib/gmail/client.js';
import { createApp } from '../../lib/http/app.js';
import { ControlClient } from '../../tools/gmail-emulator/client.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { eml } from '../helpers/fakeGmail.js';
import { start } from '../helpers/subprocess.js';

const BOX = 'ann@fund.test';
const LIMIT_MS = 100;

let deps: TestDeps | undefined;
let emulator: ChildProcess | undefined;
let server: ServerType | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r));
  if (emulator && emulator.exitCode === null && emulator.signalCode === null) emulator.kill('SIGTERM');
  await deps?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = emulator = deps = dir = undefined;
});

/** Milliseconds of CPU this process has used (user + system), for the blocking measure above. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One message with a 60,000-character attachment name (quoted, so it reaches the MIME parser whole). */
function longAttachmentName(): string {
  const name = `${'n'.repeat(60_000)}.pdf`;
  const b = 'B0UND';
  return [
    // From the investor, so the mail is matched and its attachment row (and name) is kept.
    'From: lp@acme.test',
    `To: ${BOX}`,
    'Subject: long file name',
    'Date: Sat, 10 Jan 2026 09:50:00 +0000',
    'Message-ID: <long-name@spam.test>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'see attached',
    `--${b}`,
    `Content-Type: application/pdf; name="${name}"`,
    `Content-Disposition: attachment; filename="${name}"`,
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4 tiny').toString('base64'),
    `--${b}--`,
    '',
  ].join('\r\n');
}

/** The emulator as its own process; resolves with its URLs (the one JSON line it prints). */
async function startEmulatorProcess(keyPath: string): Promise<{ url: string; tokenUrl: string; controlUrl: string }> {
  emulator = start([process.execPath, '--import', 'tsx', 'tools/gmail-emulator/cli.ts', '--json', '--mailbox', BOX, '--service-account-out', keyPath], {});
  let stdout = '';
  let stderr = '';
  emulator.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    emulator!.stdout!.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(stdout.slice(0, nl)));
    });
    emulator!.on('exit', (code) => reject(new Error(`the emulator exited (${code}) before listening:\n${stdout}\n${stderr}`)));
  });
}

interface Probe {
  wall: number;
  cpu: number;
}
/** The smaller of wall and CPU time: the part of a wait this process itself was busy for. */
const busy = (p: Probe): number => Math.min(p.wall, p.cpu);

it('hostile messages synced from the emulator: every /healthz answer and every event-loop stall under 100 ms; the investor mail after them is stored; the mailbox stays idle', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'crm-hostile-emu-'));
  const keyPath = path.join(dir, 'sa.json');
  const emu = await startEmulatorProcess(keyPath);
  chmodSync(keyPath, 0o600);
  const control = new ControlClient(emu.controlUrl);

  deps = await makeDeps({
    clock: systemClock,
    env: {
      CRM_GMAIL_INTEGRATION_ENABLED: 'true',
      CRM_GMAIL_AUTH_METHOD: 'dwd',
      CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test',
      CRM_GMAIL_SA_KEY_PATH: keyPath,
      CRM_GOOGLE_TOKEN_URL: emu.tokenUrl,
      CRM_GMAIL_API_ROOT_URL: emu.url,
    },
    gmail: (d) => createGmailFactory({ config: d.config, clock: d.clock, log: d.log, db: d.db, random: () => 0 }),
  });
  const d = deps;
  await invoke(d, enroll, { email: BOX, auth_method: 'dwd' });
  await invoke(d, createContact, { name: 'LP', emails: ['lp@acme.test'] });

  // Oldest first: the hostile messages, then the investor mail that must still be captured.
  const at = (min: number) => ({ to: [BOX], internalDate: Date.parse('2026-01-10T09:00:00Z') + min * 60_000 });
  const refs = Array.from({ length: 20_000 }, (_, i) => `<ref${i}@spam.test>`);
  await control.deliver(eml({ from: 'x@spam.test', to: [BOX], subject: 'many references', references: refs, date: 'Sat, 10 Jan 2026 09:00:00 +0000' }), at(0));
  const crowd = Array.from({ length: 10_000 }, (_, i) => `person${i}@crowd.test`);
  await control.deliver(eml({ from: 'lp@acme.test', to: crowd, subject: 'many recipients', date: 'Sat, 10 Jan 2026 09:10:00 +0000' }), at(10));
  await control.deliver(eml({ from: 'x@spam.test', to: [BOX], subject: 'S'.repeat(1024 * 1024), date: 'Sat, 10 Jan 2026 09:20:00 +0000' }), at(20));
  await control.deliver(eml({ from: 'x@spam.test', to: [BOX], subject: 'long date', date: `Sat, 10 Jan 2026 09:30:00 +0000 (${'('.repeat(50_000)}${'x'.repeat(50_000)})` }), at(30));
  await control.deliver(eml({ from: `${'.'.repeat(60_000)}@spam.test`, to: [BOX], subject: 'dots', date: 'Sat, 10 Jan 2026 09:40:00 +0000' }), at(40));
  await control.deliver(longAttachmentName(), at(50));
  for (let i = 0; i < 3; i++) {
    await control.deliver(eml({ from: 'lp@acme.test', to: [BOX], subject: `after them ${i}`, date: `Sat, 10 Jan 2026 10:0${i}:00 +0000`, body: `investor body ${i}` }), at(60 + i));
  }

  const app = createApp(d);
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const answers: Probe[] = [];
  const ticks: Probe[] = [];
  let syncing = true;
  const poll = (async () => {
    while (syncing) {
      const t = performance.now();
      const c = cpuMs();
      const r = await fetch(`${base}/healthz`);
      const body = await r.text();
      answers.push({ wall: performance.now() - t, cpu: cpuMs() - c });
      expect(r.status, body).toBe(200);
    }
  })();
  let last = { wall: performance.now(), cpu: cpuMs() };
  const watchdog = setInterval(() => {
    const now = { wall: performance.now(), cpu: cpuMs() };
    ticks.push({ wall: now.wall - last.wall, cpu: now.cpu - last.cpu });
    last = now;
  }, 5);

  let result;
  try {
    const begun = await beginAccountSync(d, await getAccount(d.db, { email: BOX }));
    result = await begun.go!();
  } finally {
    syncing = false;
    clearInterval(watchdog);
    await poll;
  }

  expect(result.status).toBe('succeeded');
  const rows = await all<{ subject: string; is_matched: number; body_text: string | null }>(d.db, 'SELECT subject, is_matched, body_text FROM emails ORDER BY sent_at');
  expect(rows).toHaveLength(9);
  // Each hostile message is stored, bounded as docs/security.md says.
  const stored = await all<{ subject: string | null; from_address: string | null; references_json: string; participant_counts: string | null; sent_at: string; filename: string | null; to_rows: number }>(
    d.db,
    `SELECT e.subject, e.from_address, e.references_json, e.participant_counts, e.sent_at,
            (SELECT filename FROM email_attachments a WHERE a.email_id = e.id) AS filename,
            (SELECT count(*) FROM email_participants p WHERE p.email_id = e.id AND p.role = 'to') AS to_rows
       FROM emails e ORDER BY e.sent_at LIMIT 6`,
  );
  expect(JSON.parse(stored[0]!.references_json)).toHaveLength(100);
  expect(stored[1]).toMatchObject({ subject: 'many recipients', to_rows: 500 });
  expect(JSON.parse(stored[1]!.participant_counts!)).toEqual({ to: 10_000 });
  expect(stored[2]!.subject!.length).toBeLessThanOrEqual(16 * 1024);
  expect(stored[3]).toMatchObject({ subject: 'long date', sent_at: '2026-01-10T09:30:00.000Z' });
  expect(stored[4]!.subject).toBe('dots');
  expect(stored[4]!.from_address?.length ?? 0).toBeLessThanOrEqual(320);
  expect(stored[5]!.subject).toBe('long file name');
  expect(Buffer.byteLength(stored[5]!.filename!)).toBeLessThanOrEqual(255);
  for (let i = 0; i < 3; i++) {
    expect(rows[6 + i]).toMatchObject({ subject: `after them ${i}`, is_matched: 1, body_text: expect.stringContaining(`investor body ${i}`) });
  }
  expect((await getAccount(d.db, { email: BOX })).state).toBe('idle');
  // The probes really ran alongside the sync (it takes about a second here).
  expect(answers.length).toBeGreaterThan(3);
  expect(ticks.length).toBeGreaterThan(10);
  const worstAnswer = answers.reduce((w, p) => (busy(p) > busy(w) ? p : w));
  const worstTick = ticks.reduce((w, p) => (busy(p) > busy(w) ? p : w));
  const report = `worst /healthz ${JSON.stringify(worstAnswer)}, worst stall ${JSON.stringify(worstTick)} (ms) over ${answers.length} answers`;
  expect(busy(worstAnswer), report).toBeLessThan(LIMIT_MS);
  expect(busy(worstTick), report).toBeLessThan(LIMIT_MS);
}, 180_000);
