// The tables and columns a downstream reader may rely on, and what their values
// mean once real mail has been captured (types, formats, value sets, uniqueness).
import path from 'node:path';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { enroll } from '../../functions/enroll.js';
import { createExclusion } from '../../functions/createExclusion.js';
import { rematch } from '../../functions/rematch.js';
import { getAccount } from '../../lib/capture/accounts.js';
import { FakeClock } from '../helpers/clock.js';
import { all, one, run } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { beginAccountSync } from '../../lib/capture/syncRunner.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addInvestor } from '../helpers/directory.js';
import { FakeGmail, eml } from '../helpers/fakeGmail.js';
import { TIME } from './shape.js';

const PROMISED: Record<string, string[]> = {
  email_accounts: ['id', 'email', 'auth_method', 'sync_enabled', 'state', 'history_id', 'last_sync_at', 'last_error'],
  emails: ['id', 'rfc822_message_id', 'thread_id', 'subject', 'from_address', 'sent_at', 'is_matched', 'body_text', 'body_html', 'snippet', 'dedup_key'],
  email_mailbox_messages: ['account_id', 'gmail_message_id', 'gmail_thread_id', 'email_id', 'label_ids', 'deleted_at'],
  email_threads: ['id', 'subject', 'first_message_at', 'last_message_at', 'message_count'],
  email_participants: ['email_id', 'address', 'name', 'role'],
  email_attachments: ['id', 'email_id', 'filename', 'mime_type', 'size', 'sha256', 'state', 'storage_path'],
  email_investor_links: ['email_id', 'investor_id', 'contact_id', 'match_kind', 'confidence'],
  email_sync_runs: ['id', 'account_id', 'kind', 'status', 'messages_seen', 'messages_stored', 'attachments_saved', 'quota_units', 'error', 'started_at', 'finished_at'],
  investors: ['id', 'name'],
  investor_domains: ['investor_id', 'domain'],
  contacts: ['id', 'investor_id', 'name'],
  contact_emails: ['contact_id', 'email'],
  investor_emails: ['investor_id', 'email'],
  users: ['id', 'username', 'email', 'role'],
  exclusions: ['id', 'address', 'domain'],
};

const A = 'ann@fund.test';
const B = 'ben@fund.test';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

async function columns(table: string): Promise<Map<string, string>> {
  const rows = await all<{ name: string; type: string }>(deps.db, `SELECT name, type FROM pragma_table_info('${table}')`);
  return new Map(rows.map((r) => [r.name, r.type.toUpperCase()]));
}

/** True when some unique index (or the primary key) covers exactly these columns. */
async function uniqueOn(table: string, cols: string[]): Promise<boolean> {
  const indexes = await all<{ name: string; unique: number; origin: string }>(deps.db, `SELECT name, "unique", origin FROM pragma_index_list('${table}')`);
  for (const ix of indexes) {
    if (!ix.unique) continue;
    const got = (await all<{ name: string }>(deps.db, `SELECT name FROM pragma_index_info('${ix.name}') ORDER BY seqno`)).map((r) => r.name);
    if (got.length === cols.length && cols.every((c) => got.includes(c))) return true;
  }
  return false;
}

async function sync(email: string) {
  const begun = await beginAccountSync(deps, await getAccount(deps.db, { email }));
  const r = await begun.go!();
  expect(r.status, JSON.stringify(r)).toBe('succeeded');
  return r;
}

describe('the promised tables and columns exist', () => {
  it('every table and column promised to downstream readers', async () => {
    deps = await makeDeps();
    for (const [table, cols] of Object.entries(PROMISED)) {
      const have = await columns(table);
      expect(have.size, `table ${table}`).toBeGreaterThan(0);
      for (const c of cols) expect(have.has(c), `${table}.${c}`).toBe(true);
    }
  });

  it('history_id is TEXT; the dedup key is unique; a mailbox copy is unique on (account_id, gmail_message_id)', async () => {
    deps = await makeDeps();
    expect((await columns('email_accounts')).get('history_id')).toBe('TEXT');
    expect(await uniqueOn('emails', ['dedup_key'])).toBe(true);
    expect(await uniqueOn('email_mailbox_messages', ['account_id', 'gmail_message_id'])).toBe(true);
  });

  it('an exclusion holds exactly one of address and domain', async () => {
    deps = await makeDeps();
    const now = new Date().toISOString();
    await expect(run(deps.db, 'INSERT INTO exclusions (address, domain, created_at) VALUES (NULL, NULL, ?)', [now])).rejects.toThrow();
    await expect(run(deps.db, "INSERT INTO exclusions (address, domain, created_at) VALUES ('a@b.com', 'b.com', ?)", [now])).rejects.toThrow();
  });
});

describe('what the columns hold after a capture', () => {
  async function captured() {
    const gmail = new FakeGmail();
    deps = await makeDeps({ clock: new FakeClock(), env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test' }, gmail: () => gmail.factory() });
    const acme = await addInvestor(deps, 'Acme', { domains: ['acme.test'], emails: ['ir@acme.test'], contacts: [{ name: 'Alice', emails: ['alice@acme.test'] }] });
    for (const e of [A, B]) await invoke(deps, enroll, { email: e, auth_method: 'dwd' });
    const shared = eml({ from: 'Alice Smith <Alice@ACME.test>', to: [A, B], cc: ['IR Desk <IR@acme.test>'], subject: 'Fund IV', messageId: '<Mixed.Case-ID@Acme.TEST>', attachment: { filename: 'deck.pdf', content: 'deck bytes' } });
    const keep = gmail.deliver(A, shared, { labelIds: ['INBOX', 'IMPORTANT'] });
    gmail.deliver(B, shared);
    gmail.deliver(A, eml({ from: 'bob@acme.test', to: [A], subject: 'by domain', messageId: '<dom@acme.test>' }));
    gmail.deliver(A, eml({ from: B, to: [A], subject: 'internal, no id', messageId: null, body: 'internal body' }));
    await sync(A);
    await sync(B);
    return { gmail, acme, keep };
  }

  it('emails: one row per distinct message; rfc822_message_id without brackets, case kept, NULL when absent; sent_at ISO UTC; bodies only when matched', async () => {
    await captured();
    const rows = await all<{ subject: string; rfc822_message_id: string | null; dedup_key: string; sent_at: string; is_matched: number; body_text: string | null; body_html: string | null; snippet: string | null; from_address: string }>(
      deps.db,
      'SELECT subject, rfc822_message_id, dedup_key, sent_at, is_matched, body_text, body_html, snippet, from_address FROM emails ORDER BY id',
    );
    expect(rows.map((r) => r.subject).sort()).toEqual(['Fund IV', 'by domain', 'internal, no id']);
    const fund = rows.find((r) => r.subject === 'Fund IV')!;
    expect(fund.rfc822_message_id).toBe('Mixed.Case-ID@Acme.TEST');
    expect(fund.from_address).toBe('alice@acme.test');
    const noId = rows.find((r) => r.subject === 'internal, no id')!;
    expect(noId.rfc822_message_id).toBeNull();
    expect(noId.dedup_key).toBeTruthy();
    for (const r of rows) {
      expect(r.sent_at).toMatch(TIME);
      expect([0, 1]).toContain(r.is_matched);
      if (r.is_matched) expect(r.body_text ?? r.body_html).toBeTruthy();
      else expect([r.body_text, r.body_html, r.snippet]).toEqual([null, null, null]);
    }
    expect(noId.is_matched).toBe(0);
    expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(rows.length);
  });

  it('email_mailbox_messages: one copy per mailbox; label_ids a JSON array; a Gmail delete sets deleted_at and keeps the email', async () => {
    const { gmail, keep } = await captured();
    const copies = await all<{ account_id: number; gmail_message_id: string; gmail_thread_id: string; email_id: number; label_ids: string; deleted_at: string | null }>(
      deps.db,
      'SELECT account_id, gmail_message_id, gmail_thread_id, email_id, label_ids, deleted_at FROM email_mailbox_messages',
    );
    expect(copies).toHaveLength(4);
    for (const c of copies) {
      const labels = JSON.parse(c.label_ids);
      expect(Array.isArray(labels)).toBe(true);
      expect(labels.every((l: unknown) => typeof l === 'string')).toBe(true);
      expect(typeof c.gmail_thread_id).toBe('string');
      expect(c.deleted_at).toBeNull();
    }
    expect(JSON.parse(copies.find((c) => c.gmail_message_id === keep)!.label_ids).sort()).toEqual(['IMPORTANT', 'INBOX']);
    gmail.remove(A, keep);
    await (deps.clock as FakeClock).advance(60_000);
    await sync(A);
    const gone = await one<{ deleted_at: string | null; email_id: number }>(deps.db, 'SELECT deleted_at, email_id FROM email_mailbox_messages WHERE gmail_message_id = ?', [keep]);
    expect(gone!.deleted_at).toMatch(TIME);
    expect(await one(deps.db, 'SELECT is_matched FROM emails WHERE id = ?', [gone!.email_id])).toEqual({ is_matched: 1 });
  });

  it('email_accounts: history_id a decimal string, state idle after success, last_sync_at a time', async () => {
    await captured();
    const accs = await all<{ history_id: unknown; state: string; sync_enabled: number; last_sync_at: string; auth_method: string }>(deps.db, 'SELECT history_id, state, sync_enabled, last_sync_at, auth_method FROM email_accounts');
    for (const a of accs) {
      expect(typeof a.history_id).toBe('string');
      expect(a.history_id).toMatch(/^\d+$/);
      expect(a).toMatchObject({ state: 'idle', sync_enabled: 1, auth_method: 'dwd' });
      expect(a.last_sync_at).toMatch(TIME);
    }
    expect(await one(deps.db, "SELECT typeof(history_id) AS t FROM email_accounts LIMIT 1")).toEqual({ t: 'text' });
  });

  it('email_participants: roles from/to/cc, addresses in lower case, display names kept', async () => {
    await captured();
    const ps = await all<{ address: string; name: string | null; role: string }>(
      deps.db,
      "SELECT p.address, p.name, p.role FROM email_participants p JOIN emails e ON e.id = p.email_id WHERE e.subject = 'Fund IV' ORDER BY p.role, p.address",
    );
    expect(ps).toEqual([
      { address: 'ir@acme.test', name: 'IR Desk', role: 'cc' },
      { address: 'alice@acme.test', name: 'Alice Smith', role: 'from' },
      { address: A, name: expect.toSatisfy((n: unknown) => n === null || n === ''), role: 'to' },
      { address: B, name: expect.toSatisfy((n: unknown) => n === null || n === ''), role: 'to' },
    ]);
    const roles = await all<{ role: string }>(deps.db, 'SELECT DISTINCT role FROM email_participants');
    for (const r of roles) expect(['from', 'to', 'cc', 'bcc', 'reply_to']).toContain(r.role);
  });

  it('email_investor_links: confidence 1.0 contact_email, 0.9 investor_email, 0.5 domain', async () => {
    const { acme } = await captured();
    const links = await all<{ subject: string; investor_id: number; contact_id: number | null; match_kind: string; confidence: number }>(
      deps.db,
      'SELECT e.subject, l.investor_id, l.contact_id, l.match_kind, l.confidence FROM email_investor_links l JOIN emails e ON e.id = l.email_id ORDER BY e.subject, l.match_kind',
    );
    const alice = await one<{ id: number }>(deps.db, "SELECT contact_id AS id FROM contact_emails WHERE email = 'alice@acme.test'");
    expect(links).toEqual([
      { subject: 'Fund IV', investor_id: acme, contact_id: alice!.id, match_kind: 'contact_email', confidence: 1 },
      { subject: 'Fund IV', investor_id: acme, contact_id: null, match_kind: 'investor_email', confidence: 0.9 },
      { subject: 'by domain', investor_id: acme, contact_id: null, match_kind: 'domain', confidence: 0.5 },
    ]);
  });

  it('email_attachments: state saved, sha256 of the bytes, storage_path relative to CRM_DATA_DIR and the file there', async () => {
    await captured();
    const atts = await all<{ filename: string; mime_type: string; size: number; sha256: string; state: string; storage_path: string }>(deps.db, 'SELECT filename, mime_type, size, sha256, state, storage_path FROM email_attachments');
    expect(atts).toHaveLength(1);
    const a = atts[0]!;
    expect(a).toMatchObject({ filename: 'deck.pdf', mime_type: 'application/pdf', size: 10, state: 'saved' });
    const { createHash } = await import('node:crypto');
    expect(a.sha256).toBe(createHash('sha256').update('deck bytes').digest('hex'));
    expect(path.isAbsolute(a.storage_path)).toBe(false);
    expect(a.storage_path.split(/[\\/]/)).not.toContain('..');
    expect(existsSync(path.join(deps.config.dataDir, a.storage_path))).toBe(true);
  });

  it('email_threads: one conversation with its dates and count; email_sync_runs: kinds and statuses from the promised sets, rematch with account_id NULL', async () => {
    await captured();
    const threads = await all<{ subject: string; first_message_at: string; last_message_at: string; message_count: number }>(deps.db, 'SELECT subject, first_message_at, last_message_at, message_count FROM email_threads');
    expect(threads).toHaveLength(3);
    for (const t of threads) {
      expect(t.first_message_at).toMatch(TIME);
      expect(t.last_message_at).toMatch(TIME);
      expect(t.message_count).toBe(1);
    }
    await invoke(deps, createExclusion, { domain: 'acme.test' });
    const { run_id } = await invoke(deps, rematch, {});
    await deps.background.idle();
    const runs = await all<{ id: number; account_id: number | null; kind: string; status: string; started_at: string; finished_at: string }>(deps.db, 'SELECT id, account_id, kind, status, started_at, finished_at FROM email_sync_runs ORDER BY id');
    for (const r of runs) {
      expect(['backfill', 'incremental', 'rematch', 'attachments']).toContain(r.kind);
      expect(['running', 'succeeded', 'failed']).toContain(r.status);
      expect(r.started_at).toMatch(TIME);
      expect(r.finished_at).toMatch(TIME);
    }
    expect(runs.find((r) => r.id === run_id)).toMatchObject({ account_id: null, kind: 'rematch', status: 'succeeded' });
    // Excluding the domain unmatched everything: bodies and attachment rows went with it.
    expect(await one(deps.db, 'SELECT count(*) AS n FROM emails WHERE is_matched = 1 OR body_text IS NOT NULL OR snippet IS NOT NULL')).toEqual({ n: 0 });
    expect(await one(deps.db, 'SELECT count(*) AS n FROM email_attachments')).toEqual({ n: 0 });
  });
});
