// The matching rules, through the whole capture: what a real sync links and
// what the threads API then lists for an investor or a contact.
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createExclusion } from '../../functions/createExclusion.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { enroll } from '../../functions/enroll.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { FakeClock } from '../helpers/clock.js';
import { all, run } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import { userWithToken } from '../helpers/users.js';

const A = 'ann@fund.test';
const B = 'ben@fund.test';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function world() {
  const gmail = new FakeGmail();
  deps = await makeDeps({ clock: new FakeClock(), env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test, fund-ops.test' }, gmail: () => gmail.factory() });
  deps.config.gmail.enabled = true;
  for (const e of [A, B]) await invoke(deps, enroll, { email: e, auth_method: 'dwd' });
  const acme = await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.test'], emails: ['ir+crm@acme-ir.test'] });
  // The directory now refuses free-mail domains; an older row may still hold one, and must not match.
  await run(deps.db, 'INSERT INTO investor_domains (investor_id, domain) VALUES (?, ?)', [acme.id, 'gmail.com']);
  const jane = await invoke(deps, createContact, { name: 'Jane', emails: ['Jane.Doe@gmail.com'], investor_id: acme.id });
  const karl = await invoke(deps, createContact, { name: 'Karl', emails: ['karl.smith@partner.test'], investor_id: acme.id });
  const api = apiClient(deps);
  const member = await userWithToken(deps, { role: 'member' });
  return { gmail, acme, jane, karl, api, member };
}

async function syncAllBoxes() {
  for (const email of [A, B]) {
    const begun = await beginAccountSync(deps, await getAccount(deps.db, { email }));
    expect((await begun.go!()).status).toBe('succeeded');
  }
}

const matched = async () =>
  (await all<{ subject: string }>(deps.db, 'SELECT subject FROM emails WHERE is_matched = 1 ORDER BY subject')).map((r) => r.subject);

describe('matching through a real capture', () => {
  it('exact addresses fold case, gmail dots, googlemail and +tags; dots count elsewhere; domains include subdomains', async () => {
    const { gmail, acme, jane, api, member } = await world();
    gmail.deliver(A, eml({ from: 'j.a.n.e.d.o.e+news@GoogleMail.com', to: [A], subject: 'jane folded' }));
    gmail.deliver(A, eml({ from: 'karl.smith+q3@Partner.test', to: [A], subject: 'karl tagged' }));
    gmail.deliver(A, eml({ from: 'karlsmith@partner.test', to: [A], subject: 'karl undotted elsewhere' }));
    gmail.deliver(A, eml({ from: 'IR@acme-ir.test', to: [A], subject: 'investor email folded' }));
    gmail.deliver(A, eml({ from: 'ops@mail.eu.acme.test', to: [A], subject: 'subdomain' }));
    gmail.deliver(A, eml({ from: 'x@notacme.test', to: [A], subject: 'lookalike' }));
    await syncAllBoxes();
    expect(await matched()).toEqual(['investor email folded', 'jane folded', 'karl tagged', 'subdomain']);
    const byJane = await api('GET', `/api/email/threads?contact_id=${jane.id}`, { token: member.token });
    expect(byJane.body.threads.map((t: { subject: string }) => t.subject)).toEqual(['jane folded']);
    const byAcme = await api('GET', `/api/email/threads?investor_id=${acme.id}`, { token: member.token });
    expect(byAcme.body.threads).toHaveLength(4);
  });

  it('free-mail domains and the firm’s own domains (every one in the list, and their subdomains) never match by domain', async () => {
    const { gmail } = await world();
    // Acme lists gmail.com as a domain: a stranger at gmail.com must still not match.
    gmail.deliver(A, eml({ from: 'stranger@gmail.com', to: [A], subject: 'free mail' }));
    gmail.deliver(A, eml({ from: 'stranger@googlemail.com', to: [A], subject: 'free mail too' }));
    gmail.deliver(A, eml({ from: B, to: [A], cc: ['ops@fund-ops.test', 'x@mail.fund.test'], subject: 'internal' }));
    await syncAllBoxes();
    expect(await matched()).toEqual([]);
  });

  it('matching is per email, over From, To, Cc, Bcc (the sender’s copy) and Reply-To', async () => {
    const { gmail } = await world();
    gmail.deliver(A, eml({ from: A, to: [B], bcc: ['Jane.Doe@gmail.com'], subject: 'bcc only', messageId: '<bcc@fund.test>' }));
    gmail.deliver(B, eml({ from: A, to: [B], subject: 'bcc only', messageId: '<bcc@fund.test>' }));
    gmail.deliver(A, eml({ from: B, to: [A], subject: 'reply-to' }).replace('MIME-Version: 1.0', 'Reply-To: Karl <karl.smith@partner.test>\r\nMIME-Version: 1.0'));
    gmail.deliver(A, eml({ from: B, to: [A], cc: ['someone@acme.test'], subject: 'cc domain' }));
    await syncAllBoxes();
    expect(await matched()).toEqual(['bcc only', 'cc domain', 'reply-to']);
    expect(await all(deps.db, 'SELECT count(*) AS n FROM emails')).toEqual([{ n: 3 }]);
  });

  it('a partners-only reply inside an investor thread is unmatched and metadata-only; the thread is still listed', async () => {
    const { gmail, acme, api, member } = await world();
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'Fund IV', messageId: '<root@acme.test>', date: 'Sat, 10 Jan 2026 10:00:00 +0000', body: 'investor body' }));
    gmail.deliver(A, eml({ from: A, to: [B], subject: 'Re: Fund IV', messageId: '<inner@fund.test>', inReplyTo: '<root@acme.test>', references: ['<root@acme.test>'], date: 'Sat, 10 Jan 2026 11:00:00 +0000', body: 'partners only body' }));
    await syncAllBoxes();
    const rows = await all<{ subject: string; is_matched: number; body_text: string | null; snippet: string | null; thread_id: number }>(deps.db, 'SELECT subject, is_matched, body_text, snippet, thread_id FROM emails ORDER BY sent_at, id');
    expect(rows.map((r) => [r.subject, r.is_matched])).toEqual([
      ['Fund IV', 1],
      ['Re: Fund IV', 0],
    ]);
    expect(rows[1]).toMatchObject({ body_text: null, snippet: null });
    expect(rows[0]!.thread_id).toBe(rows[1]!.thread_id);
    const list = await api('GET', `/api/email/threads?investor_id=${acme.id}`, { token: member.token });
    expect(list.body.threads).toEqual([expect.objectContaining({ id: rows[0]!.thread_id, message_count: 2 })]);
    const thread = await api('GET', `/api/email/threads/${rows[0]!.thread_id}`, { token: member.token });
    expect(thread.body.messages.map((m: { is_matched: boolean; body_text: string | null }) => [m.is_matched, m.body_text === null])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(JSON.stringify(thread.body)).not.toContain('partners only body');
  });

  it('exclusions: an excluded address never matches, not even by its domain; an excluded domain covers its subdomains and contacts at it', async () => {
    const { gmail } = await world();
    await invoke(deps, createExclusion, { address: 'Press+wire@ACME.test' });
    await invoke(deps, createExclusion, { domain: 'eu.acme.test' });
    await invoke(deps, createContact, { name: 'Euro', emails: ['ceo@eu.acme.test'] });
    gmail.deliver(A, eml({ from: 'press@acme.test', to: [A], subject: 'excluded address' }));
    gmail.deliver(A, eml({ from: 'ceo@eu.acme.test', to: [A], subject: 'excluded contact' }));
    gmail.deliver(A, eml({ from: 'x@deep.eu.acme.test', to: [A], subject: 'excluded subdomain' }));
    gmail.deliver(A, eml({ from: 'sales@acme.test', to: [A], subject: 'still acme' }));
    await syncAllBoxes();
    expect(await matched()).toEqual(['still acme']);
  });
});
