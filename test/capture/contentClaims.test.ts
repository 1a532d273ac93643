// One download per shared file under the planner: mailboxes syncing the same email in
// parallel claim its content before downloading, and a claimant that dies loses no file.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { blobAbsPath, claimContent } from '../../lib/capture/blobs.js';
import { closeRun, openRun } from '../../lib/capture/runs.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { invoke } from '../../lib/core/fn.js';
import { all, one } from '../../lib/db/client.js';
import { GmailStop, type GmailMessage } from '../../lib/gmail/types.js';
import { FakeClock } from '../helpers/clock.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE, type MailSpec } from '../helpers/mail.js';

const A = `alice@${WORKSPACE}`;
const B = `bruno@${WORKSPACE}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A mailbox that also counts format=raw fetches (each one downloads every file of its message). */
class CountingMailbox extends FakeMailbox {
  rawFetches = 0;
  override async getMessage(id: string, format: 'full' | 'metadata' | 'minimal' | 'raw' = 'full'): Promise<GmailMessage | null> {
    if (format === 'raw') this.rawFetches++;
    return super.getMessage(id, format);
  }
  get downloads(): number {
    return this.rawFetches + this.attachmentCalls.length;
  }
}

let deps: TestDeps;
let boxA: CountingMailbox;
let boxB: CountingMailbox;

async function setup() {
  boxA = new CountingMailbox(A);
  boxB = new CountingMailbox(B);
  deps = await makeDeps({ env: gmailEnv({ CRM_GMAIL_FETCH_STRATEGY: 'planner' }), gmail: () => fakeGmail([boxA, boxB]), clock: new FakeClock(Date.now()) });
  await addAccount(deps, A);
  await addAccount(deps, B);
  const inv = await invoke(deps, createInvestor, { name: 'Acme Capital', domains: ['acme.example'] });
  await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: inv.id });
}

afterEach(async () => {
  await deps?.cleanup();
});

const spec = (files: Buffer[]): MailSpec => ({
  from: 'bob@acme.example',
  to: [A, B],
  subject: 'deck',
  messageId: 'deck-1@acme.example',
  date: '2025-03-01T10:00:00Z',
  text: 'see attached',
  files: files.map((content, i) => ({ filename: `file${i}.pdf`, content })),
});

async function states() {
  return all<{ state: string; sha256: string | null; attempts: number }>(deps.db, 'SELECT state, sha256, attempts FROM email_attachments ORDER BY part_id');
}

describe('one download per shared file across mailboxes', () => {
  for (const n of [1, 3]) {
    // One file goes by attachments.get, three by one format=raw fetch: either way once.
    it(`two mailboxes syncing the same email with ${n} file(s) in parallel download its content once`, async () => {
      await setup();
      const files = Array.from({ length: n }, (_, i) => Buffer.from(`file ${i} of the shared email`));
      boxA.add(spec(files));
      boxB.add(spec(files));
      // Both fetches are in flight together: neither mailbox has stored the email yet.
      boxA.attachmentTurns = 20;
      boxB.attachmentTurns = 20;
      await Promise.all([syncMailbox(deps, A), syncMailbox(deps, B)]);
      expect(boxA.downloads + boxB.downloads).toBe(1);
      expect(await states()).toEqual(files.map((f) => ({ state: 'saved', sha256: sha(f), attempts: 1 })));
      for (const f of files) expect(existsSync(blobAbsPath(deps.dataDir, sha(f)))).toBe(true);
      // The claim went with the claimant's page.
      expect(await all(deps.db, 'SELECT * FROM email_content_claims')).toEqual([]);
    });
  }

  it('a copy stored first without the files it left to the claimant takes them when the claimant stores', async () => {
    await setup();
    const deck = Buffer.from('a deck stored late');
    boxA.add(spec([deck]));
    boxB.add(spec([deck]));
    // B stores its copy while A's download is in flight: B leaves the file to A.
    let bDone: Promise<unknown> | null = null;
    boxA.beforeAttachment = async () => {
      bDone ??= syncMailbox(deps, B);
      await bDone;
    };
    await syncMailbox(deps, A);
    expect(boxB.downloads).toBe(0);
    expect(boxA.downloads).toBe(1);
    expect(await states()).toEqual([{ state: 'saved', sha256: sha(deck), attempts: 1 }]);
  });
});

describe('a claimant that dies loses no file', () => {
  it('the mailbox refusing mid-download fails its run; the other mailbox still saves the file, whose claim ended with its run', async () => {
    await setup();
    const deck = Buffer.from('the deck a dead run claimed');
    boxA.add(spec([deck]));
    boxB.add(spec([deck]));
    boxA.onAttachment = () => {
      throw new GmailStop('auth_error', 'the mailbox refused');
    };
    const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: A }));
    expect((await begun.go!()).status).not.toBe('succeeded');
    // The dead run's claim is still there and has not expired, but its run is over: B claims
    // the email and saves the file.
    expect((await all(deps.db, 'SELECT run_id FROM email_content_claims')).length).toBe(1);
    await syncMailbox(deps, B);
    expect(await states()).toEqual([{ state: 'saved', sha256: sha(deck), attempts: 1 }]);
    expect(existsSync(blobAbsPath(deps.dataDir, sha(deck)))).toBe(true);
  });

  it('a claim held by a dead run only defers the download: the next run of the same mailbox saves the file', async () => {
    await setup();
    const deck = Buffer.from('the deck of a mailbox whose run died');
    boxA.add(spec([deck]));
    // A run id no running run has: its process died and the run was closed, or never opened.
    expect(await claimContent(deps.db, 'mid:deck-1@acme.example', 999, deps.clock.now())).toBe(true);
    await syncMailbox(deps, A);
    expect(await states()).toEqual([{ state: 'saved', sha256: sha(deck), attempts: 1 }]);
  });

  it('a claim counts only while its run is running and until it expires', async () => {
    await setup();
    const now = deps.clock.now();
    const [r1, r2, r3] = [await openRun(deps.db, null, 'rematch', now), await openRun(deps.db, null, 'rematch', now), await openRun(deps.db, null, 'rematch', now)];
    expect(await claimContent(deps.db, 'mid:x@y', r1, now, 1000)).toBe(true);
    expect(await claimContent(deps.db, 'mid:x@y', r2, now + 999, 1000)).toBe(false);
    expect(await claimContent(deps.db, 'mid:x@y', r1, now + 999, 1000)).toBe(true);
    expect(await claimContent(deps.db, 'mid:x@y', r2, now + 2000, 1000)).toBe(true);
    expect(await one(deps.db, 'SELECT run_id FROM email_content_claims')).toEqual({ run_id: r2 });
    // r2 ends (failed): its claim is void at once, long before it would expire.
    await closeRun(deps.db, r2, now + 2001, { ok: false, error: 'stopped' });
    expect(await claimContent(deps.db, 'mid:x@y', r3, now + 2002, 1000)).toBe(true);
  });
});
