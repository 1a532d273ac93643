import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient, type ServiceAccountKey } from '../../tools/gmail-emulator/index.js';
import { harness, mail, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';

describe('control API over HTTP', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('drives mailboxes, mail, time and stats from another process\'s point of view', async () => {
    h = await harness();
    const c = new ControlClient(h.emu.controlUrl);
    await c.createMailbox(PAT);
    const copies = await c.deliver(Buffer.from(mail({ subject: 'over http' })), { to: [PAT] });
    const { id } = copies[PAT]!;
    expect((await c.messages(PAT)).map((m) => m.id)).toEqual([id]);
    await c.modifyLabels(PAT, id, { add: ['STARRED'] });
    expect((await c.mailbox(PAT)).messagesTotal).toBe(1);

    const key = (await c.registerServiceAccount()) as ServiceAccountKey;
    expect(key.private_key).toContain('BEGIN PRIVATE KEY');
    await h.dwd(PAT).users.getProfile({ userId: 'me' });
    const before = await c.now();
    expect(await c.advanceTime(5000)).toBe(before + 5000);
    const stats = await c.stats();
    expect(stats.mailboxes[PAT]!.calls.getProfile).toBe(1);
    await c.resetStats();
    expect((await c.stats()).totals.calls).toBe(0);
  });

  it('holds and releases requests, and reports requests in flight', async () => {
    h = await harness({}, [PAT]);
    const c = new ControlClient(h.emu.url);
    const g = h.dwd(PAT);
    await g.users.getProfile({ userId: 'me' });
    const holdId = await c.hold({ method: 'messages.list' });
    const pending = g.users.messages.list({ userId: 'me' });
    for (let i = 0; i < 500 && (await c.held(holdId)) < 1; i++) await new Promise((r) => setImmediate(r));
    expect(await c.inFlight(PAT)).toBe(1);
    await c.release(holdId);
    expect((await pending).status).toBe(200);
  });

  it('a bad operation answers 400 naming the problem', async () => {
    h = await harness();
    const c = new ControlClient(h.emu.url);
    await expect(c.call('noSuchThing')).rejects.toThrow(/unknown control operation "noSuchThing"/);
    await expect(c.createMailbox('not-an-address')).rejects.toThrow(/not an email address/);
    await expect(c.deliver(Buffer.from(mail()), { to: ['nobody@fund.test'] })).rejects.toThrow(/no mailbox nobody@fund.test/);
  });
});

describe('CLI', () => {
  it('starts with a corpus, writes the key and directory, and prints its URLs as JSON', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gmail-emu-cli-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.resolve('tools/gmail-emulator/cli.ts'),
        '--port',
        '0',
        '--corpus',
        'cli',
        '--conversations',
        '15',
        '--no-fixtures',
        '--service-account-out',
        path.join(dir, 'sa.json'),
        '--directory-out',
        path.join(dir, 'directory.json'),
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`cli exited ${code}`)));
      });
      const out = JSON.parse(line) as { url: string; controlUrl: string; corpus: { mailboxes: string[]; delivered: number } };
      expect(out.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(out.corpus.mailboxes).toHaveLength(4);
      const key = JSON.parse(readFileSync(path.join(dir, 'sa.json'), 'utf8')) as ServiceAccountKey;
      expect(key.type).toBe('service_account');
      expect(statSync(path.join(dir, 'sa.json')).mode & 0o077).toBe(0);
      expect(JSON.parse(readFileSync(path.join(dir, 'directory.json'), 'utf8'))).toHaveLength(30);
      const boxes = await new ControlClient(out.controlUrl).mailboxes();
      expect(boxes.reduce((n, b) => n + b.messagesTotal, 0)).toBeGreaterThanOrEqual(out.corpus.delivered);
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
