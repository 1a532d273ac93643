// Rejecting a held directory change: admin only, audited, and final. The change was never
// applied, so nothing of it exists afterwards, the withheld mail stays withheld (no body, no
// rematch), and neither an approval nor a second rejection can follow.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { all, run } from '../../lib/db/client.js';
import { drainRematchQueue } from '../../lib/matching/rematch.js';
import { apiClient } from '../helpers/api.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { userWithToken } from '../helpers/users.js';

const ORIGIN = 'http://console.test';
let deps: TestDeps;
let api: ReturnType<typeof apiClient>;
let admin: { id: number; username: string; token: string };
let member: { id: number; username: string; token: string };

beforeEach(async () => {
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test', CRM_REMATCH_REVIEW_THRESHOLD: '3' } });
  api = apiClient(deps);
  admin = await userWithToken(deps, { username: 'ada', role: 'admin', password: 'admin password 1' });
  member = await userWithToken(deps, { username: 'mel', role: 'member', password: 'member password 1' });
});
afterEach(async () => deps.cleanup());

/** `n` stored, withheld (metadata-only) emails from `from` to a partner. */
async function withheldMail(from: string, n: number): Promise<void> {
  const now = new Date(deps.clock.now()).toISOString();
  for (let i = 0; i < n; i++) {
    const r = await run(deps.db, "INSERT INTO emails (dedup_key, subject, from_address, sent_at, created_at, updated_at) VALUES (?, 'x', ?, ?, ?, ?)", [`mid:${from}-${i}`, from, now, now, now]);
    const id = Number(r.lastInsertRowid);
    await run(deps.db, "INSERT INTO email_participants (email_id, address, role) VALUES (?, ?, 'from'), (?, 'sam@fund.test', 'to')", [id, from, id]);
  }
}

async function heldContact(): Promise<number> {
  await withheldMail('lp@acme.test', 5);
  const held = await api('POST', '/api/contacts', { token: member.token, body: { name: 'LP', emails: ['lp@acme.test'] } });
  expect(held.status).toBe(202);
  return held.body.pending_review.id;
}

describe('POST /api/reviews/:id/reject', () => {
  it('an admin rejects: the review is rejected, audited, nothing is applied or exposed, and it can be neither approved nor rejected again', async () => {
    const id = await heldContact();
    expect((await api('POST', `/api/reviews/${id}/reject`, { token: member.token })).status).toBe(403);
    expect((await api('POST', `/api/reviews/${id}/reject`, { token: admin.token, raw: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);

    const out = await api('POST', `/api/reviews/${id}/reject`, { token: admin.token });
    expect(out.status).toBe(200);
    expect(out.body).toMatchObject({ id, status: 'rejected', action: 'createContact' });

    await drainRematchQueue(deps);
    expect(await all(deps.db, 'SELECT * FROM contacts')).toEqual([]);
    expect(await all(deps.db, 'SELECT * FROM email_rematch_queue')).toEqual([]);
    expect(await all(deps.db, 'SELECT id FROM emails WHERE is_matched = 1 OR body_text IS NOT NULL')).toEqual([]);

    const again = await api('POST', `/api/reviews/${id}/approve`, { token: admin.token });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('rejected');
    expect((await api('POST', `/api/reviews/${id}/reject`, { token: admin.token })).status).toBe(409);
    expect((await api('POST', '/api/reviews/999/reject', { token: admin.token })).status).toBe(404);

    expect((await api('GET', '/api/reviews', { token: admin.token })).body.reviews).toEqual([]);
    const rejected = (await api('GET', '/api/reviews?status=rejected', { token: admin.token })).body.reviews;
    expect(rejected).toEqual([expect.objectContaining({ id, status: 'rejected', decided_by: admin.id, decided_at: expect.any(String) })]);
    const audit = (await api('GET', '/api/audit', { token: admin.token })).body.entries;
    expect(audit.map((e: any) => e.action)).toEqual(['review.rejected', 'review.requested']);
    expect(audit[0]).toMatchObject({ user: { id: admin.id }, target: `review:${id}`, detail: { fn: 'createContact', newly_exposed: 5 } });
  });

  it('an approved review cannot be rejected', async () => {
    const id = await heldContact();
    expect((await api('POST', `/api/reviews/${id}/approve`, { token: admin.token })).status).toBe(200);
    const r = await api('POST', `/api/reviews/${id}/reject`, { token: admin.token });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('approved');
  });
});

describe('console: held changes on the Directory page', () => {
  it('lists the pending review with Approve and Reject; Reject takes the token and the console Origin, and the change never applies', async () => {
    const id = await heldContact();
    const app = createApp(deps);
    const login = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, host: 'console.test' },
      body: new URLSearchParams({ username: 'ada', password: 'admin password 1', next: '/directory' }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const page = await (await app.request(`${ORIGIN}/directory`, { headers: { cookie } })).text();
    expect(page).toContain(`action="/directory/reviews/${id}/approve"`);
    expect(page).toContain(`action="/directory/reviews/${id}/reject"`);
    expect(page).toContain(`Reject review ${id}`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = (form: Record<string, string>, origin = ORIGIN) =>
      app.request(`${ORIGIN}/directory/reviews/${id}/reject`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin },
        body: new URLSearchParams(form).toString(),
      });
    expect((await post({ _csrf: 'stale' })).status).toBe(403);
    expect((await post({ _csrf: csrf }, 'http://evil.example')).status).toBe(403);

    const done = await post({ _csrf: csrf });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/directory');
    expect(done.headers.getSetCookie().find((h) => h.startsWith('crm_flash='))).toMatch(/^crm_flash=rejected\./);
    expect(await all(deps.db, "SELECT status, decided_by FROM rematch_reviews")).toEqual([{ status: 'rejected', decided_by: admin.id }]);
    expect(await all(deps.db, 'SELECT * FROM contacts')).toEqual([]);
    const after = await (await app.request(`${ORIGIN}/directory`, { headers: { cookie } })).text();
    expect(after).not.toContain(`/directory/reviews/${id}/approve`);
    expect(after).toContain('No change is waiting.');
  });

  it('a member cannot reject from the console', async () => {
    const id = await heldContact();
    const app = createApp(deps);
    const login = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, host: 'console.test' },
      body: new URLSearchParams({ username: 'mel', password: 'member password 1', next: '/' }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await app.request(`${ORIGIN}/`, { headers: { cookie } })).text())![1]!;
    const r = await app.request(`${ORIGIN}/directory/reviews/${id}/reject`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: ORIGIN },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(r.status).toBe(403);
    expect(await all(deps.db, 'SELECT status FROM rematch_reviews')).toEqual([{ status: 'pending' }]);
  });
});
