// Attachments shared between mailboxes and messages: one download per file, a shared file
// never deleted under a download, and leftovers swept.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { downloadPendingAttachments } from '../../lib/capture/attachments.js';
import { blobAbsPath, deleteUnreferencedBlobs, sweepBlobs } from '../../lib/capture/blobs.js';
import { beginAccountSync, sweepAfterRun, TEMP_FILE_GRACE_MS } from '../../lib/capture/syncRunner.js';
import { FakeClock } from '../helpers/clock.js';
import { invoke } from '../../lib/core/fn.js';
import { all, one, run } from '../../lib/db/client.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, emailIdOf, FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE, type MailSpec } from '../helpers/mail.js';

const A = `alice@${WORKSPACE}`;
const B = `bruno@${WORKSPACE}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let deps: TestDeps;
let boxA: FakeMailbox;
let boxB: FakeMailbox;

async function setup() {
  boxA = new FakeMailbox(A);
  boxB = new FakeMailbox(B);
  // The attachment step itself is under test: the planner would save these files while fetching.
  deps = await makeDeps({ env: gmailEnv({ CRM_GMAIL_FETCH_STRATEGY: 'per-message' }), gmail: () => fakeGmail([boxA, boxB]), clock: new FakeClock(Date.now()) });
  await addAccount(deps, A);
  await addAccount(deps, B);
  const inv = await invoke(deps, createInvestor, { name: 'Acme Capital', domains: ['acme.example'] });
  await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: inv.id });
}

afterEach(async () => {
  await deps?.cleanup();
});

const spec = (n: number, content: Buffer, to = [A, B]): MailSpec => ({
  from: 'bob@acme.example',
  to,
  subject: `deck ${n}`,
  messageId: `deck-${n}@acme.example`,
  date: `2025-03-0${n}T10:00:00Z`,
  text: 'see attached',
  files: [{ filename: 'deck.pdf', content }],
});

async function syncWithoutAttachments(email: string) {
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email }), {});
  expect((await begun.go!()).status).toBe('succeeded');
}

describe('one download per file', () => {
  it('two mailboxes holding the same email download its file once, in parallel', async () => {
    await setup();
    const deck = Buffer.from('the same deck in both mailboxes');
    boxA.add(spec(1, deck));
    boxB.add(spec(1, deck));
    boxA.attachmentTurns = 5;
    boxB.attachmentTurns = 5;
    await syncWithoutAttachments(A);
    await syncWithoutAttachments(B);
    const [ra, rb] = await Promise.all([
      downloadPendingAttachments(deps, boxA, { accountId: (await getAccount(deps.db, { email: A })).id, runId: 1 }),
      downloadPendingAttachments(deps, boxB, { accountId: (await getAccount(deps.db, { email: B })).id, runId: 2 }),
    ]);
    expect(ra.saved + rb.saved).toBe(1);
    expect(boxA.attachmentCalls.length + boxB.attachmentCalls.length).toBe(1);
    expect(await one(deps.db, 'SELECT state, sha256, claim_owner FROM email_attachments')).toEqual({ state: 'saved', sha256: sha(deck), claim_owner: null });
  });
});

describe('a shared file is never deleted under a download', () => {
  it('a purge of another email with the same bytes while a download waits for its batch leaves the file in place', async () => {
    await setup();
    const deck = Buffer.from('one deck, two emails');
    boxA.add(spec(1, deck, [A]));
    await syncWithoutAttachments(A);
    const account = await getAccount(deps.db, { email: A });
    await downloadPendingAttachments(deps, boxA, { accountId: account.id, runId: 1 });
    const first = await emailIdOf(deps, 'deck-1@acme.example');
    expect(existsSync(blobAbsPath(deps.dataDir, sha(deck)))).toBe(true);

    boxA.add(spec(2, deck, [A]));
    await syncWithoutAttachments(A);
    const r = await downloadPendingAttachments(
      deps,
      boxA,
      { accountId: account.id, runId: 2 },
      {
        // The second download found the file on disk; before its row is written, the first
        // email is purged and its file offered for deletion.
        beforeWrite: async () => {
          await run(deps.db, 'DELETE FROM emails WHERE id = ?', [first]);
          await deleteUnreferencedBlobs(deps.db, deps.dataDir, [sha(deck)]);
        },
      },
    );
    expect(r.saved).toBe(1);
    expect(await all(deps.db, 'SELECT state, sha256 FROM email_attachments')).toEqual([{ state: 'saved', sha256: sha(deck) }]);
    expect(existsSync(blobAbsPath(deps.dataDir, sha(deck)))).toBe(true);
    // The claim ended with the row: a later purge of this email does delete the file.
    await run(deps.db, 'DELETE FROM emails WHERE id = ?', [await emailIdOf(deps, 'deck-2@acme.example')]);
    expect(await deleteUnreferencedBlobs(deps.db, deps.dataDir, [sha(deck)])).toEqual([sha(deck)]);
    expect(existsSync(blobAbsPath(deps.dataDir, sha(deck)))).toBe(false);
  });
});

describe('leftovers swept after a run', () => {
  it('old temp files and stored files no row references are removed; referenced files and fresh temp files stay', async () => {
    await setup();
    const deck = Buffer.from('kept');
    boxA.add(spec(1, deck, [A]));
    await syncWithoutAttachments(A);
    await downloadPendingAttachments(deps, boxA, { accountId: (await getAccount(deps.db, { email: A })).id, runId: 1 });
    const kept = blobAbsPath(deps.dataDir, sha(deck));
    const strayBytes = Buffer.from('nobody references me');
    const stray = blobAbsPath(deps.dataDir, sha(strayBytes));
    mkdirSync(path.dirname(stray), { recursive: true });
    writeFileSync(stray, strayBytes);
    const dir = path.dirname(kept);
    const oldTmp = path.join(dir, `.${sha(deck)}.dead.tmp`);
    const freshTmp = path.join(dir, `.${sha(deck)}.live.tmp`);
    writeFileSync(oldTmp, 'partial');
    writeFileSync(freshTmp, 'partial');
    const old = (deps.clock.now() - TEMP_FILE_GRACE_MS - 1000) / 1000;
    utimesSync(oldTmp, old, old);
    await sweepAfterRun(deps);
    expect(existsSync(kept)).toBe(true);
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(oldTmp)).toBe(false);
    expect(existsSync(freshTmp)).toBe(true);
  });
});

describe('files the planner saves while fetching', () => {
  it('are claimed until their page commits: a sweep in between leaves them on disk', async () => {
    const box = new FakeMailbox(A);
    // One download at a time, so the second file is fetched after the first is on disk; one
    // file per message, so the planner fetches files by attachments.get rather than raw.
    deps = await makeDeps({ env: gmailEnv({ CRM_GMAIL_FETCH_STRATEGY: 'planner', CRM_GMAIL_ATTACH_CONCURRENCY: '1' }), gmail: () => fakeGmail([box]) });
    await addAccount(deps, A);
    const inv = await invoke(deps, createInvestor, { name: 'Acme Capital', domains: ['acme.example'] });
    await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: inv.id });
    const one1 = Buffer.from('first file of the page');
    const two = Buffer.from('second file of the page');
    box.add({ ...spec(1, one1, [A]), files: [{ filename: 'a.pdf', content: one1 }] });
    box.add({ ...spec(2, two, [A]), files: [{ filename: 'b.pdf', content: two }] });
    let swept = false;
    box.beforeAttachment = async () => {
      if (box.attachmentCalls.length !== 2 || swept) return;
      swept = true;
      // The first file is written, its row not yet committed: only its claim keeps it.
      const first = box.attachmentCalls[0]!.messageId === box.attachmentCalls[1]!.messageId ? null : [one1, two].find((b) => existsSync(blobAbsPath(deps.dataDir, sha(b))));
      expect(first, 'one file is on disk before its page commits').toBeDefined();
      const now = deps.clock.now();
      await sweepBlobs(deps.db, deps.dataDir, { nowMs: now, tempOlderThanMs: 0, claimsOlderThanIso: new Date(now - 60_000).toISOString() });
    };
    await syncMailbox(deps, A);
    expect(swept).toBe(true);
    const rows = await all<{ state: string; sha256: string }>(deps.db, 'SELECT state, sha256 FROM email_attachments ORDER BY filename');
    expect(rows.map((r) => r.state)).toEqual(['saved', 'saved']);
    for (const r of rows) expect(existsSync(blobAbsPath(deps.dataDir, r.sha256)), r.sha256).toBe(true);
    // The page committed, so its claims are gone with it.
    expect(await all(deps.db, 'SELECT * FROM email_blob_claims')).toEqual([]);
  });
});
