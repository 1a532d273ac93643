import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { deleteContact } from '../../functions/deleteContact.js';
import { rematch } from '../../functions/rematch.js';
import { rematchQueued } from '../../functions/rematchQueued.js';
import { syncAll } from '../../functions/syncAll.js';
import { updateInvestor } from '../../functions/updateInvestor.js';
import { blobAbsPath } from '../../lib/capture/blobs.js';
import { all, one, run } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { affectedEmailIds } from '../../lib/matching/rematch.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, emailIdOf, FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE } from '../helpers/mail.js';

const PARTNER = `partner@${WORKSPACE}`;
const ASSOCIATE = `associate@${WORKSPACE}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let deps: TestDeps;
let box: FakeMailbox;
let box2: FakeMailbox;

async function setup(env: Record<string, string> = gmailEnv()) {
  box = new FakeMailbox(PARTNER);
  box2 = new FakeMailbox(ASSOCIATE);
  deps = await makeDeps({ env, gmail: () => fakeGmail([box, box2]) });
  await addAccount(deps, PARTNER);
}

afterEach(async () => {
  await deps?.cleanup();
});

async function emailState(messageId: string) {
  return one<{ is_matched: number; body_text: string | null; body_html: string | null; snippet: string | null }>(
    deps.db,
    'SELECT is_matched, body_text, body_html, snippet FROM emails WHERE rfc822_message_id = ?',
    [messageId],
  );
}

async function links(messageId: string) {
  return all<{ investor_id: number | null; contact_id: number | null; match_kind: string; address: string }>(
    deps.db,
    'SELECT l.investor_id, l.contact_id, l.match_kind, l.address FROM email_investor_links l JOIN emails e ON e.id = l.email_id WHERE e.rfc822_message_id = ? ORDER BY l.id',
    [messageId],
  );
}

async function fullRematch(input: Record<string, unknown> = {}) {
  const { run_id } = await invoke(deps, rematch, input);
  await deps.background.idle();
  return (await one<{ status: string; kind: string; account_id: number | null; messages_seen: number; messages_stored: number; attachments_saved: number; error: string | null }>(
    deps.db,
    'SELECT status, kind, account_id, messages_seen, messages_stored, attachments_saved, error FROM email_sync_runs WHERE id = ?',
    [run_id],
  ))!;
}

describe('rematch', () => {
  it('adding a contact brings the withheld body and attachments of their mail', async () => {
    await setup();
    const file = Buffer.from('%PDF subscription docs');
    const gmailId = box.add({
      from: 'Carol <carol@newlp.example>',
      to: [PARTNER],
      subject: 'Subscription',
      messageId: 'sub@newlp.example',
      date: '2025-03-01T10:00:00Z',
      text: 'Signed docs attached',
      html: '<b>Signed docs attached</b>',
      files: [{ filename: 'subscription.pdf', mimeType: 'application/pdf', content: file }],
    });
    await syncMailbox(deps, PARTNER);
    expect(await emailState('sub@newlp.example')).toEqual({ is_matched: 0, body_text: null, body_html: null, snippet: null });
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });
    expect(box.attachmentCalls).toEqual([]);

    const contact = await invoke(deps, createContact, { name: 'Carol', emails: ['carol@newlp.example'] });
    const r = await fullRematch();
    expect(r).toMatchObject({ status: 'succeeded', kind: 'rematch', account_id: null, messages_seen: 1, messages_stored: 1, attachments_saved: 1 });
    expect(await links('sub@newlp.example')).toEqual([{ investor_id: null, contact_id: contact.id, match_kind: 'contact_email', address: 'carol@newlp.example' }]);
    expect(await emailState('sub@newlp.example')).toEqual({ is_matched: 1, body_text: 'Signed docs attached', body_html: '<b>Signed docs attached</b>', snippet: 'Signed docs attached' });
    expect(await one(deps.db, 'SELECT filename, state, sha256 FROM email_attachments')).toEqual({ filename: 'subscription.pdf', state: 'saved', sha256: sha(file) });
    expect(readFileSync(blobAbsPath(deps.dataDir, sha(file)))).toEqual(file);
    // Fetched once by the sync, then once as raw: body and file together, no attachments.get.
    expect(box.getMessageCalls.filter((id) => id === gmailId)).toHaveLength(2);
    expect(box.attachmentCalls).toEqual([]);

    // Nothing left to change: a second run touches nothing and fetches nothing.
    const calls = box.getMessageCalls.length;
    const again = await fullRematch();
    expect(again).toMatchObject({ status: 'succeeded', messages_seen: 1, messages_stored: 0, attachments_saved: 0 });
    expect(box.getMessageCalls.length).toBe(calls);
  });

  it('deleting a contact removes the links and the bodies; a file another matched email holds stays', async () => {
    await setup();
    const shared = Buffer.from('shared deck');
    const own = Buffer.from('only in dave mail');
    box.add({ from: 'dave@lp.example', to: [PARTNER], subject: 'from dave', messageId: 'dave@lp.example', date: '2025-03-01T10:00:00Z', text: 'dave text', files: [{ filename: 'deck.pdf', content: shared }, { filename: 'own.txt', content: own }] });
    box.add({ from: 'erin@lp2.example', to: [PARTNER], subject: 'from erin', messageId: 'erin@lp2.example', date: '2025-03-02T10:00:00Z', text: 'erin text', files: [{ filename: 'deck.pdf', content: shared }] });
    const dave = await invoke(deps, createContact, { name: 'Dave', emails: ['dave@lp.example'] });
    const erin = await invoke(deps, createContact, { name: 'Erin', emails: ['erin@lp2.example'] });
    await syncMailbox(deps, PARTNER);
    expect(await one(deps.db, "SELECT count(*) AS n FROM email_attachments WHERE state = 'saved'")).toEqual({ n: 3 });
    await invoke(deps, rematchQueued, {}); // the creations' queue, nothing to change

    await invoke(deps, deleteContact, { id: dave.id });
    const drained = await invoke(deps, rematchQueued, {});
    expect(drained).toMatchObject({ status: 'succeeded', emails: 1 });
    expect(await links('dave@lp.example')).toEqual([]);
    expect(await emailState('dave@lp.example')).toEqual({ is_matched: 0, body_text: null, body_html: null, snippet: null });
    const daveId = await emailIdOf(deps, 'dave@lp.example');
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments WHERE email_id = ?', [daveId])).toEqual({ n: 0 });
    expect(existsSync(blobAbsPath(deps.dataDir, sha(own)))).toBe(false);
    expect(existsSync(blobAbsPath(deps.dataDir, sha(shared)))).toBe(true);
    const purged = deps.logs.lines.find((r) => r.event === 'rematch.purged');
    expect(purged).toMatchObject({ emails: 1, attachments: 2, files_deleted: 1, email_ids: [daveId] });

    await invoke(deps, deleteContact, { id: erin.id });
    await invoke(deps, rematchQueued, {});
    expect(existsSync(blobAbsPath(deps.dataDir, sha(shared)))).toBe(false);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });
  });

  it('a directory edit is rematched from the queue; an empty queue records no run', async () => {
    await setup();
    box.add({ from: 'frank@eu.acme.example', to: [PARTNER], subject: 'sub-domain', messageId: 'f@acme.example', date: '2025-03-01T10:00:00Z', text: 'f' });
    box.add({ from: 'JohnDoe+deals@GoogleMail.com', to: [PARTNER], subject: 'folded', messageId: 'j@gmail.example', date: '2025-03-02T10:00:00Z', text: 'j' });
    box.add({ from: 'nobody@elsewhere.example', to: [PARTNER], subject: 'unrelated', messageId: 'n@elsewhere.example', date: '2025-03-03T10:00:00Z', text: 'n' });
    await syncMailbox(deps, PARTNER);
    expect(await invoke(deps, rematchQueued, {})).toEqual({ run_id: null, queued: 0, emails: 0, status: 'idle', error: null });

    const acme = await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] });
    await invoke(deps, createContact, { name: 'John', emails: ['john.doe@gmail.com'], investor_id: acme.id });
    const ids = await affectedEmailIds(deps.db, { addresses: ['john.doe@gmail.com'], domains: ['acme.example'] });
    expect(ids).toEqual([await emailIdOf(deps, 'f@acme.example'), await emailIdOf(deps, 'j@gmail.example')].sort((a, b) => a - b));

    const r = await invoke(deps, rematchQueued, {});
    expect(r).toMatchObject({ status: 'succeeded', emails: 2, run_id: expect.any(Number) });
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_rematch_queue')).toEqual({ n: 0 });
    expect(await one(deps.db, 'SELECT kind, account_id, messages_seen FROM email_sync_runs WHERE id = ?', [r.run_id])).toEqual({ kind: 'rematch', account_id: null, messages_seen: 2 });
    expect(await links('f@acme.example')).toEqual([{ investor_id: acme.id, contact_id: null, match_kind: 'domain', address: 'frank@eu.acme.example' }]);
    expect((await links('j@gmail.example')).map((l) => l.match_kind)).toEqual(['contact_email']);
    expect((await emailState('j@gmail.example'))!.body_text).toBe('j');
    expect((await emailState('n@elsewhere.example'))!.is_matched).toBe(0);

    // Removing the domain withdraws the domain match.
    await invoke(deps, updateInvestor, { id: acme.id, domains: [] });
    await invoke(deps, rematchQueued, {});
    expect(await links('f@acme.example')).toEqual([]);
    expect(await emailState('f@acme.example')).toEqual({ is_matched: 0, body_text: null, body_html: null, snippet: null });
  });

  it('syncAll settles the queue after the mail is in', async () => {
    await setup();
    box.add({ from: 'gina@lp.example', to: [PARTNER], subject: 'g', messageId: 'g@lp.example', date: '2025-03-01T10:00:00Z', text: 'gina' });
    await syncMailbox(deps, PARTNER);
    await invoke(deps, createContact, { name: 'Gina', emails: ['gina@lp.example'] });
    const out = await invoke(deps, syncAll, {});
    expect(out).toMatchObject({ rematch: { status: 'succeeded', emails: 1 } });
    expect((await emailState('g@lp.example'))!.body_text).toBe('gina');
  });

  it('since limits the rematch to mail sent from that day', async () => {
    await setup();
    box.add({ from: 'h@lp.example', to: [PARTNER], subject: 'old', messageId: 'old@lp.example', date: '2024-01-01T10:00:00Z', text: 'old' });
    box.add({ from: 'h@lp.example', to: [PARTNER], subject: 'new', messageId: 'new@lp.example', date: '2025-06-01T10:00:00Z', text: 'new' });
    await syncMailbox(deps, PARTNER);
    await run(deps.db, 'DELETE FROM email_rematch_queue');
    await invoke(deps, createContact, { name: 'H', emails: ['h@lp.example'] });
    const r = await fullRematch({ since: '2025-01-01' });
    expect(r).toMatchObject({ status: 'succeeded', messages_seen: 1, messages_stored: 1 });
    expect((await emailState('new@lp.example'))!.is_matched).toBe(1);
    expect((await emailState('old@lp.example'))!.is_matched).toBe(0);
    // A partial rematch does not settle the queue; a full one does.
    expect((await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_rematch_queue'))!.n).toBeGreaterThan(0);
    await fullRematch();
    expect((await emailState('old@lp.example'))!.body_text).toBe('old');
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_rematch_queue')).toEqual({ n: 0 });
  });

  it('the body is fetched through another mailbox when the first no longer has the message', async () => {
    await setup();
    await addAccount(deps, ASSOCIATE);
    const spec = { from: 'ivy@lp.example', to: [PARTNER, ASSOCIATE], subject: 'both boxes', messageId: 'ivy@lp.example', date: '2025-03-01T10:00:00Z', text: 'ivy body', files: [{ filename: 'i.txt', content: Buffer.from('ivy file') }] };
    const inFirst = box.add(spec);
    box2.add(spec);
    await syncMailbox(deps, PARTNER);
    await syncMailbox(deps, ASSOCIATE);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM emails')).toEqual({ n: 1 });
    // Gmail lost the partner's copy without telling us (no history yet).
    box.messages.delete(inFirst);

    await invoke(deps, createContact, { name: 'Ivy', emails: ['ivy@lp.example'] });
    const r = await fullRematch();
    expect(r).toMatchObject({ status: 'succeeded', messages_stored: 1, attachments_saved: 1 });
    expect((await emailState('ivy@lp.example'))!.body_text).toBe('ivy body');
    // The file came inside the second mailbox's raw fetch.
    expect(box2.getMessageCalls).toHaveLength(2);
    expect(box2.attachmentCalls).toHaveLength(0);
    expect(box.attachmentCalls).toHaveLength(0);
  });

  it('with Gmail disabled, links are recomputed and bodies wait for a later rematch', async () => {
    await setup();
    box.add({ from: 'jay@lp.example', to: [PARTNER], subject: 'j', messageId: 'jay@lp.example', date: '2025-03-01T10:00:00Z', text: 'jay body' });
    await syncMailbox(deps, PARTNER);
    await invoke(deps, createContact, { name: 'Jay', emails: ['jay@lp.example'] });
    const off = { ...deps, config: { ...deps.config, gmail: { ...deps.config.gmail, enabled: false } } };
    const { run_id } = await invoke(off, rematch, {});
    await deps.background.idle();
    expect(await one(deps.db, 'SELECT status, messages_stored FROM email_sync_runs WHERE id = ?', [run_id])).toEqual({ status: 'succeeded', messages_stored: 0 });
    expect(await emailState('jay@lp.example')).toEqual({ is_matched: 1, body_text: null, body_html: null, snippet: null });
    expect(deps.logs.lines.some((r) => r.event === 'rematch.bodies_deferred')).toBe(true);

    await fullRematch();
    expect((await emailState('jay@lp.example'))!.body_text).toBe('jay body');
  });
});
