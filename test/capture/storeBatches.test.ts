// One page holding more matched mail than one statement's rows (store.ts writes bodies and
// attachment rows ROWS = 200 at a time): every email gets its own body, snippet and files,
// and unmatched mail on the same page stays metadata-only.
import { afterEach, expect, it } from 'vitest';
import { getAccount } from '../../lib/capture/accounts.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { enroll } from '../../functions/enroll.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';

const A = 'ann@fund.test';
let deps: TestDeps | undefined;
afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
});

it('a page of 450 matched messages, each with a file, stores every body and attachment row once', async () => {
  const gmail = new FakeGmail();
  // Message by message, so every file is a pending row written with the page.
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test', CRM_GMAIL_BACKFILL_PAGE_SIZE: '500', CRM_GMAIL_FETCH_STRATEGY: 'per-message' }, gmail: () => gmail.factory() });
  await addInvestor(deps, 'Acme Capital', { domains: ['acme.test'] });
  await invoke(deps, enroll, { email: A, auth_method: 'dwd' });
  const n = 450;
  for (let i = 0; i < n; i++) {
    gmail.deliver(A, eml({ from: `p${i}@acme.test`, to: [A], subject: `Update ${i}`, messageId: `<u${i}@acme.test>`, body: `Quarterly numbers ${i}.`, attachment: { filename: `q${i}.pdf`, content: `pdf ${i}` } }));
  }
  gmail.deliver(A, eml({ from: 'stranger@else.test', to: [A], subject: 'Not ours', messageId: '<x@else.test>', body: 'private' }));
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: A }), {});
  const summary = await begun.go!();
  expect(summary.status).toBe('succeeded');

  const rows = await all<{ rfc822_message_id: string; body_text: string | null; snippet: string | null; is_matched: number; files: number; filename: string | null }>(
    deps.db,
    `SELECT e.rfc822_message_id, e.body_text, e.snippet, e.is_matched,
            (SELECT count(*) FROM email_attachments a WHERE a.email_id = e.id) AS files,
            (SELECT a.filename FROM email_attachments a WHERE a.email_id = e.id) AS filename
       FROM emails e`,
  );
  expect(rows).toHaveLength(n + 1);
  for (const r of rows) {
    if (r.rfc822_message_id === 'x@else.test') {
      expect([r.is_matched, r.body_text, r.files]).toEqual([0, null, 0]);
      continue;
    }
    const i = Number(/^u(\d+)@/.exec(r.rfc822_message_id)![1]);
    expect(r.is_matched).toBe(1);
    expect(r.body_text?.trim()).toBe(`Quarterly numbers ${i}.`);
    expect(r.snippet).not.toBeNull();
    expect([r.files, r.filename]).toEqual([1, `q${i}.pdf`]);
  }
  // The search index and the feed saw the bodies the page wrote.
  expect((await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM email_search'))!.n).toBe(n);
  expect((await one<{ n: number }>(deps.db, "SELECT count(*) AS n FROM email_feed WHERE type = 'email.upsert'"))!.n).toBe(n);
});
