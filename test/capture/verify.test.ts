// Self-verification: Gmail's ids against the stored copies, repair, and what status shows.
import { afterEach, describe, expect, it } from 'vitest';
import { status } from '../../functions/status.js';
import { verifyAll } from '../../functions/verifyAll.js';
import { verifyMailbox } from '../../functions/verifyMailbox.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import type { FakeClock } from '../helpers/clock.js';
import { invoke } from '../../lib/core/fn.js';
import { all, one } from '../../lib/db/client.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import { userWithToken } from '../helpers/users.js';

const A = 'ann@fund.test';
let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function setup() {
  const gmail = new FakeGmail();
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test', CRM_GMAIL_BACKFILL_PAGE_SIZE: '2' }, gmail: () => gmail.factory() });
  deps.config.gmail.enabled = true;
  await addInvestor(deps, 'Acme Capital', { domains: ['acme.test'], contacts: [{ name: 'Alice', emails: ['alice@acme.test'] }] });
  const now = new Date(deps.clock.now()).toISOString();
  await deps.db.execute({ sql: "INSERT INTO email_accounts (email, auth_method, created_at, updated_at) VALUES (?, 'dwd', ?, ?)", args: [A, now, now] });
  return gmail;
}

async function sync() {
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: A }));
  const r = await begun.go!();
  expect(r.status).toBe('succeeded');
}

describe('verifyMailbox', () => {
  it('finds mail Gmail holds and the store lacks, and copies gone from Gmail; fetches the one, marks the other deleted', async () => {
    const gmail = await setup();
    const kept = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'kept' }));
    const lost = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'deleted in a lost history window' }));
    const binned = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'moved to trash' }));
    await sync();
    // What history never told: a hard delete, a message that slipped past, a move to Trash.
    const box = gmail.mailbox(A);
    box.messages.get(lost)!.deleted = true;
    const slipped = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'never seen', body: 'the body' }));
    box.history.pop();
    box.messages.get(binned)!.labelIds.push('TRASH');

    const r = await invoke(deps, verifyMailbox, { id: (await getAccount(deps.db, { email: A })).id });
    expect(r).toMatchObject({ status: 'succeeded', missing: 1, gone: 1, repaired: 1 });
    const copies = await all<{ gmail_message_id: string; deleted_at: string | null }>(deps.db, 'SELECT gmail_message_id, deleted_at FROM email_mailbox_messages ORDER BY gmail_message_id');
    expect(copies.find((c) => c.gmail_message_id === lost)!.deleted_at).not.toBeNull();
    for (const id of [kept, binned, slipped]) expect(copies.find((c) => c.gmail_message_id === id)!.deleted_at).toBeNull();
    expect(await one(deps.db, "SELECT is_matched, body_text FROM emails WHERE subject = 'never seen'")).toMatchObject({ is_matched: 1 });
    expect(await one(deps.db, 'SELECT kind, status, missing, gone, repaired, messages_stored FROM email_sync_runs WHERE id = ?', [r.run_id])).toEqual({
      kind: 'verify',
      status: 'succeeded',
      missing: 1,
      gone: 1,
      repaired: 1,
      messages_stored: 1,
    });
    const st = await invoke(deps, status, {});
    expect(st.accounts[0]!.last_verify).toMatchObject({ missing: 1, gone: 1, repaired: 1 });
    expect(st.accounts[0]!.state).toBe('idle');

    await (deps.clock as FakeClock).advance(1000);
    const again = await invoke(deps, verifyMailbox, { id: (await getAccount(deps.db, { email: A })).id });
    expect(again).toMatchObject({ missing: 0, gone: 0, repaired: 0 });
    expect((await invoke(deps, status, {})).accounts[0]!.last_verify?.held_at).toBe(new Date(deps.clock.now()).toISOString());
  });

  it('a copy marked gone that Gmail holds again is restored by the next verification, once, and shows in the feed again', async () => {
    const gmail = await setup();
    const id = gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 'back again', body: 'the body' }));
    await sync();
    const box = gmail.mailbox(A);
    const account = (await getAccount(deps.db, { email: A })).id;
    box.messages.get(id)!.deleted = true;
    expect(await invoke(deps, verifyMailbox, { id: account })).toMatchObject({ gone: 1 });
    expect((await one<{ deleted_at: string | null }>(deps.db, 'SELECT deleted_at FROM email_mailbox_messages'))!.deleted_at).not.toBeNull();
    const tomb = await one<{ type: string }>(deps.db, "SELECT type FROM email_feed WHERE type LIKE 'email.%' ORDER BY seq DESC LIMIT 1");
    expect(tomb!.type).toBe('email.tombstone');

    // Gmail has it again (a wrong answer, or an undo): the copy is stored again, not fetched forever.
    box.messages.get(id)!.deleted = false;
    await (deps.clock as FakeClock).advance(1000);
    expect(await invoke(deps, verifyMailbox, { id: account })).toMatchObject({ missing: 1, gone: 0, repaired: 1 });
    expect(await all(deps.db, 'SELECT deleted_at FROM email_mailbox_messages')).toEqual([{ deleted_at: null }]);
    const back = await one<{ type: string }>(deps.db, "SELECT type FROM email_feed WHERE type LIKE 'email.%' ORDER BY seq DESC LIMIT 1");
    expect(back!.type).toBe('email.upsert');
    await (deps.clock as FakeClock).advance(1000);
    const gets = gmail.count('messages.get');
    expect(await invoke(deps, verifyMailbox, { id: account })).toMatchObject({ missing: 0, gone: 0, repaired: 0 });
    expect(gmail.count('messages.get')).toBe(gets);
  });

  it('costs list calls only when nothing differs (ids, no message fetched)', async () => {
    const gmail = await setup();
    for (let i = 0; i < 3; i++) gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: `s${i}` }));
    await sync();
    const gets = gmail.count('messages.get');
    await invoke(deps, verifyMailbox, { id: (await getAccount(deps.db, { email: A })).id });
    expect(gmail.count('messages.get')).toBe(gets);
  });

  it('refuses a mailbox whose first backfill has not finished, and one syncing now (409)', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 's' }));
    const id = (await getAccount(deps.db, { email: A })).id;
    await expect(invoke(deps, verifyMailbox, { id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await sync();
    const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: A }));
    await expect(invoke(deps, verifyMailbox, { id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await begun.go!();
  });

  it('POST /api/email/accounts/:id/verify answers 202 {run_id}; the run shows with kind verify; members are refused', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 's' }));
    await sync();
    const api = apiClient(deps);
    const admin = await userWithToken(deps, { role: 'admin', email: 'boss@fund.test' });
    const member = await userWithToken(deps, { role: 'member', email: 'bob@fund.test' });
    const id = (await getAccount(deps.db, { email: A })).id;
    expect((await api('POST', `/api/email/accounts/${id}/verify`, { token: member.token })).status).toBe(403);
    const r = await api('POST', `/api/email/accounts/${id}/verify`, { token: admin.token });
    expect(r.status).toBe(202);
    expect(typeof r.body.run_id).toBe('number');
    await deps.background.idle();
    const runs = await api('GET', '/api/email/sync/runs', { token: admin.token });
    // Its counts are on the run, in the ledger and in status's last runs alike.
    expect(runs.body.runs[0]).toMatchObject({ id: r.body.run_id, kind: 'verify', status: 'succeeded', missing: 0, gone: 0, repaired: 0 });
    expect(runs.body.runs.find((x: { kind: string }) => x.kind !== 'verify')).toMatchObject({ missing: null, gone: null });
    const status = await api('GET', '/api/email/status', { token: admin.token });
    expect(status.body.last_runs[0]).toMatchObject({ id: r.body.run_id, missing: 0, gone: 0 });
    expect((await api('POST', '/api/email/accounts/999/verify', { token: admin.token })).status).toBe(404);
  });

  it('verifyAll verifies each mailbox once a day', async () => {
    const gmail = await setup();
    gmail.deliver(A, eml({ from: 'alice@acme.test', to: [A], subject: 's' }));
    await sync();
    expect((await invoke(deps, verifyAll, {})).runs).toHaveLength(1);
    await (deps.clock as FakeClock).advance(3600_000);
    expect((await invoke(deps, verifyAll, {})).runs).toHaveLength(0);
    await (deps.clock as FakeClock).advance(23 * 3600_000);
    expect((await invoke(deps, verifyAll, {})).runs).toHaveLength(1);
  });
});
