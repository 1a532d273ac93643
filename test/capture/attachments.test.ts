import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAttachment } from '../../functions/fetchAttachment.js';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { downloadPendingAttachments, MAX_ATTEMPTS } from '../../lib/capture/attachments.js';
import { blobAbsPath } from '../../lib/capture/blobs.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, emailIdOf, emulatorWorld, FakeMailbox, fakeGmail, gmailEnv, rawMessage, syncMailbox, WORKSPACE } from '../helpers/mail.js';

const MiB = 1024 * 1024;
const PARTNER = `partner@${WORKSPACE}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let deps: TestDeps;
let box: FakeMailbox;

async function setup(env: Record<string, string> = {}) {
  box = new FakeMailbox(PARTNER);
  // These tests are about the attachment step, so sync leaves every file to it.
  deps = await makeDeps({ env: gmailEnv({ CRM_GMAIL_FETCH_STRATEGY: 'per-message', ...env }), gmail: () => fakeGmail([box]) });
  await addAccount(deps, PARTNER);
  const inv = await invoke(deps, createInvestor, { name: 'Acme Capital', domains: ['acme.example'] });
  await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: inv.id });
}

afterEach(async () => {
  await deps?.cleanup();
});

let n = 0;
function mailWith(files: { filename: string; content: Buffer; mimeType?: string }[], from = 'bob@acme.example') {
  n++;
  return box.add({
    from,
    to: [PARTNER],
    subject: `files ${n}`,
    messageId: `files-${n}@acme.example`,
    date: `2025-03-0${(n % 9) + 1}T10:00:00Z`,
    text: `see attached ${n}`,
    files,
  });
}

/** Every file under the data directory except the database's own. */
function storedFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!/^crm\.db/.test(e.name)) out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Sync the mailbox without the attachment step, leaving the rows pending. */
async function syncWithoutAttachments() {
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: PARTNER }), {});
  const s = await begun.go!();
  expect(s.status).toBe('succeeded');
}

describe('attachment download', () => {
  it('an attachment over CRM_GMAIL_MAX_ATTACHMENT_MB is recorded too_large and never requested from Gmail', async () => {
    await setup({ CRM_GMAIL_MAX_ATTACHMENT_MB: '1' });
    const big = Buffer.alloc(MiB + 1, 7);
    const small = Buffer.from('small file');
    mailWith([
      { filename: 'big.bin', content: big },
      { filename: 'small.txt', content: small, mimeType: 'text/plain' },
    ]);
    await syncMailbox(deps, PARTNER);

    const rows = await all<{ filename: string; state: string; size: number; sha256: string | null }>(deps.db, 'SELECT filename, state, size, sha256 FROM email_attachments ORDER BY filename');
    expect(rows).toEqual([
      { filename: 'big.bin', state: 'too_large', size: MiB + 1, sha256: null },
      { filename: 'small.txt', state: 'saved', size: small.length, sha256: sha(small) },
    ]);
    const bigPart = box.attachmentCalls.filter((c) => c.partId === '1');
    expect(bigPart).toEqual([]);
    expect(box.attachmentCalls.map((c) => c.partId)).toEqual(['2']);
    expect(storedFiles(deps.dataDir)).toEqual([path.join('attachments', sha(small).slice(0, 2), sha(small))]);
  });

  it('exactly CRM_GMAIL_MAX_ATTACHMENT_MB MiB is still downloaded', async () => {
    await setup({ CRM_GMAIL_MAX_ATTACHMENT_MB: '1' });
    const edge = Buffer.alloc(MiB, 3);
    mailWith([{ filename: 'edge.bin', content: edge }]);
    await syncMailbox(deps, PARTNER);
    expect(await one(deps.db, 'SELECT state, sha256 FROM email_attachments')).toEqual({ state: 'saved', sha256: sha(edge) });
  });

  it('the same file in two messages is stored once: one file, two rows with the same sha256', async () => {
    await setup();
    const deck = Buffer.from('%PDF-1.7 the same deck in two messages');
    mailWith([{ filename: 'deck.pdf', content: deck, mimeType: 'application/pdf' }]);
    mailWith([{ filename: 'deck (1).pdf', content: deck, mimeType: 'application/pdf' }]);
    const sync = await syncMailbox(deps, PARTNER);

    const rows = await all<{ sha256: string; state: string; storage_path: string }>(deps.db, 'SELECT sha256, state, storage_path FROM email_attachments ORDER BY id');
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.state === 'saved' && r.sha256 === sha(deck))).toBe(true);
    expect(rows[0]!.storage_path).toBe(`attachments/${sha(deck).slice(0, 2)}/${sha(deck)}`);
    expect(storedFiles(deps.dataDir)).toEqual([path.join('attachments', sha(deck).slice(0, 2), sha(deck))]);
    expect(readFileSync(blobAbsPath(deps.dataDir, sha(deck)))).toEqual(deck);
    // Attachments fetched right after a sync count on that sync's run.
    expect(await one(deps.db, 'SELECT kind, attachments_saved FROM email_sync_runs WHERE id = ?', [sync.run_id])).toEqual({ kind: 'backfill', attachments_saved: 2 });
  });

  it('an expired attachment id is replaced by fetching the message again', async () => {
    await setup();
    const file = Buffer.from('term sheet v3');
    const gmailId = mailWith([{ filename: 'terms.txt', content: file }]);
    box.expireOldIds = true;
    let first = true;
    box.onAttachment = (call) => {
      // Gmail rotated the ids between the fetch and the download.
      if (first) box.rotateIds(call.messageId);
      first = false;
    };
    await syncMailbox(deps, PARTNER);

    expect(box.attachmentCalls.map((c) => c.stale)).toEqual([true, false]);
    expect(box.attachmentCalls[0]!.attachmentId).not.toBe(box.attachmentCalls[1]!.attachmentId);
    // Once by the sync, once more after the id it handed out had expired.
    expect(box.getMessageCalls.filter((id) => id === gmailId)).toHaveLength(2);
    expect(await one(deps.db, 'SELECT state, sha256, error FROM email_attachments')).toEqual({ state: 'saved', sha256: sha(file), error: null });
  });

  it('the attachment step uses the ids of the sync\'s own fetch: no second fetch of the message while they work', async () => {
    await setup();
    const gmailId = mailWith([{ filename: 'a.txt', content: Buffer.from('a') }, { filename: 'b.txt', content: Buffer.from('b') }]);
    box.expireOldIds = true;
    await syncMailbox(deps, PARTNER);
    expect(box.getMessageCalls.filter((id) => id === gmailId)).toHaveLength(1);
    expect(box.attachmentCalls.map((c) => c.stale)).toEqual([false, false]);
    expect((await all<{ state: string }>(deps.db, 'SELECT state FROM email_attachments')).map((r) => r.state)).toEqual(['saved', 'saved']);
  });

  it('a message not fetched on this run is fetched right before its download for fresh ids', async () => {
    await setup();
    const gmailId = mailWith([{ filename: 'a.txt', content: Buffer.from('a') }]);
    box.expireOldIds = true;
    await syncWithoutAttachments();
    box.rotateIds(gmailId);
    const other = new FakeMailbox(PARTNER);
    for (const [id, m] of box.messages) other.messages.set(id, m);
    other.expireOldIds = true;
    const runId = (await one<{ id: number }>(deps.db, 'SELECT id FROM email_sync_runs'))!.id;
    // A fresh client (a later run) remembers nothing: one fetch, then the download.
    const r = await downloadPendingAttachments(deps, other, { accountId: (await getAccount(deps.db, { email: PARTNER })).id, runId });
    expect(r).toEqual({ saved: 1, failed: 0, tooLarge: 0 });
    expect(other.getMessageCalls).toEqual([gmailId]);
    expect(other.attachmentCalls.map((c) => c.stale)).toEqual([false]);
  });

  it('a crash between writing the temp file and the rename leaves nothing at the final path, and the next run completes', async () => {
    await setup();
    const file = Buffer.from('quarterly letter '.repeat(1000));
    mailWith([{ filename: 'letter.txt', content: file }]);
    await syncWithoutAttachments();
    const account = await getAccount(deps.db, { email: PARTNER });
    const finalPath = blobAbsPath(deps.dataDir, sha(file));
    let tempSeen: string | null = null;

    const crashed = await downloadPendingAttachments(deps, box, { accountId: account.id, runId: 1 }, {
      beforeRename: ({ tempPath, finalPath: target }) => {
        tempSeen = tempPath;
        expect(target).toBe(finalPath);
        // The temp file holds the whole content, beside (never at) the final path.
        expect(readFileSync(tempPath)).toEqual(file);
        expect(path.dirname(tempPath)).toBe(path.dirname(finalPath));
        throw new Error('process died');
      },
    });
    expect(crashed).toEqual({ saved: 0, failed: 1, tooLarge: 0 });
    expect(tempSeen).not.toBeNull();
    expect(existsSync(finalPath)).toBe(false);
    expect(existsSync(tempSeen!)).toBe(false);
    expect(await one(deps.db, 'SELECT state, error, attempts, sha256 FROM email_attachments')).toEqual({ state: 'failed', error: 'process died', attempts: 1, sha256: null });

    const again = await downloadPendingAttachments(deps, box, { accountId: account.id, runId: 1 });
    expect(again).toEqual({ saved: 1, failed: 0, tooLarge: 0 });
    expect(readFileSync(finalPath)).toEqual(file);
    expect(await one(deps.db, 'SELECT state, error, attempts FROM email_attachments')).toEqual({ state: 'saved', error: null, attempts: 2 });
    expect(storedFiles(deps.dataDir)).toEqual([path.relative(deps.dataDir, finalPath)]);
  });

  it('a download failing midway marks only that file failed; the others are saved and it is retried next run', async () => {
    await setup();
    const a = Buffer.from('first');
    const b = Buffer.from('second');
    mailWith([
      { filename: 'a.txt', content: a },
      { filename: 'b.txt', content: b },
    ]);
    box.onAttachment = (call) => {
      if (call.partId === '2') throw new Error('connection reset by peer');
    };
    await syncMailbox(deps, PARTNER);
    expect(await all(deps.db, 'SELECT filename, state, error, attempts FROM email_attachments ORDER BY filename')).toEqual([
      { filename: 'a.txt', state: 'saved', error: null, attempts: 1 },
      { filename: 'b.txt', state: 'failed', error: 'connection reset by peer', attempts: 1 },
    ]);

    box.onAttachment = undefined;
    const out = await invoke(deps, fetchAttachment, {});
    expect(out.runs).toEqual([expect.objectContaining({ account: PARTNER, status: 'succeeded', attachments_saved: 1, failed: 0 })]);
    expect(await one(deps.db, "SELECT state, sha256 FROM email_attachments WHERE filename = 'b.txt'")).toEqual({ state: 'saved', sha256: sha(b) });
    expect(await one(deps.db, 'SELECT account_id, kind, status, attachments_saved FROM email_sync_runs WHERE id = ?', [out.runs[0]!.run_id])).toEqual({
      account_id: (await getAccount(deps.db, { email: PARTNER })).id,
      kind: 'attachments',
      status: 'succeeded',
      attachments_saved: 1,
    });
  });

  it(`a file that keeps failing is tried ${MAX_ATTEMPTS} times and then left failed`, async () => {
    await setup();
    mailWith([{ filename: 'cursed.bin', content: Buffer.from('x') }]);
    box.onAttachment = () => {
      throw new Error('backend error');
    };
    await syncMailbox(deps, PARTNER);
    for (let i = 0; i < MAX_ATTEMPTS + 2; i++) await invoke(deps, fetchAttachment, { email: PARTNER });
    expect(await one(deps.db, 'SELECT state, attempts FROM email_attachments')).toEqual({ state: 'failed', attempts: MAX_ATTEMPTS });
    // Each attempt: the fresh id fails, and so does the retry with a second fresh id.
    expect(box.attachmentCalls).toHaveLength(MAX_ATTEMPTS * 2);
  });

  it(`never more than CRM_GMAIL_ATTACH_CONCURRENCY downloads at once for a mailbox`, async () => {
    await setup({ CRM_GMAIL_ATTACH_CONCURRENCY: '2' });
    box.attachmentTurns = 5;
    for (let i = 0; i < 4; i++) {
      mailWith([
        { filename: `x${i}.bin`, content: Buffer.from(`x${i}`) },
        { filename: `y${i}.bin`, content: Buffer.from(`y${i}`) },
      ]);
    }
    await syncMailbox(deps, PARTNER);
    expect(await one(deps.db, "SELECT count(*) AS n FROM email_attachments WHERE state = 'saved'")).toEqual({ n: 8 });
    expect(box.maxInFlight).toBe(2);
  });

  it('unmatched mail gets no attachment rows and no files', async () => {
    await setup();
    mailWith([{ filename: 'private.pdf', content: Buffer.from('private') }], 'doctor@clinic.example');
    await syncMailbox(deps, PARTNER);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });
    expect(box.attachmentCalls).toEqual([]);
    expect(storedFiles(deps.dataDir)).toEqual([]);
    const id = await emailIdOf(deps, `files-${n}@acme.example`);
    expect(await one(deps.db, 'SELECT is_matched, body_text, snippet FROM emails WHERE id = ?', [id])).toEqual({ is_matched: 0, body_text: null, snippet: null });
  });

  it('stored files are private to the service (mode 0600)', async () => {
    await setup();
    const f = Buffer.from('mode check');
    mailWith([{ filename: 'm.txt', content: f }]);
    await syncMailbox(deps, PARTNER);
    expect(statSync(blobAbsPath(deps.dataDir, sha(f))).mode & 0o077).toBe(0);
  });
});

describe('attachments against the Gmail emulator (production client)', () => {
  it('saves matched files once, skips the oversized one, and never relies on ids from the capture', async () => {
    const world = await emulatorWorld([PARTNER], { env: { CRM_GMAIL_MAX_ATTACHMENT_MB: '1', CRM_GMAIL_FETCH_STRATEGY: 'per-message' } });
    deps = world.deps;
    try {
      const { emu } = world;
      const inv = await invoke(deps, createInvestor, { name: 'Acme Capital', domains: ['acme.example'] });
      await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: inv.id });
      await addAccount(deps, PARTNER);
      const deck = Buffer.from('%PDF deck carried by two messages');
      const big = Buffer.alloc(MiB + 10, 1);
      const deliver = (spec: Parameters<typeof rawMessage>[0]) => emu.control.deliver(rawMessage(spec), { to: [PARTNER] });
      deliver({ from: 'bob@acme.example', to: [PARTNER], subject: 'deck', messageId: 'e1@acme.example', date: '2025-01-10T10:00:00Z', text: 'one', files: [{ filename: 'deck.pdf', content: deck }, { filename: 'big.bin', content: big }] });
      deliver({ from: 'ann@acme.example', to: [PARTNER], subject: 'deck again', messageId: 'e2@acme.example', date: '2025-01-11T10:00:00Z', text: 'two', files: [{ filename: 'deck.pdf', content: deck }] });
      deliver({ from: 'someone@private.example', to: [PARTNER], subject: 'private', messageId: 'e3@private.example', date: '2025-01-12T10:00:00Z', text: 'three', files: [{ filename: 'x.pdf', content: Buffer.from('x') }] });

      // Capture without the attachment step, then let every attachment id handed out expire.
      const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: PARTNER }), {});
      const captured = await world.run(begun.go!());
      expect(captured.error ?? '').toBe('');
      await world.clock.advance(11 * 60_000);
      emu.control.resetStats();

      const out = await world.run(invoke(deps, fetchAttachment, { email: PARTNER }));
      expect(out.runs).toEqual([expect.objectContaining({ status: 'succeeded', attachments_saved: 2, failed: 0 })]);
      const stats = emu.control.stats().mailboxes[PARTNER]!;
      expect(stats.calls['messages.attachments.get']).toBe(2);
      expect(stats.statuses['400'] ?? 0).toBe(0);
      expect(await all(deps.db, 'SELECT filename, state, sha256 FROM email_attachments ORDER BY filename, id')).toEqual([
        { filename: 'big.bin', state: 'too_large', sha256: null },
        { filename: 'deck.pdf', state: 'saved', sha256: sha(deck) },
        { filename: 'deck.pdf', state: 'saved', sha256: sha(deck) },
      ]);
      expect(storedFiles(deps.dataDir)).toEqual([path.join('attachments', sha(deck).slice(0, 2), sha(deck))]);
      expect(stats.concurrencyPeak).toBeLessThanOrEqual(deps.config.gmail.attachConcurrency);
    } finally {
      await world.close();
      deps = undefined as never;
    }
  });
});
