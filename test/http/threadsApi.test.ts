import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { createApp } from '../../lib/http/app.js';
import { all, one, run } from '../../lib/db/client.js';
import { asciiFilename, contentDisposition, safeFilename } from '../../lib/mail/filename.js';
import { invoke } from '../../lib/core/fn.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, emailIdOf, FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';

const PARTNER = `partner@${WORKSPACE}`;
const COLLEAGUE = `colleague@${WORKSPACE}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let deps: TestDeps;
let box: FakeMailbox;
let api: ReturnType<typeof apiClient>;
let admin: Awaited<ReturnType<typeof userWithToken>>;
let member: Awaited<ReturnType<typeof userWithToken>>;
let acmeId: number;
let bobId: number;

async function setup(env: Record<string, string> = gmailEnv()) {
  box = new FakeMailbox(PARTNER);
  deps = await makeDeps({ env, gmail: () => fakeGmail([box]) });
  api = apiClient(deps);
  admin = await userWithToken(deps, { role: 'admin' });
  member = await userWithToken(deps, { role: 'member' });
  await addAccount(deps, PARTNER);
  acmeId = (await invoke(deps, createInvestor, { name: 'Acme Capital', domains: ['acme.example'] })).id;
  bobId = (await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: acmeId })).id;
}

afterEach(async () => {
  await deps?.cleanup();
});

/** Raw response (files are not JSON). */
async function fetchRaw(path: string, token: string) {
  return createApp(deps).request(path, { headers: { authorization: `Bearer ${token}` } });
}

describe('GET /api/email/threads', () => {
  it('lists an investor’s threads newest activity first, paged by an opaque cursor', async () => {
    await setup();
    // Five conversations; the oldest one gets the newest reply, so it ranks first.
    for (let i = 1; i <= 5; i++) {
      box.add({ from: 'bob@acme.example', to: [PARTNER], subject: `topic ${i}`, messageId: `t${i}@acme.example`, date: `2025-02-0${i}T09:00:00Z`, text: `hello ${i}` }, { threadId: `g${i}` });
    }
    box.add(
      { from: PARTNER, to: ['bob@acme.example'], subject: 'Re: topic 1', messageId: `r1@${WORKSPACE}`, inReplyTo: 't1@acme.example', date: '2025-02-20T09:00:00Z', text: 'reply' },
      { threadId: 'g1' },
    );
    await syncMailbox(deps, PARTNER);

    const seen: { subject: string; last_message_at: string; message_count: number }[] = [];
    let cursor: string | null = null;
    const pages: number[] = [];
    do {
      const q: string = `/api/email/threads?investor_id=${acmeId}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await api('GET', q, { token: member.token });
      expect(res.status).toBe(200);
      pages.push(res.body.threads.length);
      seen.push(...res.body.threads);
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(pages).toEqual([2, 2, 1]);
    expect(seen.map((t) => t.subject)).toEqual(['topic 1', 'topic 5', 'topic 4', 'topic 3', 'topic 2']);
    expect(seen[0]).toMatchObject({ first_message_at: '2025-02-01T09:00:00.000Z', last_message_at: '2025-02-20T09:00:00.000Z', message_count: 2 });
    expect(Object.keys(seen[0]!).sort()).toEqual(['first_message_at', 'id', 'last_message_at', 'message_count', 'subject']);

    const all50 = await api('GET', `/api/email/threads?investor_id=${acmeId}`, { token: member.token });
    expect(all50.body.threads).toHaveLength(5);
    expect(all50.body.next_cursor).toBeNull();
  });

  it('threads with equal last activity are ordered by id and none is skipped or repeated across pages', async () => {
    await setup();
    for (let i = 1; i <= 4; i++) {
      box.add({ from: 'bob@acme.example', to: [PARTNER], subject: `same ${i}`, messageId: `s${i}@acme.example`, date: '2025-02-01T09:00:00Z', text: 'x' }, { threadId: `s${i}` });
    }
    await syncMailbox(deps, PARTNER);
    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await api('GET', `/api/email/threads?investor_id=${acmeId}&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: member.token });
      ids.push(...res.body.threads.map((t: { id: number }) => t.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(ids).toHaveLength(4);
    expect([...ids]).toEqual([...ids].sort((a, b) => b - a));
  });

  it('filters by contact, and a thread of another investor or of internal mail is not listed', async () => {
    await setup();
    const other = await invoke(deps, createInvestor, { name: 'Other LP', domains: ['other.example'] });
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'from bob', messageId: 'b1@acme.example', date: '2025-02-01T09:00:00Z', text: 'b' });
    box.add({ from: 'ann@acme.example', to: [PARTNER], subject: 'from ann', messageId: 'a1@acme.example', date: '2025-02-02T09:00:00Z', text: 'a' });
    box.add({ from: 'zed@other.example', to: [PARTNER], subject: 'other', messageId: 'o1@other.example', date: '2025-02-03T09:00:00Z', text: 'o' });
    box.add({ from: COLLEAGUE, to: [PARTNER], subject: 'internal', messageId: `i1@${WORKSPACE}`, date: '2025-02-04T09:00:00Z', text: 'i' });
    await syncMailbox(deps, PARTNER);

    const byContact = await api('GET', `/api/email/threads?contact_id=${bobId}`, { token: member.token });
    expect(byContact.body.threads.map((t: { subject: string }) => t.subject)).toEqual(['from bob']);
    const byInvestor = await api('GET', `/api/email/threads?investor_id=${acmeId}`, { token: member.token });
    expect(byInvestor.body.threads.map((t: { subject: string }) => t.subject)).toEqual(['from ann', 'from bob']);
    const byOther = await api('GET', `/api/email/threads?investor_id=${other.id}`, { token: member.token });
    expect(byOther.body.threads.map((t: { subject: string }) => t.subject)).toEqual(['other']);
  });

  it('asks for exactly one filter, a limit up to 200 and a cursor it handed out', async () => {
    await setup();
    const bad = async (q: string) => (await api('GET', `/api/email/threads${q}`, { token: member.token }));
    for (const q of ['', `?investor_id=${acmeId}&contact_id=${bobId}`, `?investor_id=${acmeId}&limit=201`, `?investor_id=${acmeId}&limit=0`, '?investor_id=abc', `?investor_id=${acmeId}&cursor=not-a-cursor`]) {
      const res = await bad(q);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code, q).toBe('VALIDATION');
      expect(res.body.error.field, q).toBeTruthy();
    }
    expect((await bad(`?investor_id=${acmeId}&limit=200`)).status).toBe(200);
    expect((await bad('?investor_id=99999')).status).toBe(404);
  });
});

describe('GET /api/email/threads/:id', () => {
  it('shows the messages in sent order; the internal reply is metadata only', async () => {
    await setup();
    const deck = Buffer.from('%PDF deck');
    box.add(
      {
        from: 'Bob Jones <bob@acme.example>',
        to: [`Partner <${PARTNER}>`],
        cc: ['ann@acme.example'],
        subject: 'Fund II',
        messageId: 'root@acme.example',
        date: '2025-02-01T09:00:00Z',
        text: 'Interested in Fund II',
        html: '<p>Interested in Fund II</p>',
        files: [{ filename: 'deck.pdf', mimeType: 'application/pdf', content: deck }],
      },
      { threadId: 'gt' },
    );
    box.add({ from: PARTNER, to: [COLLEAGUE], subject: 'Re: Fund II', messageId: `int@${WORKSPACE}`, inReplyTo: 'root@acme.example', date: '2025-02-02T09:00:00Z', text: 'partners only' }, { threadId: 'gt' });
    await syncMailbox(deps, PARTNER);
    const threadId = (await one<{ thread_id: number }>(deps.db, "SELECT thread_id FROM emails WHERE rfc822_message_id = 'root@acme.example'"))!.thread_id;

    const res = await api('GET', `/api/email/threads/${threadId}`, { token: member.token });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(threadId);
    expect(res.body.subject).toBe('Fund II');
    const [root, internal] = res.body.messages;
    expect(root).toMatchObject({
      rfc822_message_id: 'root@acme.example',
      from: { address: 'bob@acme.example', name: 'Bob Jones' },
      to: [{ address: PARTNER, name: 'Partner' }],
      cc: [{ address: 'ann@acme.example', name: null }],
      subject: 'Fund II',
      sent_at: '2025-02-01T09:00:00.000Z',
      is_matched: true,
      body_text: 'Interested in Fund II',
      body_html: '<p>Interested in Fund II</p>',
    });
    expect(root.attachments).toEqual([{ id: expect.any(Number), filename: 'deck.pdf', mime_type: 'application/pdf', size: deck.length, sha256: sha(deck), state: 'saved' }]);
    expect(internal).toMatchObject({ rfc822_message_id: `int@${WORKSPACE}`, is_matched: false, body_text: null, body_html: null, attachments: [] });
  });

  it('a thread of unmatched mail, an unknown id and a thread merged away all answer 404', async () => {
    await setup();
    box.add({ from: COLLEAGUE, to: [PARTNER], subject: 'lunch?', messageId: `lunch@${WORKSPACE}`, date: '2025-02-01T09:00:00Z', text: 'x' });
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'a', messageId: 'a@acme.example', date: '2025-02-02T09:00:00Z', text: 'a' }, { threadId: 'ga' });
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'b', messageId: 'b@acme.example', date: '2025-02-03T09:00:00Z', text: 'b' }, { threadId: 'gb' });
    await syncMailbox(deps, PARTNER);
    const lunch = (await one<{ thread_id: number }>(deps.db, `SELECT thread_id FROM emails WHERE rfc822_message_id = 'lunch@${WORKSPACE}'`))!.thread_id;
    expect((await api('GET', `/api/email/threads/${lunch}`, { token: admin.token })).status).toBe(404);
    expect((await api('GET', '/api/email/threads/987654', { token: admin.token })).status).toBe(404);

    const ta = (await one<{ thread_id: number }>(deps.db, "SELECT thread_id FROM emails WHERE rfc822_message_id = 'a@acme.example'"))!.thread_id;
    const tb = (await one<{ thread_id: number }>(deps.db, "SELECT thread_id FROM emails WHERE rfc822_message_id = 'b@acme.example'"))!.thread_id;
    expect(ta).not.toBe(tb);
    // A message that refers to both proves they are one conversation.
    const joiner = box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'both', messageId: 'c@acme.example', inReplyTo: 'b@acme.example', date: '2025-02-04T09:00:00Z', text: 'c' }, { threadId: 'ga' });
    expect(joiner).toBeTruthy();
    await syncMailbox(deps, PARTNER);
    const survivor = Math.min(ta, tb);
    const gone = Math.max(ta, tb);
    expect((await api('GET', `/api/email/threads/${gone}`, { token: member.token })).status).toBe(404);
    const merged = await api('GET', `/api/email/threads/${survivor}`, { token: member.token });
    expect(merged.body.messages.map((m: { subject: string }) => m.subject)).toEqual(['a', 'b', 'both']);
  });
});

describe('GET /api/email/attachments/:id', () => {
  it('streams the saved file as a download that is never rendered', async () => {
    await setup();
    const html = Buffer.from('<script>alert(1)</script>');
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'page', messageId: 'page@acme.example', date: '2025-02-01T09:00:00Z', text: 'x', files: [{ filename: 'report.html', mimeType: 'text/html', content: html }] });
    await syncMailbox(deps, PARTNER);
    const att = (await one<{ id: number }>(deps.db, 'SELECT id FROM email_attachments'))!;

    const res = await fetchRaw(`/api/email/attachments/${att.id}`, member.token);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(html);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('content-length')).toBe(String(html.length));
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="report.html"; filename*=UTF-8''report.html`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe('sandbox');
  });

  it('hostile filenames get a safe Content-Disposition and the files live only under attachments/<sha256>', async () => {
    await setup();
    const long = 'Ω'.repeat(150) + 'ü'.repeat(150) + '.pdf';
    const names = ['../../etc/passwd', 'con.txt', long, 'bell\u0007\u0000tab\tnew\r\nline.txt', 'say "hi"; x=1.txt', '..\\..\\boot.ini', '\u202eexe.pdf'];
    const files = names.map((filename, i) => ({ filename, content: Buffer.from(`content ${i}`) }));
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'hostile', messageId: 'hostile@acme.example', date: '2025-02-01T09:00:00Z', text: 'x', files });
    await syncMailbox(deps, PARTNER);
    const rows = await all<{ id: number; filename: string; sha256: string; storage_path: string }>(deps.db, 'SELECT id, filename, sha256, storage_path FROM email_attachments ORDER BY id');
    expect(rows).toHaveLength(names.length);

    for (const [i, r] of rows.entries()) {
      expect(r.storage_path).toBe(`attachments/${r.sha256.slice(0, 2)}/${r.sha256}`);
      expect(r.sha256).toBe(sha(files[i]!.content));
      const res = await fetchRaw(`/api/email/attachments/${r.id}`, member.token);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(files[i]!.content);
      const cd = res.headers.get('content-disposition')!;
      const m = /^attachment; filename="((?:[^"\\]|\\.)*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$/.exec(cd);
      expect(m, cd).not.toBeNull();
      const ascii = m![1]!;
      const utf8 = decodeURIComponent(m![2]!);
      for (const name of [ascii, utf8]) {
        expect(name).not.toMatch(/[/\\\u0000-\u001f\u007f\u202e"]/);
        expect(name.startsWith('.')).toBe(false);
        expect(Array.from(name).length).toBeLessThanOrEqual(120);
        expect(name).not.toMatch(/^con(\.|$)/i);
      }
      expect(ascii).toMatch(/^[\x20-\x7e]+$/);
    }
  });

  it('is 404 for a file not downloaded, an unknown id, and a file of mail that is not matched', async () => {
    await setup({ ...gmailEnv({ CRM_GMAIL_MAX_ATTACHMENT_MB: '1' }) });
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'big', messageId: 'big@acme.example', date: '2025-02-01T09:00:00Z', text: 'x', files: [{ filename: 'big.bin', content: Buffer.alloc(2 * 1024 * 1024) }, { filename: 'ok.txt', content: Buffer.from('ok') }] });
    await syncMailbox(deps, PARTNER);
    const big = (await one<{ id: number }>(deps.db, "SELECT id FROM email_attachments WHERE state = 'too_large'"))!;
    const ok = (await one<{ id: number; email_id: number }>(deps.db, "SELECT id, email_id FROM email_attachments WHERE state = 'saved'"))!;
    expect((await api('GET', `/api/email/attachments/${big.id}`, { token: member.token })).status).toBe(404);
    expect((await api('GET', '/api/email/attachments/424242', { token: member.token })).status).toBe(404);
    expect((await fetchRaw(`/api/email/attachments/${ok.id}`, member.token)).status).toBe(200);
    await run(deps.db, 'UPDATE emails SET is_matched = 0 WHERE id = ?', [ok.email_id]);
    const hidden = await api('GET', `/api/email/attachments/${ok.id}`, { token: member.token });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('NOT_FOUND');
  });
});

describe('who may read and rematch', () => {
  it('members read threads and files but cannot start a rematch; admins can, and get 202 with the run', async () => {
    await setup();
    box.add({ from: 'bob@acme.example', to: [PARTNER], subject: 'hi', messageId: 'hi@acme.example', date: '2025-02-01T09:00:00Z', text: 'x', files: [{ filename: 'a.txt', content: Buffer.from('a') }] });
    await syncMailbox(deps, PARTNER);
    const emailId = await emailIdOf(deps, 'hi@acme.example');
    const threadId = (await one<{ thread_id: number }>(deps.db, 'SELECT thread_id FROM emails WHERE id = ?', [emailId]))!.thread_id;
    const attId = (await one<{ id: number }>(deps.db, 'SELECT id FROM email_attachments'))!.id;

    for (const token of [member.token, admin.token]) {
      expect((await api('GET', `/api/email/threads?investor_id=${acmeId}`, { token })).status).toBe(200);
      expect((await api('GET', `/api/email/threads/${threadId}`, { token })).status).toBe(200);
      expect((await fetchRaw(`/api/email/attachments/${attId}`, token)).status).toBe(200);
    }
    const refused = await api('POST', '/api/email/rematch', { token: member.token, body: {} });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    expect(await one(deps.db, "SELECT count(*) AS n FROM email_sync_runs WHERE kind = 'rematch'")).toEqual({ n: 0 });

    const started = await api('POST', '/api/email/rematch', { token: admin.token, body: {} });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ run_id: expect.any(Number) });
    // The run exists before the answer, then finishes in the background.
    await deps.background.idle();
    const runs = await api('GET', '/api/email/sync/runs', { token: admin.token });
    expect(runs.body.runs[0]).toMatchObject({ id: started.body.run_id, account: null, kind: 'rematch', status: 'succeeded', messages_seen: 1 });

    const badSince = await api('POST', '/api/email/rematch', { token: admin.token, body: { since: 'last tuesday' } });
    expect(badSince.status).toBe(400);
    expect(badSince.body.error.field).toBe('since');
  });

  it('no token is 401 before anything else, and with Gmail disabled the routes answer 503', async () => {
    await setup({});
    for (const p of ['/api/email/threads?investor_id=1', '/api/email/threads/1', '/api/email/attachments/1']) {
      expect((await api('GET', p)).status).toBe(401);
      const off = await api('GET', p, { token: member.token });
      expect(off.status).toBe(503);
      expect(off.body.error.code).toBe('DISABLED');
    }
    expect((await api('POST', '/api/email/rematch', { token: member.token, body: {} })).status).toBe(403);
    expect((await api('POST', '/api/email/rematch', { token: admin.token, body: {} })).status).toBe(503);
  });
});

describe('safe download names', () => {
  it.each([
    ['../../etc/passwd', '_.._etc_passwd'],
    ['con.txt', '_con.txt'],
    ['LPT1', '_LPT1'],
    ['a\u0000b\u0007c.txt', 'abc.txt'],
    ['...hidden', 'hidden'],
    ['', 'attachment'],
    ['report.pdf. . ', 'report.pdf'],
    ['C:\\Windows\\win.ini', 'C__Windows_win.ini'],
  ])('%j is offered as %j', (raw, safe) => {
    expect(safeFilename(raw)).toBe(safe);
  });

  it('a 300-character unicode name is cut on a character boundary, keeping its extension', () => {
    const name = safeFilename('👍🏽'.repeat(150) + '.docx');
    expect(name.endsWith('.docx')).toBe(true);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(240);
    expect(name).not.toMatch(/\ufffd/);
    expect(Array.from(name.slice(0, -5)).length % 2).toBe(0);
  });

  it('the ASCII fallback keeps what it can and escapes nothing dangerous', () => {
    expect(asciiFilename(safeFilename('Résumé – final.pdf'))).toBe('Resume _ final.pdf');
    expect(asciiFilename(safeFilename('日本語.pdf'))).toBe('attachment.pdf');
    expect(contentDisposition('naïve "quote".txt')).toBe(`attachment; filename="naive _quote_.txt"; filename*=UTF-8''na%C3%AFve%20_quote_.txt`);
  });
});
