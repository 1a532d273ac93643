// The rules of capture that show in the tables: drafts, chats and spam are never
// captured (history included), mail without a Message-ID is one row across mailboxes whatever
// per-copy headers each copy has, sent_at plausibility, and a body Gmail hands over as an
// attachmentId is still the body (and is never fetched for unmatched mail).
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { enroll } from '../../functions/enroll.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { FakeClock } from '../helpers/clock.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import { addAccount, emulatorWorld, rawMessage, WORKSPACE } from '../helpers/mail.js';

const A = 'ann@fund.test';
const B = 'ben@fund.test';

let deps: TestDeps | undefined;
afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
});

async function world() {
  const gmail = new FakeGmail();
  deps = await makeDeps({ clock: new FakeClock(), env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test' }, gmail: () => gmail.factory() });
  await addInvestor(deps, 'Acme', { domains: ['acme.test'] });
  for (const e of [A, B]) await invoke(deps, enroll, { email: e, auth_method: 'dwd' });
  return gmail;
}

async function sync(email: string) {
  const begun = await beginAccountSync(deps!, await getAccount(deps!.db, { email }));
  const r = await begun.go!();
  expect(r.status, JSON.stringify(r)).toBe('succeeded');
  return r;
}

const subjects = async () => (await all<{ subject: string }>(deps!.db, 'SELECT subject FROM emails ORDER BY subject')).map((r) => r.subject);

describe('what is never captured', () => {
  it('drafts, chats and spam arriving through history (incremental) are not captured; inbox mail is', async () => {
    const gmail = await world();
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'first' }));
    await sync(A);
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'draft' }), { labelIds: ['DRAFT'] });
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'chat' }), { labelIds: ['CHAT'] });
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'spam' }), { labelIds: ['SPAM'] });
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'second' }));
    await (deps!.clock as FakeClock).advance(60_000);
    const r = await sync(A);
    expect(r.kind).toBe('incremental');
    expect(await subjects()).toEqual(['first', 'second']);
  });
});

describe('nothing is lost', () => {
  it('mail arriving while a backfill runs is captured by the next (incremental) run, once', async () => {
    const gmail = await world();
    for (let i = 0; i < 3; i++) gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: `old ${i}` }));
    let delivered = false;
    gmail.fault = (_email, method) => {
      if (method === 'messages.get' && !delivered) {
        delivered = true;
        gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'during backfill' }));
      }
    };
    const first = await sync(A);
    expect(first.kind).toBe('backfill');
    gmail.fault = undefined;
    await (deps!.clock as FakeClock).advance(60_000);
    const second = await sync(A);
    expect(second.kind).toBe('incremental');
    expect(await subjects()).toEqual(['during backfill', 'old 0', 'old 1', 'old 2']);
    expect(await one(deps!.db, 'SELECT count(*) AS n FROM email_mailbox_messages')).toEqual({ n: 4 });
  });
});

describe('identity', () => {
  it('mail without a Message-ID is one row for every mailbox copy, whatever Delivered-To, Received and Bcc each copy carries', async () => {
    const gmail = await world();
    const base = eml({ from: 'lp@acme.test', to: [A, B], subject: 'no id', messageId: null, date: 'Tue, 14 Jan 2025 09:00:00 +0000' });
    gmail.deliver(A, `Delivered-To: ${A}\r\nReceived: from mx1.example by mx.fund.test; Tue, 14 Jan 2025 09:00:01 +0000\r\n${base}`);
    gmail.deliver(B, `Delivered-To: ${B}\r\nReceived: from mx2.example by mx.fund.test; Tue, 14 Jan 2025 09:00:05 +0000\r\n${base.replace('MIME-Version: 1.0', `Bcc: ${B}\r\nMIME-Version: 1.0`)}`);
    await sync(A);
    await sync(B);
    expect(await all(deps!.db, 'SELECT rfc822_message_id, subject FROM emails')).toEqual([{ rfc822_message_id: null, subject: 'no id' }]);
    expect(await one(deps!.db, 'SELECT count(*) AS n FROM email_mailbox_messages')).toEqual({ n: 2 });
  });

  it('sent_at is the Date header when plausible, else internalDate (before 1990, or more than a day after internalDate)', async () => {
    const gmail = await world();
    const internal = Date.parse('2025-06-01T12:00:00Z');
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'good', date: 'Sun, 01 Jun 2025 11:00:00 +0200' }), { internalDate: internal });
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'ancient', date: 'Mon, 01 Jan 1973 00:00:00 +0000' }), { internalDate: internal });
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'future', date: 'Wed, 04 Jun 2025 12:00:00 +0000' }), { internalDate: internal });
    gmail.deliver(A, eml({ from: 'lp@acme.test', to: [A], subject: 'garbage', date: 'next thursday-ish' }), { internalDate: internal });
    await sync(A);
    const rows = Object.fromEntries((await all<{ subject: string; sent_at: string }>(deps!.db, 'SELECT subject, sent_at FROM emails')).map((r) => [r.subject, r.sent_at]));
    expect(rows).toEqual({
      good: '2025-06-01T09:00:00.000Z',
      ancient: '2025-06-01T12:00:00.000Z',
      future: '2025-06-01T12:00:00.000Z',
      garbage: '2025-06-01T12:00:00.000Z',
    });
  });
});

describe('CRM_GMAIL_BACKFILL_SINCE (emulator, production client)', () => {
  it('a backfill goes no further back than the given date', async () => {
    const PARTNER = `partner@${WORKSPACE}`;
    const w = await emulatorWorld([PARTNER], { env: { CRM_GMAIL_BACKFILL_SINCE: '2025-01-10' } });
    deps = w.deps;
    try {
      await addAccount(deps, PARTNER);
      for (const [subject, day] of [['before', '2025-01-08'], ['on the day', '2025-01-10'], ['after', '2025-01-12']] as const) {
        const at = Date.parse(`${day}T12:00:00Z`);
        w.emu.control.deliver(rawMessage({ from: 'lp@acme.example', to: [PARTNER], subject, messageId: `${day}@acme.example`, date: new Date(at).toISOString(), text: 'x' }), { to: [PARTNER], internalDate: at });
      }
      const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: PARTNER }));
      const r = await w.run(begun.go!());
      expect(r.status, JSON.stringify(r)).toBe('succeeded');
      expect(await subjects()).toEqual(['after', 'on the day']);
    } finally {
      await w.close();
      deps = undefined;
    }
  });
});

describe('CRM_GMAIL_QUOTA_COSTS (emulator, production client)', () => {
  it('a run counts its quota units by the configured cost table (2026: messages.get 20)', async () => {
    const PARTNER = `partner@${WORKSPACE}`;
    const w = await emulatorWorld([PARTNER], { env: { CRM_GMAIL_QUOTA_COSTS: '2026' } });
    deps = w.deps;
    try {
      await addAccount(deps, PARTNER);
      for (let i = 0; i < 3; i++) {
        w.emu.control.deliver(rawMessage({ from: 'lp@elsewhere.example', to: [PARTNER], subject: `s${i}`, messageId: `q${i}@elsewhere.example`, date: '2025-01-10T10:00:00Z', text: 'x' }), { to: [PARTNER] });
      }
      const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: PARTNER }));
      const r = await w.run(begun.go!());
      expect(r.status, JSON.stringify(r)).toBe('succeeded');
      const calls = w.emu.control.stats().mailboxes[PARTNER]!.calls;
      expect(calls['messages.get']).toBe(3);
      const expected = (calls.getProfile ?? 0) * 1 + (calls['labels.list'] ?? 0) * 1 + (calls['history.list'] ?? 0) * 2 + (calls['messages.list'] ?? 0) * 5 + 3 * 20;
      expect(await one(deps.db, 'SELECT quota_units FROM email_sync_runs')).toEqual({ quota_units: expected });
    } finally {
      await w.close();
      deps = undefined;
    }
  });
});

describe('bodies Gmail hands over as an attachmentId (emulator, production client)', () => {
  it('matched mail gets that body; unmatched mail is never asked for it', async () => {
    const PARTNER = `partner@${WORKSPACE}`;
    const w = await emulatorWorld([PARTNER], { emulator: { bodyAsAttachmentOver: 64 } });
    deps = w.deps;
    try {
      const inv = await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] });
      await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: inv.id });
      await addAccount(deps, PARTNER);
      const long = (who: string) => `${who}: ${'a long paragraph of text '.repeat(20)}`;
      w.emu.control.deliver(rawMessage({ from: 'bob@acme.example', to: [PARTNER], subject: 'matched', messageId: 'm1@acme.example', date: '2025-01-10T10:00:00Z', text: long('investor'), html: `<p>${long('investor html')}</p>` }), { to: [PARTNER] });
      w.emu.control.deliver(rawMessage({ from: `colleague@${WORKSPACE}`, to: [PARTNER], subject: 'internal', messageId: `m2@${WORKSPACE}`, date: '2025-01-11T10:00:00Z', text: long('internal secret') }), { to: [PARTNER] });
      const begun = await beginAccountSync(deps, await getAccount(deps.db, { email: PARTNER }));
      const r = await w.run(begun.go!());
      expect(r.status, JSON.stringify(r)).toBe('succeeded');
      const rows = await all<{ subject: string; body_text: string | null; body_html: string | null }>(deps.db, 'SELECT subject, body_text, body_html FROM emails ORDER BY subject');
      expect(rows[1]!.subject).toBe('matched');
      expect(rows[1]!.body_text).toContain('investor: a long paragraph');
      expect(rows[1]!.body_html).toContain('investor html: a long paragraph');
      expect(rows[0]).toEqual({ subject: 'internal', body_text: null, body_html: null });
      // Two body parts of the matched message cost more as two attachments.get than as one raw
      // fetch of it; nothing more is asked for the internal one.
      const calls = w.emu.control.stats().mailboxes[PARTNER]!.calls;
      expect(calls['messages.attachments.get'] ?? 0).toBe(0);
      expect(calls['messages.get']).toBe(3);
      expect(deps.logs.text()).not.toContain('internal secret');
    } finally {
      await w.close();
      deps = undefined;
    }
  });
});
