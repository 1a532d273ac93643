// Attachments shared between mailboxes and messages: one download per file, a shared file
// never deleted under a download, and leftovers swept.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../functions/createContact.js';
import { createInvestor } from '../functions/createInvestor.js';
import { getAccount } from '../lib/capture/accounts.js';
import { downloadPendingAttachments } from '../lib/capture/attachments.js';
import { blobAbsPath, deleteUnreferencedBlobs } from '../lib/capture/blobs.js';
import { beginAccountSync, sweepAfterRun, TEMP_FILE_GRACE_MS } from '../lib/capture/syncRunner.js';
import { FakeClock } from './helpers/clock.js';
import { invoke } from '../lib/core/fn.js';
import { all, one, run } from '../lib/db/client.js';
import { makeDeps, type TestDeps } from './helpers/deps.js';
import { addAccount, emailIdOf, FakeMailbox, fakeGmail, gmailEnv, WORKSPACE, type MailSpec } from './helpers/mail.js';

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
