// The mailbox lifecycle over HTTP: unenrol, purge (also of a mailbox unenrolled
// earlier), re-enrol, and the runs list's limit.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createInvestor } from '../../functions/createInvestor.js';
import { FakeClock } from '../helpers/clock.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';
import { expectError } from './shape.js';

const PARTNER = `partner@${WORKSPACE}`;
const ASSOCIATE = `associate@${WORKSPACE}`;

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function world() {
  const partner = new FakeMailbox(PARTNER);
  const associate = new FakeMailbox(ASSOCIATE);
  deps = await makeDeps({ clock: new FakeClock(), env: gmailEnv(), gmail: () => fakeGmail([partner, associate]) });
  const api = apiClient(deps);
  const admin = await userWithToken(deps, { role: 'admin' });
  await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] });
  const enroll = async (email: string) => (await api('POST', '/api/email/accounts/enroll', { token: admin.token, body: { email } })).body as { id: number };
  return { partner, associate, api, admin, enroll };
}

describe('DELETE /api/email/accounts/:id[?purge=true]', () => {
  it('a mailbox unenrolled without purge can be purged later: its copies, the mail nobody else holds and its files go', async () => {
    const { partner, associate, api, admin, enroll } = await world();
    const p = await enroll(PARTNER);
    await enroll(ASSOCIATE);
    const shared = { from: 'lp@acme.example', to: [PARTNER, ASSOCIATE], subject: 'shared', messageId: 'shared@acme.example', date: '2025-03-01T09:00:00Z', text: 'x' };
    partner.add(shared);
    associate.add(shared);
    partner.add({ ...shared, to: [PARTNER], subject: 'partner only', messageId: 'only@acme.example', files: [{ filename: 'a.pdf', content: Buffer.from('only file') }] });
    await syncMailbox(deps, PARTNER);
    await syncMailbox(deps, ASSOCIATE);
    const file = (await one<{ storage_path: string }>(deps.db, "SELECT storage_path FROM email_attachments WHERE state = 'saved'"))!.storage_path;

    expect((await api('DELETE', `/api/email/accounts/${p.id}`, { token: admin.token })).status).toBe(204);
    expect((await all(deps.db, 'SELECT subject FROM emails ORDER BY subject')).length).toBe(2);

    const purged = await api('DELETE', `/api/email/accounts/${p.id}?purge=true`, { token: admin.token });
    expect(purged.status).toBe(204);
    expect(await all(deps.db, 'SELECT subject FROM emails ORDER BY subject')).toEqual([{ subject: 'shared' }]);
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages WHERE account_id = ?', [p.id])).toEqual({ n: 0 });
    expect(existsSync(path.join(deps.config.dataDir, file))).toBe(false);
    // Gone for good now: a second purge has nothing to act on.
    expectError(await api('DELETE', `/api/email/accounts/${p.id}?purge=true`, { token: admin.token }), 404, 'NOT_FOUND');
  });

  it('unenrolled twice without purge: the second answers 404; enrolling again answers 201 and the mailbox is back', async () => {
    const { api, admin, enroll } = await world();
    const p = await enroll(PARTNER);
    expect((await api('DELETE', `/api/email/accounts/${p.id}`, { token: admin.token })).status).toBe(204);
    expectError(await api('DELETE', `/api/email/accounts/${p.id}`, { token: admin.token }), 404, 'NOT_FOUND');
    const again = await api('POST', '/api/email/accounts/enroll', { token: admin.token, body: { email: PARTNER } });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ email: PARTNER, sync_enabled: true });
    expect((await api('GET', '/api/email/accounts', { token: admin.token })).body.accounts.map((a: { email: string }) => a.email)).toEqual([PARTNER]);
  });
});

describe('GET /api/email/sync/runs?limit=', () => {
  it('a limit that is not a positive whole number is 400 VALIDATION naming limit', async () => {
    const { api, admin } = await world();
    for (const bad of ['0', '-1', 'abc', '1.5']) {
      const r = await api('GET', `/api/email/sync/runs?limit=${bad}`, { token: admin.token });
      expectError(r, 400, 'VALIDATION');
      expect(r.body.error.field, bad).toBe('limit');
    }
  });
});
