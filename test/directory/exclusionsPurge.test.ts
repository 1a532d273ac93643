import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { rematchQueued } from '../../functions/rematchQueued.js';
import { blobAbsPath } from '../../lib/capture/blobs.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, emailIdOf, emulatorWorld, FakeMailbox, fakeGmail, gmailEnv, rawMessage, syncMailbox, WORKSPACE } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';

const PARTNER = `partner@${WORKSPACE}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let deps: TestDeps;
let box: FakeMailbox;
let api: ReturnType<typeof apiClient>;
let admin: Awaited<ReturnType<typeof userWithToken>>;
let member: Awaited<ReturnType<typeof userWithToken>>;
let acmeId: number;

const LAWYER_FILE = Buffer.from('privileged memo');
const SHARED_FILE = Buffer.from('cap table shared by both');

async function setup() {
  box = new FakeMailbox(PARTNER);
  deps = await makeDeps({ env: gmailEnv(), gmail: () => fakeGmail([box]) });
  api = apiClient(deps);
  admin = await userWithToken(deps, { role: 'admin' });
  member = await userWithToken(deps, { role: 'member' });
  await addAccount(deps, PARTNER);
  // The firm's lawyer also sits at the investor's domain, so domain matching ties her mail to it.
  acmeId = (await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] })).id;
  await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: acmeId });
  box.add(
    { from: 'Lena <lena@legal.acme.example>', to: [PARTNER], subject: 'privileged', messageId: 'lena@acme.example', date: '2025-03-01T10:00:00Z', text: 'legal advice', files: [{ filename: 'memo.txt', content: LAWYER_FILE }, { filename: 'cap.xlsx', content: SHARED_FILE }] },
    { threadId: 'lena' },
  );
  box.add(
    { from: 'bob@acme.example', to: [PARTNER], cc: ['lena@legal.acme.example'], subject: 'with bob', messageId: 'bob@acme.example', date: '2025-03-02T10:00:00Z', text: 'bob and lena', files: [{ filename: 'cap.xlsx', content: SHARED_FILE }] },
    { threadId: 'bob' },
  );
  await syncMailbox(deps, PARTNER);
  await invoke(deps, rematchQueued, {});
}

afterEach(async () => {
  await deps?.cleanup();
});

const state = (mid: string) =>
  one<{ is_matched: number; body_text: string | null; snippet: string | null }>(deps.db, 'SELECT is_matched, body_text, snippet FROM emails WHERE rfc822_message_id = ?', [mid]);

async function threadOf(mid: string): Promise<number> {
  return (await one<{ thread_id: number }>(deps.db, 'SELECT thread_id FROM emails WHERE rfc822_message_id = ?', [mid]))!.thread_id;
}

describe('exclusions', () => {
  it('excluding an address purges bodies and files of mail matched only through it, logs it, and keeps mail matched otherwise', async () => {
    await setup();
    expect((await state('lena@acme.example'))!.is_matched).toBe(1);
    const lenaThread = await threadOf('lena@acme.example');
    const lenaFiles = await all<{ id: number }>(deps.db, 'SELECT a.id FROM email_attachments a JOIN emails e ON e.id = a.email_id WHERE e.rfc822_message_id = ?', ['lena@acme.example']);
    expect(lenaFiles).toHaveLength(2);

    const created = await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'Lena@Legal.Acme.example' } });
    expect(created.status).toBe(201);
    const r = await invoke(deps, rematchQueued, {});
    expect(r.status).toBe('succeeded');

    expect(await state('lena@acme.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });
    expect(await all(deps.db, "SELECT l.address FROM email_investor_links l JOIN emails e ON e.id = l.email_id WHERE e.rfc822_message_id = 'lena@acme.example'")).toEqual([]);
    expect(existsSync(blobAbsPath(deps.dataDir, sha(LAWYER_FILE)))).toBe(false);
    // Bob's mail still holds the shared file and stays matched through Bob, without Lena's link.
    expect(existsSync(blobAbsPath(deps.dataDir, sha(SHARED_FILE)))).toBe(true);
    expect((await state('bob@acme.example'))!.body_text).toBe('bob and lena');
    expect(await all(deps.db, "SELECT l.address FROM email_investor_links l JOIN emails e ON e.id = l.email_id WHERE e.rfc822_message_id = 'bob@acme.example' ORDER BY l.address")).toEqual([
      { address: 'bob@acme.example' },
    ]);

    const lenaId = await emailIdOf(deps, 'lena@acme.example');
    expect(deps.logs.lines.find((l) => l.event === 'rematch.purged')).toMatchObject({ emails: 1, attachments: 2, files_deleted: 1, email_ids: [lenaId] });
    // Nothing of the purged mail is readable any more.
    expect((await api('GET', `/api/email/threads/${lenaThread}`, { token: member.token })).status).toBe(404);
    for (const f of lenaFiles) expect((await api('GET', `/api/email/attachments/${f.id}`, { token: member.token })).status).toBe(404);
    const listed = await api('GET', `/api/email/threads?investor_id=${acmeId}`, { token: member.token });
    expect(listed.body.threads.map((t: { subject: string }) => t.subject)).toEqual(['with bob']);
  });

  it('an exclusion, a deleted contact and a deleted investor withdraw their mail at once, before any drain of the queue', async () => {
    await setup();
    const lenaThread = await threadOf('lena@acme.example');
    // No drain between the change and the reads: the change itself withdraws.
    expect((await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'lena@legal.acme.example' } })).status).toBe(201);
    expect(await state('lena@acme.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });
    expect(existsSync(blobAbsPath(deps.dataDir, sha(LAWYER_FILE)))).toBe(false);
    expect((await api('GET', `/api/email/threads/${lenaThread}`, { token: member.token })).status).toBe(404);
    // The withdrawal is a recorded rematch run, and the queue keeps the rows for the drain.
    expect(await all(deps.db, "SELECT kind, status FROM email_sync_runs WHERE kind = 'rematch' ORDER BY id DESC LIMIT 1")).toEqual([{ kind: 'rematch', status: 'succeeded' }]);
    expect(await all(deps.db, 'SELECT address FROM email_rematch_queue')).toEqual([{ address: 'lena@legal.acme.example' }]);

    // Bob's mail matches through Bob and through Acme's domain: deleting Bob leaves the domain match.
    const bob = (await one<{ id: number }>(deps.db, "SELECT contact_id AS id FROM contact_emails WHERE email = 'bob@acme.example'"))!;
    expect((await api('DELETE', `/api/contacts/${bob.id}`, { token: member.token })).status).toBe(204);
    expect((await state('bob@acme.example'))!.body_text).toBe('bob and lena');
    expect(await all(deps.db, "SELECT l.match_kind FROM email_investor_links l JOIN emails e ON e.id = l.email_id WHERE e.rfc822_message_id = 'bob@acme.example'")).toEqual([
      { match_kind: 'domain' },
    ]);
    // Deleting the investor leaves nothing it matches through: withdrawn at once.
    expect((await api('DELETE', `/api/investors/${acmeId}`, { token: member.token })).status).toBe(204);
    expect(await state('bob@acme.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });
    expect(existsSync(blobAbsPath(deps.dataDir, sha(SHARED_FILE)))).toBe(false);
  });

  it("an edit that removes an investor's domain withdraws what matched only through it at once", async () => {
    await setup();
    expect((await state('lena@acme.example'))!.is_matched).toBe(1);
    // Lena matches only through the domain; Bob also through his contact.
    expect((await api('PATCH', `/api/investors/${acmeId}`, { token: member.token, body: { domains: [] } })).status).toBe(200);
    expect(await state('lena@acme.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });
    expect(existsSync(blobAbsPath(deps.dataDir, sha(LAWYER_FILE)))).toBe(false);
    expect((await state('bob@acme.example'))!.body_text).toBe('bob and lena');
  });

  it('excluding a domain covers its subdomains and the contacts at it', async () => {
    await setup();
    await invoke(deps, createContact, { name: 'Lena', emails: ['lena@legal.acme.example'] });
    await invoke(deps, rematchQueued, {});
    expect((await state('lena@acme.example'))!.is_matched).toBe(1);

    const created = await api('POST', '/api/exclusions', { token: admin.token, body: { domain: 'acme.example' } });
    expect(created.status).toBe(201);
    await invoke(deps, rematchQueued, {});
    expect((await state('lena@acme.example'))!.is_matched).toBe(0);
    expect((await state('bob@acme.example'))!.is_matched).toBe(0);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_investor_links')).toEqual({ n: 0 });
    expect(existsSync(blobAbsPath(deps.dataDir, sha(SHARED_FILE)))).toBe(false);
  });

  it('removing the exclusion lets rematch bring the bodies and files back', async () => {
    await setup();
    const created = await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'lena@legal.acme.example' } });
    await invoke(deps, rematchQueued, {});
    expect((await state('lena@acme.example'))!.is_matched).toBe(0);
    const fetchesBefore = box.getMessageCalls.length;

    expect((await api('DELETE', `/api/exclusions/${created.body.id}`, { token: admin.token })).status).toBe(204);
    const r = await invoke(deps, rematchQueued, {});
    expect(r.status).toBe('succeeded');
    expect(await state('lena@acme.example')).toEqual({ is_matched: 1, body_text: 'legal advice', snippet: 'legal advice' });
    expect(box.getMessageCalls.length).toBeGreaterThan(fetchesBefore);
    expect(readFileSync(blobAbsPath(deps.dataDir, sha(LAWYER_FILE)))).toEqual(LAWYER_FILE);
    expect(await all(deps.db, "SELECT a.filename, a.state FROM email_attachments a JOIN emails e ON e.id = a.email_id WHERE e.rfc822_message_id = 'lena@acme.example' ORDER BY a.filename")).toEqual([
      { filename: 'cap.xlsx', state: 'saved' },
      { filename: 'memo.txt', state: 'saved' },
    ]);
    expect(await all(deps.db, "SELECT l.match_kind, l.address FROM email_investor_links l JOIN emails e ON e.id = l.email_id WHERE e.rfc822_message_id = 'bob@acme.example' ORDER BY l.address")).toEqual([
      { match_kind: 'contact_email', address: 'bob@acme.example' },
      { match_kind: 'domain', address: 'lena@legal.acme.example' },
    ]);
  });

  it('mail arriving after an exclusion from that address is stored metadata only', async () => {
    await setup();
    await api('POST', '/api/exclusions', { token: admin.token, body: { address: 'lena@legal.acme.example' } });
    await invoke(deps, rematchQueued, {});
    box.add({ from: 'lena@legal.acme.example', to: [PARTNER], subject: 'later', messageId: 'later@acme.example', date: '2025-03-05T10:00:00Z', text: 'more advice', files: [{ filename: 'x.txt', content: Buffer.from('x') }] });
    const before = box.attachmentCalls.length;
    await syncMailbox(deps, PARTNER);
    expect(await state('later@acme.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });
    expect(box.attachmentCalls.length).toBe(before);
  });
});

describe('exclusions against the Gmail emulator (production client)', () => {
  it('a new contact brings bodies and files, an exclusion purges them, removing it brings them back', async () => {
    const world = await emulatorWorld([PARTNER]);
    deps = world.deps;
    try {
      const { emu } = world;
      api = apiClient(deps);
      admin = await userWithToken(deps, { role: 'admin' });
      await addAccount(deps, PARTNER);
      const memo = Buffer.from('memo from the family office');
      emu.control.deliver(
        rawMessage({ from: 'Uma <uma@family.example>', to: [PARTNER], subject: 'family', messageId: 'uma@family.example', date: '2025-01-05T10:00:00Z', text: 'family matters', files: [{ filename: 'memo.txt', content: memo }] }),
        { to: [PARTNER] },
      );
      const sync = async () => {
        const r = await world.run(syncMailbox(deps, PARTNER));
        expect(r.status).toBe('succeeded');
      };
      const drain = () => world.run(invoke(deps, rematchQueued, {}));
      await sync();
      expect(await state('uma@family.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });

      await invoke(deps, createContact, { name: 'Uma', emails: ['uma@family.example'] });
      expect(await drain()).toMatchObject({ status: 'succeeded', emails: 1 });
      expect(await state('uma@family.example')).toEqual({ is_matched: 1, body_text: 'family matters', snippet: 'family matters' });
      expect(readFileSync(blobAbsPath(deps.dataDir, sha(memo)))).toEqual(memo);

      const ex = await api('POST', '/api/exclusions', { token: admin.token, body: { domain: 'family.example' } });
      expect(ex.status).toBe(201);
      await drain();
      expect(await state('uma@family.example')).toEqual({ is_matched: 0, body_text: null, snippet: null });
      expect(existsSync(blobAbsPath(deps.dataDir, sha(memo)))).toBe(false);
      expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });

      emu.control.resetStats();
      expect((await api('DELETE', `/api/exclusions/${ex.body.id}`, { token: admin.token })).status).toBe(204);
      await drain();
      expect(await state('uma@family.example')).toEqual({ is_matched: 1, body_text: 'family matters', snippet: 'family matters' });
      expect(readFileSync(blobAbsPath(deps.dataDir, sha(memo)))).toEqual(memo);
      const calls = emu.control.stats().mailboxes[PARTNER]!.calls;
      // The size is known from the capture: one raw fetch restores body and file together.
      expect(calls['messages.get']).toBe(1);
      expect(calls['messages.attachments.get'] ?? 0).toBe(0);
      expect(emu.control.stats().totals.violations).toBe(0);
    } finally {
      await world.close();
      deps = undefined as never;
    }
  });
});
