// kill -9 in the middle of a backfill, then a restart: the server takes the dead process's
// lease over at once, resumes from the last committed page, loses nothing and stores
// nothing twice. The server runs as a child process against the Gmail emulator on loopback.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb } from '../../lib/db/client.js';
import { startEmulator, type Emulator } from '../../tools/gmail-emulator/index.js';
import { freePort, start, watch } from '../helpers/subprocess.js';

const SERVER = [process.execPath, '--import', 'tsx', 'lib/run/main.ts'];
const BOX = 'partner@fund.example';
const MESSAGES = 30;
const PAGE = 5;

let dataDir: string;
let emu: Emulator;
let children: ChildProcess[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-restart-'));
});
afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children = [];
  await emu?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('restart after kill -9 mid-backfill', () => {
  it('resumes within seconds from the last committed page; every message stored exactly once', async () => {
    emu = await startEmulator();
    emu.control.createMailbox(BOX);
    for (let i = 0; i < MESSAGES; i++) {
      const raw = `From: Someone <someone${i}@outside.example>\r\nTo: ${BOX}\r\nSubject: note ${i}\r\nMessage-ID: <note-${i}@outside.example>\r\nDate: Mon, 3 Mar 2025 10:${String(i).padStart(2, '0')}:00 +0000\r\n\r\nbody ${i}\r\n`;
      emu.control.deliver(Buffer.from(raw), { to: [BOX], internalDate: Date.parse('2025-03-03T10:00:00Z') + i * 60_000 });
    }
    const keyPath = path.join(dataDir, 'sa.json');
    writeFileSync(keyPath, JSON.stringify(emu.control.registerServiceAccount()), { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    const port = await freePort();
    const env = {
      CRM_DATA_DIR: path.join(dataDir, 'data'),
      CRM_PORT: String(port),
      CRM_HOST: '127.0.0.1',
      CRM_ADMIN_USERNAME: 'admin',
      CRM_ADMIN_PASSWORD: 'a long enough password',
      CRM_GMAIL_INTEGRATION_ENABLED: 'true',
      CRM_GMAIL_AUTH_METHOD: 'dwd',
      CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.example',
      CRM_GMAIL_SA_KEY_PATH: keyPath,
      CRM_GOOGLE_TOKEN_URL: emu.tokenUrl,
      CRM_GMAIL_API_ROOT_URL: emu.url,
      CRM_GMAIL_BACKFILL_PAGE_SIZE: String(PAGE),
    };
    const base = `http://127.0.0.1:${port}`;

    const first = start(SERVER, env);
    children.push(first);
    const firstOut = watch(first);
    await firstOut.waitFor('"server.listening"');
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: env.CRM_ADMIN_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await fetch(`${base}/api/email/accounts/enroll`, { method: 'POST', headers: auth, body: JSON.stringify({ email: BOX }) })).status).toBe(201);

    // The listing runs to its end (pending list), then fetching goes a batch of PAGE messages
    // at a time. Step it at the emulator: each batch's fetches wait at a gate, and the next
    // batch is only asked for once the batch before it has committed.
    let gate = emu.control.hold({ method: 'messages.get', email: BOX });
    expect((await fetch(`${base}/api/email/sync/run-now`, { method: 'POST', headers: auth, body: '{}' })).status).toBe(202);
    // Let fetches through a few at a time until at least three batches are committed, then
    // kill the server while the next fetches wait at the gate (a batch in flight).
    const dbFile = path.join(env.CRM_DATA_DIR, 'crm.db');
    const probe = await openDb({ url: `file:${dbFile}` });
    try {
      for (;;) {
        await gate.whenWaiting(1);
        const n = Number((await probe.execute('SELECT count(*) AS n FROM email_mailbox_messages')).rows[0]!.n);
        if (n >= 3 * PAGE) break;
        gate.release();
        await nextTurn();
        gate = emu.control.hold({ method: 'messages.get', email: BOX });
      }
    } finally {
      probe.close();
    }
    const fetches = gate;
    first.kill('SIGKILL');
    expect((await firstOut.done).signal).toBe('SIGKILL');
    fetches.release();

    const db = await openDb({ url: `file:${path.join(env.CRM_DATA_DIR, 'crm.db')}` });
    try {
      const stored = Number((await db.execute('SELECT count(*) AS n FROM email_mailbox_messages')).rows[0]!.n);
      expect(stored).toBeGreaterThanOrEqual(3 * PAGE);
      expect(stored).toBeLessThan(MESSAGES);

      const second = start(SERVER, env);
      children.push(second);
      const secondOut = watch(second);
      await secondOut.waitFor('"server.listening"');
      const listeningAt = Date.now();
      await secondOut.waitFor('"sync.resumed"');
      expect(Date.now() - listeningAt).toBeLessThan(5000);
      await secondOut.waitFor('"sync.succeeded"');
      second.kill('SIGTERM');
      await secondOut.done;

      const runs = (await db.execute('SELECT status, error, messages_stored FROM email_sync_runs ORDER BY id')).rows.map((r) => ({ ...r }));
      expect(runs).toEqual([
        { status: 'failed', error: 'interrupted', messages_stored: stored },
        { status: 'succeeded', error: null, messages_stored: MESSAGES - stored },
      ]);
      expect(Number((await db.execute('SELECT count(*) AS n FROM emails')).rows[0]!.n)).toBe(MESSAGES);
      expect(Number((await db.execute('SELECT count(DISTINCT gmail_message_id) AS n FROM email_mailbox_messages')).rows[0]!.n)).toBe(MESSAGES);
      // The resumed run took up the pending list: what was stored was not fetched again.
      expect(emu.control.stats().mailboxes[BOX]!.calls['messages.get']).toBeLessThanOrEqual(MESSAGES + PAGE);
      expect((await db.execute("SELECT state, lease_owner FROM email_accounts")).rows.map((r) => ({ ...r }))).toEqual([{ state: 'idle', lease_owner: null }]);
    } finally {
      db.close();
    }
  }, 60_000);
});
