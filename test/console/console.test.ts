import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createContact } from '../../functions/createContact.js';
import { createFeedToken } from '../../functions/createFeedToken.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { invoke } from '../../lib/core/fn.js';
import { createApp } from '../../lib/http/app.js';
import { mailDocument, sanitiseMailHtml, splitQuoted } from '../../lib/console/mailBody.js';
import { safeNext } from '../../lib/console/session.js';
import { one } from '../../lib/db/client.js';
import { drainRematchQueue } from '../../lib/matching/rematch.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';
import { addAccount, FakeMailbox, fakeGmail, gmailEnv, syncMailbox, WORKSPACE } from '../helpers/mail.js';
import { userWithToken } from '../helpers/users.js';

const PARTNER = `partner@${WORKSPACE}`;
const ORIGIN = 'http://console.test';
let deps: TestDeps;
let app: ReturnType<typeof createApp>;

afterEach(async () => {
  await deps?.cleanup();
});

async function setup(env: Record<string, string> = {}) {
  const box = new FakeMailbox(PARTNER);
  deps = await makeDeps({ env: gmailEnv(env), gmail: () => fakeGmail([box]) });
  app = createApp(deps);
  await userWithToken(deps, { username: 'ada', role: 'admin', password: 'admin password 1' });
  await userWithToken(deps, { username: 'mel', role: 'member', password: 'member password 1' });
  await addAccount(deps, PARTNER);
  const acme = (await invoke(deps, createInvestor, { name: 'Acme', domains: ['acme.example'] })).id;
  await invoke(deps, createContact, { name: 'Bob', emails: ['bob@acme.example'], investor_id: acme });
  box.add({
    from: 'Bob <bob@acme.example>',
    to: [PARTNER],
    subject: 'Deck',
    messageId: 'deck@acme.example',
    date: '2025-03-01T10:00:00Z',
    text: 'See the deck.\n\nOn Mon, Mar 1, 2025 Ann wrote:\n> earlier words\n> more',
    html: '<p>See <b>the deck</b><img src="https://tracker.example/p.gif"><script>alert(1)</script></p>',
    files: [{ filename: 'deck.pdf', content: Buffer.from('%PDF deck') }],
  });
  await syncMailbox(deps, PARTNER);
  return { acme, box };
}

function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0]!;
}

async function signIn(username: string, password: string): Promise<{ cookie: string; res: Response }> {
  const res = await app.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, host: 'console.test' },
    body: new URLSearchParams({ username, password, next: '/search?q=x' }).toString(),
  });
  return { cookie: cookieOf(res), res };
}

/** The message code a redirect's one-shot flash cookie carries. */
function flashCode(res: Response): string | undefined {
  const c = res.headers.getSetCookie().find((h) => h.startsWith('crm_flash='));
  return c ? c.slice('crm_flash='.length).split(';')[0]!.split('.')[0] : undefined;
}

/** The flash cookie a redirect set, as a request's cookie pair. */
function flashPair(res: Response): string {
  return res.headers.getSetCookie().find((h) => h.startsWith('crm_flash='))!.split(';')[0]!;
}

const get = (path: string, cookie?: string) => app.request(`${ORIGIN}${path}`, { headers: cookie ? { cookie } : {} });

async function csrfOf(cookie: string): Promise<string> {
  const html = await (await get('/', cookie)).text();
  return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
}

function post(path: string, cookie: string, form: Record<string, string>, headers: Record<string, string> = { origin: ORIGIN }) {
  return app.request(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

describe('console sign-in and sessions', () => {
  it('a stranger is sent to sign in and back; the session cookie is HttpOnly and SameSite=Strict', async () => {
    await setup();
    const r = await get('/investors/1?cursor=');
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/login?next=%2Finvestors%2F1%3Fcursor%3D');
    const { res, cookie } = await signIn('ada', 'admin password 1');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/search?q=x');
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).not.toMatch(/Secure/i);
    const home = await get('/', cookie);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Acme');
  });

  it('GET / without a session is the sign-in page itself (200 HTML), and signing in there lands on the console', async () => {
    await setup();
    const r = await get('/?q=acme');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await r.text();
    expect(html).toContain('<h1>Sign in to crm-gmail</h1>');
    expect(html).toContain('<input type="hidden" name="next" value="/?q=acme"/>');
    expect(html).not.toContain('Acme</a>');
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const res = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, host: 'console.test' },
      body: new URLSearchParams({ username: 'mel', password: 'member password 1', next: '/?q=acme' }).toString(),
    });
    expect(res.headers.get('location')).toBe('/?q=acme');
    const home = await (await get('/?q=acme', cookieOf(res))).text();
    expect(home).toContain('Acme</a>');
  });

  it('the cookie is Secure when CRM_PUBLIC_URL is https, and only that origin may post', async () => {
    await setup({ CRM_PUBLIC_URL: 'https://crm.fund.example' });
    const bad = await signIn('ada', 'admin password 1');
    expect(bad.res.status).toBe(403);
    const res = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://crm.fund.example' },
      body: 'username=ada&password=admin+password+1',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/Secure/);
  });

  it('a wrong password shows the sign-in page again with 401; sign-out revokes the session', async () => {
    await setup();
    const wrong = await signIn('ada', 'nope');
    expect(wrong.res.status).toBe(401);
    expect(await wrong.res.text()).toContain('wrong username or password');
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    const out = await post('/logout', cookie, { _csrf: csrf });
    expect(out.status).toBe(303);
    const after = await get('/', cookie);
    expect(after.status).toBe(200);
    expect(await after.text()).toContain('<form method="post" action="/login"');
    expect((await get('/search', cookie)).status).toBe(303);
  });

  it('a feed token set as the session cookie never opens the console', async () => {
    await setup();
    const { token } = await invoke(deps, createFeedToken, { name: 'index' });
    const res = await get('/', `crm_session=${token}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<h1>Sign in to crm-gmail</h1>');
    const other = await get('/search', `crm_session=${token}`);
    expect(other.status).toBe(303);
    expect(other.headers.get('location')).toMatch(/^\/login/);
  });

  it('login through the console is throttled like the API', async () => {
    await setup();
    for (let i = 0; i < 10; i++) expect((await signIn('ada', `bad ${i}`)).res.status).toBe(401);
    const locked = await signIn('ada', 'admin password 1');
    expect(locked.res.status).toBe(429);
    expect(locked.res.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('a browser post with Origin: null is judged by Sec-Fetch-Site', async () => {
    await setup();
    const form = (site: string) =>
      app.request(`${ORIGIN}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'null', 'sec-fetch-site': site },
        body: 'username=ada&password=admin+password+1',
      });
    expect((await form('cross-site')).status).toBe(403);
    expect((await form('same-site')).status).toBe(403);
    expect((await form('same-origin')).status).toBe(303);
  });

  it('next= never leaves the console', () => {
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('/threads/3')).toBe('/threads/3');
    // Browsers drop tabs and newlines in a Location, so these would turn into `//evil.example`.
    for (const bad of ['/\t/evil.example/phish', '/\n/evil.example', '/\r/evil.example', '/\x00/evil.example', '/\x1f/evil.example', '/\x7f/x', '/a\\b', '/./\\evil.example', '/.//evil.example'])
      expect(safeNext(bad), JSON.stringify(bad)).toBe('/');
    expect(safeNext('/search?q=a%20b#r')).toBe('/search?q=a%20b#r');
  });

  it('a signed-in user sent to /login with a tab in next= stays on the console', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const r = await get('/login?next=%2F%09%2Fevil.example%2Fphish', cookie);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/');
    const res = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, host: 'console.test' },
      body: new URLSearchParams({ username: 'mel', password: 'member password 1', next: '/\t/evil.example/phish' }).toString(),
    });
    expect(res.headers.get('location')).toBe('/');
  });
});

describe('console forms', () => {
  it('a post without the CSRF token, with a wrong one, or from another origin is refused with 403', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    expect((await post(`/investors/${acme}/edit`, cookie, { name: 'Evil' })).status).toBe(403);
    expect((await post(`/investors/${acme}/edit`, cookie, { name: 'Evil', _csrf: csrf.slice(1) })).status).toBe(403);
    expect((await post(`/investors/${acme}/edit`, cookie, { name: 'Evil', _csrf: csrf }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await post(`/investors/${acme}/edit`, cookie, { name: 'Evil', _csrf: csrf }, {})).status).toBe(403);
    expect((await one<{ name: string }>(deps.db, 'SELECT name FROM investors WHERE id = ?', [acme]))!.name).toBe('Acme');
    const ok = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme Capital', domains: 'acme.example\nacme.test', emails: '', _csrf: csrf });
    expect(ok.status).toBe(303);
    expect((await one<{ name: string }>(deps.db, 'SELECT name FROM investors WHERE id = ?', [acme]))!.name).toBe('Acme Capital');
  });

  it('a refused edit answers the reason itself (400), not through a link', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const res = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'https://acme.example', _csrf: csrf });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/role="alert"[^>]*>[^<]*is a URL; give the domain alone/);
  });

  it('a refused edit shows the investor page again with what was typed, the reason beside the field, in the form’s words', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const res = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme Renamed', domains: 'acme.example\n\nnew.example, https://bad.example', emails: 'a@acme.example', _csrf: csrf });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('<h1>Acme</h1>');
    expect(html).toMatch(/<p class="banner err" role="alert" id="edit-err">Not saved: Domains, line 3: &quot;https:\/\/bad.example&quot; is a URL; give the domain alone/);
    expect(html).toContain('<input name="name" value="Acme Renamed"');
    expect(html).toContain('<textarea name="domains" rows="3" aria-invalid="true" aria-describedby="edit-err">acme.example\n\nnew.example, https://bad.example</textarea>');
    expect(html).toContain('<textarea name="emails" rows="3">a@acme.example</textarea>');
    expect((await one<{ name: string }>(deps.db, 'SELECT name FROM investors WHERE id = ?', [acme]))!.name).toBe('Acme');
  });

  it('a refused contact form keeps what was typed in that form, with the reason beside it', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const bob = (await one<{ id: number }>(deps.db, "SELECT id FROM contacts WHERE name = 'Bob'"))!.id;
    const add = await post(`/investors/${acme}/contacts`, cookie, { name: 'Cleo', emails: 'cleo@acme.example, not-an-address', _csrf: csrf });
    expect(add.status).toBe(400);
    const html = await add.text();
    expect(html).toMatch(/<p class="banner err" role="alert" id="contact-new-err">Not saved: Addresses, address 2: [^<]*not-an-address/);
    expect(html).toContain('<input name="emails" size="28" value="cleo@acme.example, not-an-address" aria-invalid="true" aria-describedby="contact-new-err"/>');
    expect(html).toContain('value="Cleo"');
    expect(await one(deps.db, "SELECT id FROM contacts WHERE name = 'Cleo'")).toBeUndefined();
    const save = await post(`/investors/${acme}/contacts/${bob}`, cookie, { action: 'save', name: 'Bobby', emails: 'https://bob.example', _csrf: csrf });
    expect(save.status).toBe(400);
    const saved = await save.text();
    expect(saved).toContain(`id="contact-${bob}-err">Not saved: Addresses, address 1:`);
    expect(saved).toContain('value="Bobby"');
    expect(saved).toContain(`value="https://bob.example" size="28" aria-invalid="true" aria-describedby="contact-${bob}-err"`);
    expect(saved).not.toContain('id="contact-new-err"');
  });

  it('banners come only from known message codes: a link cannot put its own words in the console', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const spoof = 'Security notice: re-enter your Google password at https://evil.example/login';
    const banners = async (path: string, c?: string) => [...(await (await get(path, c)).text()).matchAll(/<p class="banner (ok|err)"[^>]*>([^<]*)<\/p>/g)].map((m) => `${m[1]}:${m[2]}`);
    for (const p of [`/?ok=${encodeURIComponent(spoof)}`, `/?err=${encodeURIComponent(spoof)}`, `/?msg=${encodeURIComponent(spoof)}`, '/?msg=toString', '/?msg=__proto__', `/investors/${acme}?ok=x`, `/going-cold?err=x`])
      expect(await banners(p, cookie), p).toEqual([]);
    expect(await banners(`/login?err=${encodeURIComponent(spoof)}`)).toEqual([]);
    const ok = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'acme.example', emails: '', _csrf: csrf });
    expect(ok.headers.get('location')).toBe(`/investors/${acme}`);
    expect(flashCode(ok)).toBe('saved');
    expect(await banners(ok.headers.get('location')!, `${cookie}; ${flashPair(ok)}`)).toEqual(['ok:Saved.']);
  });

  it('a banner is one-shot: a short-lived HttpOnly, SameSite=Strict cookie, cleared by the page that shows it', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const page = async (path: string, c: string) => {
      const res = await get(path, c);
      const html = await res.text();
      return { res, banners: [...html.matchAll(/<p class="banner (ok|err)"[^>]*>([^<]*)<\/p>/g)].map((m) => `${m[1]}:${m[2]}`) };
    };
    const ok = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'acme.example', emails: '', _csrf: csrf });
    expect(ok.status).toBe(303);
    // The address bar gets the page alone: nothing to reappear on reload or to pass on in a link.
    expect(ok.headers.get('location')).toBe(`/investors/${acme}`);
    const set = ok.headers.getSetCookie().find((h) => h.startsWith('crm_flash='))!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).toMatch(/Max-Age=60\b/);
    const flash = flashPair(ok);
    const shown = await page(`/investors/${acme}`, `${cookie}; ${flash}`);
    expect(shown.banners).toEqual(['ok:Saved.']);
    // Shown once, then cleared: the reload (which no longer sends it) shows nothing.
    expect(shown.res.headers.getSetCookie().find((h) => h.startsWith('crm_flash='))).toMatch(/Max-Age=0/);
    expect((await page(`/investors/${acme}`, cookie)).banners).toEqual([]);
    // Only on the page it was set for, only in the session that set it, only with a code this
    // console knows and signed.
    expect((await page('/', `${cookie}; ${flash}`)).banners).toEqual([]);
    const other = (await signIn('ada', 'admin password 1')).cookie;
    expect((await page(`/investors/${acme}`, `${other}; ${flash}`)).banners).toEqual([]);
    const [, target, sig] = flash.split('=')[1]!.split('.');
    for (const forged of [`held.${target}.${sig}`, `bogus.${target}.${sig}`, `toString.${target}.${sig}`, `saved.${target}.x`, 'saved'])
      expect((await page(`/investors/${acme}`, `${cookie}; crm_flash=${forged}`)).banners, forged).toEqual([]);
  });

  it('any signed-in user creates an investor; refusals name the field in the form’s words and keep what was typed', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    expect(await (await get('/', cookie)).text()).toContain('<a href="/investors/new">');
    const form = await get('/investors/new', cookie);
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('<form method="post" action="/investors" class="col">');
    const refusals: [string, string, string, RegExp][] = [
      ['domains', `beta.example\n${WORKSPACE}`, 'Domains, line 2', /is in the firm&#39;s own workspace/],
      ['domains', 'beta.example, gmail.com', 'Domains, line 1', /gmail\.com is a free-mail provider/],
      ['domains', 'co.uk', 'Domains, line 1', /co\.uk is a public suffix/],
      ['emails', `ir@beta-lp.example\nann@${WORKSPACE}`, 'Addresses, line 2', /is in the firm&#39;s own workspace/],
    ];
    for (const [f, typed, where, why] of refusals) {
      const r = await post('/investors', cookie, { name: 'Beta Partners', domains: f === 'domains' ? typed : '', emails: f === 'emails' ? typed : '', _csrf: csrf });
      expect(r.status, typed).toBe(400);
      const html = await r.text();
      expect(html).toContain(`<p class="banner err" role="alert" id="new-err">Not created: ${where}: `);
      expect(html).toMatch(why);
      expect(html).toContain('<input name="name" value="Beta Partners"');
      expect(html).toContain(`<textarea name="${f}" rows="3" aria-invalid="true" aria-describedby="new-err">${typed}</textarea>`);
    }
    expect(await one(deps.db, "SELECT id FROM investors WHERE name = 'Beta Partners'")).toBeUndefined();
    const dup = await post('/investors', cookie, { name: 'Acme', domains: '', emails: '', _csrf: csrf });
    expect(dup.status).toBe(400);
    expect(await dup.text()).toMatch(/id="new-err">Not created: Name: [^<]*already exists/);
    const ok = await post('/investors', cookie, { name: 'Beta Partners', domains: 'beta.example', emails: 'ir@beta-lp.example', _csrf: csrf });
    expect(ok.status).toBe(303);
    const beta = (await one<{ id: number }>(deps.db, "SELECT id FROM investors WHERE name = 'Beta Partners'"))!.id;
    expect(ok.headers.get('location')).toBe(`/investors/${beta}`);
    expect(flashCode(ok)).toBe('investor-created');
    const page = await (await get(`/investors/${beta}`, `${cookie}; ${flashPair(ok)}`)).text();
    expect(page).toContain('Investor created');
    expect(page).toContain('<textarea name="domains" rows="3">beta.example</textarea>');
  });

  it('a member’s change held for review says it is waiting for an admin’s approval, not an error', async () => {
    const { acme, box } = await setup({ CRM_REMATCH_REVIEW_THRESHOLD: '0' });
    box.add({ from: 'LP <lp@beta.example>', to: [PARTNER], subject: 'Allocation', messageId: 'alloc@beta.example', date: '2025-03-02T10:00:00Z', text: 'Our allocation.' });
    await syncMailbox(deps, PARTNER);
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const banner = async (path: string, res: Response) => /<p class="banner ok" role="status">([^<]*)<\/p>/.exec(await (await get(path, `${cookie}; ${flashPair(res)}`)).text())?.[1];

    const created = await post('/investors', cookie, { name: 'Beta', domains: 'beta.example', emails: '', _csrf: csrf });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/');
    expect(await banner('/', created)).toMatch(/^Not created yet: this investor is waiting for an admin’s approval/);
    expect(await one(deps.db, "SELECT id FROM investors WHERE name = 'Beta'")).toBeUndefined();

    const edited = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'acme.example\nbeta.example', emails: '', _csrf: csrf });
    expect(edited.status).toBe(303);
    expect(edited.headers.get('location')).toBe(`/investors/${acme}`);
    expect(await banner(`/investors/${acme}`, edited)).toMatch(/^Not applied yet: this change is waiting for an admin’s approval/);
    expect(await one(deps.db, "SELECT domain FROM investor_domains WHERE domain = 'beta.example'")).toBeUndefined();
    expect((await one<{ n: number }>(deps.db, "SELECT count(*) AS n FROM rematch_reviews WHERE status = 'pending'"))!.n).toBe(2);
  });

  it('destructive actions answer a confirmation that says what mail would be withheld; only the confirmed post acts', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    const bob = (await one<{ id: number }>(deps.db, "SELECT id FROM contacts WHERE name = 'Bob'"))!.id;
    const matched = async () => Number((await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM emails WHERE is_matched = 1'))!.n);
    const text = (html: string) => html.replace(/<[^>]+>/g, '');
    expect(await matched()).toBe(1);

    // A contact: its one email still matches through the investor's domain, and the page says so.
    const investorPage = await (await get(`/investors/${acme}`, cookie)).text();
    expect(investorPage).toContain(`href="/investors/${acme}/contacts/${bob}/delete"`);
    expect(investorPage).not.toMatch(/name="action" value="delete"/);
    const ask = await get(`/investors/${acme}/contacts/${bob}/delete`, cookie);
    expect(ask.status).toBe(200);
    const askHtml = await ask.text();
    expect(text(askHtml)).toContain('No captured email would be withheld: the one email matched through this contact still matches otherwise');
    expect(askHtml).toContain(`<form method="post" action="/investors/${acme}/contacts/${bob}"`);
    expect(askHtml).toMatch(/name="_csrf" value="[^"]+"/);
    expect(askHtml).toContain('<input type="hidden" name="confirm" value="yes"/>');
    expect(askHtml).not.toMatch(/<script(?![^>]*\bsrc="\/static\/console\.js")/);
    // The old one-click post (no confirm field) answers the confirmation, not the deletion.
    const unconfirmed = await post(`/investors/${acme}/contacts/${bob}`, cookie, { action: 'delete', _csrf: csrf });
    expect(unconfirmed.status).toBe(200);
    expect(await unconfirmed.text()).toContain('Delete contact Bob?');
    expect(await one(deps.db, 'SELECT id FROM contacts WHERE id = ?', [bob])).toBeDefined();

    // An exclusion: the Exclude form asks first, with the count of emails and files it would take.
    const dir = await (await get('/directory', cookie)).text();
    expect(dir).toContain('<form method="get" action="/directory/exclusions/new"');
    const ex = await get('/directory/exclusions/new?value=bob%40acme.example', cookie);
    expect(ex.status).toBe(200);
    expect(text(await ex.text())).toContain('1 email would be withheld: its body is deleted and 1 saved file is deleted from disk.');
    expect(text(await (await get('/directory/exclusions/new?value=gmail.com', cookie)).text())).toContain('gmail.com is a free-mail domain');
    expect((await get('/directory/exclusions/new?value=https%3A%2F%2Fx.example', cookie)).status).toBe(400);
    const exPost = await post('/directory/exclusions', cookie, { value: 'bob@acme.example', _csrf: csrf });
    expect(exPost.status).toBe(200);
    expect(await one(deps.db, 'SELECT id FROM exclusions')).toBeUndefined();
    expect(await matched()).toBe(1);
    const done = await post('/directory/exclusions', cookie, { value: 'bob@acme.example', confirm: 'yes', _csrf: csrf });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/directory');
    expect(flashCode(done)).toBe('excluded');
    expect(await matched()).toBe(0);

    // An investor: confirmation (GET and unconfirmed post) first, then the deletion.
    const inv = await get(`/investors/${acme}/delete`, cookie);
    expect(inv.status).toBe(200);
    expect(text(await inv.text())).toContain('Its one contact stays, without an investor.');
    expect((await post(`/investors/${acme}/delete`, cookie, { _csrf: csrf })).status).toBe(200);
    expect(await one(deps.db, 'SELECT id FROM investors WHERE id = ?', [acme])).toBeDefined();
    const gone = await post(`/investors/${acme}/delete`, cookie, { _csrf: csrf, confirm: 'yes' });
    expect(gone.headers.get('location')).toBe('/');
    expect(flashCode(gone)).toBe('investor-deleted');
    expect(await one(deps.db, 'SELECT id FROM investors WHERE id = ?', [acme])).toBeUndefined();

    // A mailbox: a post without the confirm field answers the unenrol page and keeps the mailbox.
    const acc = (await one<{ id: number }>(deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [PARTNER]))!.id;
    const un = await post(`/mailboxes/${acc}/unenroll`, cookie, { purge: 'true', _csrf: csrf });
    expect(un.status).toBe(200);
    expect(await un.text()).toContain('Purge: delete this mailbox’s');
    expect(await one(deps.db, 'SELECT id FROM email_accounts WHERE id = ?', [acc])).toBeDefined();
    const unDone = await post(`/mailboxes/${acc}/unenroll`, cookie, { purge: 'false', confirm: 'yes', _csrf: csrf });
    expect(unDone.headers.get('location')).toBe('/mailboxes');
    expect(flashCode(unDone)).toBe('unenrolled-kept');
  });

  it('saving an investor with a domain removed asks first, counting the mail only it matched; only the confirmed save withholds it', async () => {
    const { acme, box } = await setup();
    box.add({ from: 'Carol <carol@acme.example>', to: [PARTNER], subject: 'Carol alone', messageId: 'carol@acme.example', date: '2025-05-01T10:00:00Z', text: 'Hello.' });
    await syncMailbox(deps, PARTNER);
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const text = (html: string) => html.replace(/<[^>]+>/g, '');
    const matched = async () => (await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM emails WHERE is_matched = 1'))!.n;
    const domains = async () => (await one<{ n: number }>(deps.db, 'SELECT count(*) AS n FROM investor_domains WHERE investor_id = ?', [acme]))!.n;
    expect(await matched()).toBe(2);

    // Adding, or removing what matches nothing on its own, saves at once.
    const add = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'acme.example', emails: 'old@elsewhere.example', _csrf: csrf });
    expect(add.status).toBe(303);
    const drop = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'acme.example', emails: '', _csrf: csrf });
    expect(drop.status).toBe(303);
    expect(await one(deps.db, 'SELECT email FROM investor_emails WHERE investor_id = ?', [acme])).toBeUndefined();

    // Removing the domain would withhold Carol's email (Bob's still matches as a contact): ask.
    const ask = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme Capital', domains: '', emails: '', _csrf: csrf });
    expect(ask.status).toBe(200);
    const askHtml = await ask.text();
    expect(text(askHtml)).toContain('Removed: acme.example.');
    expect(text(askHtml)).toContain('1 email would be withheld: its body is deleted.');
    expect(askHtml).toContain(`<form method="post" action="/investors/${acme}/edit"`);
    expect(askHtml).toContain('<input type="hidden" name="name" value="Acme Capital"/>');
    expect(askHtml).toContain('<input type="hidden" name="domains" value=""/>');
    expect(askHtml).toContain('<input type="hidden" name="confirm" value="yes"/>');
    expect(askHtml).toContain(`<a href="/investors/${acme}">Cancel</a>`);
    expect(await domains()).toBe(1);
    expect(await matched()).toBe(2);
    expect((await one<{ name: string }>(deps.db, 'SELECT name FROM investors WHERE id = ?', [acme]))!.name).toBe('Acme');

    // A bad entry is refused as usual, before anything is counted.
    const bad = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: 'gmail.com', emails: '', _csrf: csrf });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id="edit-err">Not saved: Domains, line 1: gmail.com is a free-mail provider');

    const done = await post(`/investors/${acme}/edit`, cookie, { name: 'Acme Capital', domains: '', emails: '', confirm: 'yes', _csrf: csrf });
    expect(done.status).toBe(303);
    expect(flashCode(done)).toBe('saved');
    expect(await domains()).toBe(0);
    await drainRematchQueue(deps);
    expect(await matched()).toBe(1);
  });

  it('saving a contact with an address removed asks first when that withholds mail', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const bob = (await one<{ id: number }>(deps.db, "SELECT id FROM contacts WHERE name = 'Bob'"))!.id;
    // Without the domain (nothing withheld: Bob still matches), Bob's address alone matches his email.
    expect((await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: '', emails: '', _csrf: csrf })).status).toBe(303);
    await drainRematchQueue(deps);
    const ask = await post(`/investors/${acme}/contacts/${bob}`, cookie, { action: 'save', name: 'Bob', emails: 'robert@acme.example', _csrf: csrf });
    expect(ask.status).toBe(200);
    const html = await ask.text();
    expect(html.replace(/<[^>]+>/g, '')).toContain('Removed: bob@acme.example.1 email would be withheld: its body is deleted and 1 saved file is deleted from disk.');
    expect(html).toContain('<input type="hidden" name="action" value="save"/>');
    expect(html).toContain('<input type="hidden" name="emails" value="robert@acme.example"/>');
    expect(await one(deps.db, "SELECT email FROM contact_emails WHERE email = 'bob@acme.example'")).toBeDefined();
    const done = await post(`/investors/${acme}/contacts/${bob}`, cookie, { action: 'save', name: 'Bob', emails: 'robert@acme.example', confirm: 'yes', _csrf: csrf });
    expect(done.status).toBe(303);
    expect(flashCode(done)).toBe('contact-saved');
    expect(await one(deps.db, "SELECT email FROM contact_emails WHERE email = 'bob@acme.example'")).toBeUndefined();
  });

  it('deleting a contact that alone matches mail says how many emails and files go, and that is what goes', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    // Drop the domain so Bob is the only way his email matches.
    const acme = (await one<{ id: number }>(deps.db, "SELECT id FROM investors WHERE name = 'Acme'"))!.id;
    await post(`/investors/${acme}/edit`, cookie, { name: 'Acme', domains: '', emails: '', _csrf: csrf });
    const bob = (await one<{ id: number }>(deps.db, "SELECT id FROM contacts WHERE name = 'Bob'"))!.id;
    const ask = await (await get(`/investors/${acme}/contacts/${bob}/delete`, cookie)).text();
    expect(ask.replace(/<[^>]+>/g, '')).toContain('1 email would be withheld: its body is deleted and 1 saved file is deleted from disk.');
    const res = await post(`/investors/${acme}/contacts/${bob}`, cookie, { action: 'delete', confirm: 'yes', _csrf: csrf });
    expect(res.headers.get('location')).toBe(`/investors/${acme}`);
    expect(flashCode(res)).toBe('contact-deleted');
    expect(await one(deps.db, 'SELECT id FROM emails WHERE is_matched = 1')).toBeUndefined();
    expect(await one(deps.db, "SELECT id FROM email_attachments WHERE state = 'saved'")).toBeUndefined();
  });

  it('enrolling an outside address by delegation is refused in the form’s words: the Method option to choose, not the API field', async () => {
    await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    const res = await post('/mailboxes/enroll', cookie, { email: 'advisor@outside.example', auth_method: 'dwd', _csrf: csrf });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/role="alert">advisor@outside\.example is not in the workspace domain[^<]*choose Method “owner’s consent \(OAuth\)” for others/);
    expect(html).not.toContain('auth_method');
    expect(await (await get('/mailboxes', cookie)).text()).toContain('<option value="oauth">owner’s consent (OAuth)</option>');
    expect(await one(deps.db, "SELECT id FROM email_accounts WHERE email = 'advisor@outside.example'")).toBeUndefined();
  });

  it('an admin starts a verification of a mailbox from the mailboxes page', async () => {
    await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    const acc = await one<{ id: number }>(deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [PARTNER]);
    const res = await post(`/mailboxes/${acc!.id}/verify`, cookie, { _csrf: csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/mailboxes');
    expect(flashCode(res)).toBe('verify-started');
    await deps.background.idle();
    expect(await one(deps.db, "SELECT kind FROM email_sync_runs WHERE kind = 'verify'")).toEqual({ kind: 'verify' });
    // What it found shows on the mailboxes page, flagged while something is still missing.
    const cell = async () => (/<td data-label="Last verify" class="small" id="verify-\d+">([\s\S]*?)<\/td>/.exec(await (await get('/mailboxes', cookie)).text())?.[1] ?? '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(await cell()).toMatch(/UTC complete missing 0 · repaired 0 · gone 0 $/);
    await deps.db.execute({ sql: 'UPDATE email_accounts SET last_verify_missing = 3, last_verify_repaired = 1, last_verify_gone = 2 WHERE id = ?', args: [acc!.id] });
    const flagged = await cell();
    expect(flagged).toContain('2 still missing missing 3 · repaired 1 · gone 2 last complete:');
  });

  it('a mailbox that cannot sync shows a still bar and what to do, not a moving one', async () => {
    await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const acc = (await one<{ id: number }>(deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [PARTNER]))!.id;
    const cell = async () => /<td data-label="Progress" class="progress" id="progress-\d+"[^>]*>([\s\S]*?)<\/td>/.exec(await (await get('/mailboxes', cookie)).text())![1]!;
    const progress = async () => ((await (await get('/mailboxes/progress', cookie)).json()) as { accounts: { phase: string; fraction: number | null; hint: string | null }[] }).accounts[0]!;
    // Synced: a full, still bar.
    expect(await cell()).toMatch(/<progress max="1" value="1"/);
    for (const [state, method, error, hint] of [
      ['needs_consent', 'oauth', null, 'Press Consent link and hand the link to the mailbox’s owner'],
      ['auth_error', 'dwd', 'unauthorized_client: Client is unauthorized', 'Manage domain-wide delegation'],
      ['error', 'dwd', null, 'Press Run now to try again'],
    ] as const) {
      await deps.db.execute({ sql: 'UPDATE email_accounts SET state = ?, auth_method = ?, last_error = ? WHERE id = ?', args: [state, method, error, acc] });
      const html = await cell();
      expect(html, state).toMatch(/<progress max="1" value="0" hidden=""/);
      expect(html, state).toMatch(new RegExp(`<div class="small progress-hint">What to do: [^<]*${hint}`));
      const p = await progress();
      expect(p.phase, state).toBe('blocked');
      expect(p.fraction, state).toBe(0);
      expect(p.hint, state).toContain(hint);
    }
  });

  it('members get 403 from admin pages and admin form posts', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    for (const p of ['/mailboxes', '/runs', '/directory', '/setup', '/mailboxes/progress']) expect((await get(p, cookie)).status, p).toBe(403);
    expect((await post('/mailboxes/enroll', cookie, { email: `x@${WORKSPACE}`, _csrf: csrf })).status).toBe(403);
    expect((await post('/directory/users', cookie, { username: 'x', password: 'long enough password', _csrf: csrf })).status).toBe(403);
    expect(await one(deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [`x@${WORKSPACE}`])).toBeUndefined();
  });

  it('the directory import shows the error beside the offending row and imports nothing', async () => {
    await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    const csv = 'investor,domain,contact_name,contact_email\nNorth,north.example,Nia,nia@north.example\nSouth,https://south.example,,\n';
    const res = await post('/directory/import', cookie, { format: 'csv', text: csv, _csrf: csrf });
    const html = await res.text();
    expect(res.status).toBe(400);
    expect(html).toContain('<tr class="bad-row" id="bad-row"><td>3</td><td><code>South,https://south.example,,</code></td><td class="err-cell">domain: &quot;https://south.example&quot; is a URL; give the domain alone');
    expect(await one(deps.db, "SELECT id FROM investors WHERE name = 'North'")).toBeUndefined();
    const good = await post('/directory/import', cookie, { format: 'csv', text: csv.split('\n').slice(0, 2).join('\n'), _csrf: csrf });
    expect(good.status).toBe(200);
    expect(await good.text()).toContain('Imported: 1 investors');
  });
});

describe('console pages', () => {
  it('an investor page shows the relationship score with its parts, and links to going cold and partner pages', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const html = await (await get(`/investors/${acme}`, cookie)).text();
    const score = /Relationship: <span data-score[^>]*>(\d+)<\/span>\/100/.exec(html);
    expect(score, 'the score is shown').not.toBeNull();
    // One message in, none out: one-way mail, so the score stays low and says why.
    expect(Number(score![1])).toBeLessThanOrEqual(15);
    expect(html).toContain('recency');
    expect(html).toContain('one-way: 1 in, 0 out');
    expect(html).toContain(PARTNER);
    const cold = await get('/going-cold?days=60', cookie);
    expect(cold.status).toBe(200);
    expect(await cold.text()).toContain('Nobody is going cold.');
    const ada = await one<{ id: number }>(deps.db, "SELECT id FROM users WHERE username = 'ada'");
    const partner = await get(`/partners/${ada!.id}`, cookie);
    expect(partner.status).toBe(200);
    expect((await get('/partners/999999', cookie)).status).toBe(404);
  });

  it('going cold with a bad days value says so, naming the field, and keeps what was typed', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    for (const bad of ['-1', 'abc', '99999999', '1.5', '']) {
      const r = await get(`/going-cold?days=${encodeURIComponent(bad)}`, cookie);
      expect(r.status, bad).toBe(400);
      const html = await r.text();
      expect(html, bad).toContain(`<p class="banner err" role="alert" id="days-err">days: “${bad}” is not a whole number of days from 1 to 3650.</p>`);
      expect(html, bad).toContain(`value="${bad}" aria-invalid="true" aria-describedby="days-err"`);
      expect(html, bad).not.toContain('Nobody is going cold.');
    }
    const ok = await get('/going-cold?days=30', cookie);
    expect(ok.status).toBe(200);
    expect(await ok.text()).not.toContain('days-err');
  });

  it('an unknown console path answers the console’s 404 page; the API and /healthz keep JSON', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    for (const [p, c] of [['/nonexistent', cookie], ['/nonexistent', undefined], ['/investors/1/nope', cookie], ['/static/nope.css', undefined]] as const) {
      const r = await get(p, c);
      expect(r.status, p).toBe(404);
      expect(r.headers.get('content-type'), p).toMatch(/^text\/html/);
      const html = await r.text();
      expect(html, p).toContain('<h1>Not found</h1>');
      expect(r.headers.get('content-security-policy'), p).toMatch(/default-src 'self'/);
      if (c) expect(html, p).toContain('Sign out');
    }
    const icon = await get('/favicon.ico');
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await (await get('/', cookie)).text()).toContain('<link rel="icon" href="/static/favicon.svg"');
    const api = await get('/api/nonexistent', cookie);
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect((await get('/healthz')).headers.get('content-type')).toMatch(/json/);
  });

  it('every page carries the strict CSP, X-Frame-Options DENY and no-referrer', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const thread = (await one<{ thread_id: number }>(deps.db, 'SELECT thread_id FROM emails LIMIT 1'))!.thread_id;
    for (const p of ['/', `/investors/${acme}`, `/threads/${thread}`, '/search?q=deck', '/mailboxes', '/runs', '/directory', '/setup', '/account', '/audit', '/feed-tokens', '/login']) {
      const r = await get(p, p === '/login' ? undefined : cookie);
      expect(r.status, p).toBe(200);
      const csp = r.headers.get('content-security-policy')!;
      expect(csp, p).toMatch(/default-src 'self'/);
      expect(csp, p).toMatch(/script-src 'self'(;|$)/);
      expect(csp, p).toMatch(/frame-ancestors 'none'/);
      expect(r.headers.get('x-frame-options'), p).toBe('DENY');
      expect(r.headers.get('referrer-policy'), p).toBe('no-referrer');
      expect(await r.text(), p).not.toMatch(/<script(?![^>]*\bsrc="\/static\/console\.js")/);
    }
  });

  it('a thread shows HTML in a sandboxed srcdoc iframe without scripts or remote images, text quotes collapsed, files linked', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const thread = (await one<{ thread_id: number }>(deps.db, 'SELECT thread_id FROM emails LIMIT 1'))!.thread_id;
    const html = await (await get(`/threads/${thread}`, cookie)).text();
    const frame = /<iframe[^>]*>/.exec(html)![0];
    expect(frame).toMatch(/sandbox="allow-popups allow-popups-to-escape-sandbox"/);
    expect(frame).not.toMatch(/allow-scripts|allow-same-origin/);
    expect(frame).toContain('srcdoc=');
    expect(frame).not.toContain('tracker.example');
    expect(frame).not.toMatch(/&lt;script/);
    expect(html).toContain('1 remote image blocked');
    const loaded = await (await get(`/threads/${thread}?images=${(await one<{ id: number }>(deps.db, 'SELECT id FROM emails LIMIT 1'))!.id}`, cookie)).text();
    expect(/<iframe[^>]*>/.exec(loaded)![0]).toContain('https://tracker.example/p.gif');
    const file = /href="(\/api\/email\/attachments\/\d+)"/.exec(html)![1]!;
    const dl = await get(file, cookie);
    expect(dl.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await dl.arrayBuffer())).digest('hex')).toBe(createHash('sha256').update('%PDF deck').digest('hex'));
    expect((await get(file)).status).toBe(401);
  });

  it('a thread links back to, and names, the investor it belongs to; the hidden-messages note shows only when some are hidden', async () => {
    const { acme } = await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const thread = (await one<{ thread_id: number }>(deps.db, 'SELECT thread_id FROM emails LIMIT 1'))!.thread_id;
    const html = await (await get(`/threads/${thread}`, cookie)).text();
    expect(html).toContain(`<nav class="small" aria-label="Investors of this thread">Investor: <a href="/investors/${acme}">← Acme</a></nav>`);
    expect(html).not.toContain('<a href="/">← Investors</a>');
    expect(html).not.toContain('messages shown');
  });

  it('investors are found by name, domain or contact address, and show activity and partners', async () => {
    const { acme } = await setup();
    await invoke(deps, createInvestor, { name: 'Zeta Fund', domains: ['zeta.example'] });
    const { cookie } = await signIn('mel', 'member password 1');
    const names = async (q: string) => [...(await (await get(`/?q=${encodeURIComponent(q)}`, cookie)).text()).matchAll(/<a href="\/investors\/\d+">([^<]+)<\/a>/g)].map((m) => m[1]);
    expect(await names('')).toEqual(['Acme', 'Zeta Fund']);
    expect(await names('zeta.ex')).toEqual(['Zeta Fund']);
    expect(await names('bob@acme')).toEqual(['Acme']);
    expect(await names('100%_')).toEqual([]);
    const home = await (await get('/', cookie)).text();
    expect(home).toContain(`<a href="/investors/${acme}">Acme</a></td><td data-label="Domains">acme.example</td><td data-label="Last activity"><time datetime="2025-03-01T10:00:00.000Z">`);
  });

  it('a contact’s page shows their addresses, investor and their threads, newest first and paged; the investor page, search and threads link to it', async () => {
    const { acme, box } = await setup();
    // 29 more threads with Bob (30 in all), and one with a colleague matched through the domain only.
    for (let i = 1; i <= 29; i++)
      box.add({ from: 'Bob <bob@acme.example>', to: [PARTNER], subject: `Update ${i}`, messageId: `upd-${i}@acme.example`, date: `2025-04-${String(i).padStart(2, '0')}T10:00:00Z`, text: 'Quarterly update.' });
    box.add({ from: 'Carol <carol@acme.example>', to: [PARTNER], subject: 'Carol alone', messageId: 'carol@acme.example', date: '2025-05-01T10:00:00Z', text: 'Hello.' });
    await syncMailbox(deps, PARTNER);
    const { cookie } = await signIn('mel', 'member password 1');
    const bob = (await one<{ id: number }>(deps.db, "SELECT id FROM contacts WHERE name = 'Bob'"))!.id;
    const subjects = (html: string) => [...html.matchAll(/<a href="\/threads\/\d+">([^<]+)<\/a>/g)].map((m) => m[1]);

    expect(await (await get(`/investors/${acme}`, cookie)).text()).toContain(`<a href="/contacts/${bob}" aria-label="Threads with Bob">`);
    const res = await get(`/contacts/${bob}`, cookie);
    expect(res.status).toBe(200);
    const first = await res.text();
    expect(first).toContain('<h1>Bob</h1>');
    expect(first).toContain(`<dt>Investor</dt><dd><a href="/investors/${acme}">Acme</a></dd>`);
    expect(first).toContain('<dd>bob@acme.example</dd>');
    expect(first).toContain('id="insights"');
    // Newest activity first, 25 to a page; the colleague's thread is the investor's, not Bob's.
    expect(subjects(first)).toEqual(Array.from({ length: 25 }, (_, i) => `Update ${29 - i}`));
    expect(first).not.toContain('Carol alone');
    const next = /<a href="(\/contacts\/\d+\?cursor=[^"]+)">Older threads →<\/a>/.exec(first)![1]!.replace(/&amp;/g, '&');
    const second = await (await get(next, cookie)).text();
    expect(subjects(second)).toEqual(['Update 4', 'Update 3', 'Update 2', 'Update 1', 'Deck']);
    expect(second).not.toContain('Older threads');
    expect(second).toContain(`<a href="/contacts/${bob}">First page</a>`);
    expect((await get('/contacts/9999', cookie)).status).toBe(404);

    // Search results and a thread's people link to the contact; an address that is no contact does not.
    const found = await (await get('/search?q=deck', cookie)).text();
    expect(found).toContain(`<a href="/contacts/${bob}" title="Contact: Bob">Bob &lt;bob@acme.example&gt;</a>`);
    const carol = await (await get('/search?q=hello', cookie)).text();
    expect(carol).toContain('Carol &lt;carol@acme.example&gt;');
    expect(carol).not.toContain('href="/contacts/');
    const deck = (await one<{ id: number }>(deps.db, "SELECT id FROM email_threads WHERE subject = 'Deck'"))!.id;
    expect(await (await get(`/threads/${deck}`, cookie)).text()).toContain(`<dd><a href="/contacts/${bob}" title="Contact: Bob">Bob &lt;bob@acme.example&gt;</a></dd>`);
  });

  it('search pages past 30 results: it says how many there are and links the next page', async () => {
    const { box } = await setup();
    for (let i = 1; i <= 35; i++)
      box.add({ from: 'Bob <bob@acme.example>', to: [PARTNER], subject: `Capital call ${i}`, messageId: `call-${i}@acme.example`, date: `2025-04-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z`, text: 'Please wire the capital call.' });
    await syncMailbox(deps, PARTNER);
    const { cookie } = await signIn('mel', 'member password 1');
    const subjects = (html: string) => [...html.matchAll(/<a href="\/threads\/\d+#m\d+">(Capital call \d+)<\/a>/g)].map((m) => m[1]);
    const first = await (await get('/search?q=capital', cookie)).text();
    expect(first).toContain('Matches 1–30 of 35, best first.');
    expect(subjects(first)).toHaveLength(30);
    expect(first).toContain('<a href="/search?q=capital&amp;start=30">Next 30 matches →</a>');
    const second = await (await get('/search?q=capital&start=30', cookie)).text();
    expect(second).toContain('Matches 31–35 of 35, best first.');
    expect(second).toContain('<ol class="results" start="31">');
    expect(subjects(second)).toHaveLength(5);
    expect(new Set([...subjects(first), ...subjects(second)]).size).toBe(35);
    expect(second).not.toContain('Next 30 matches');
    expect(second).toContain('<a href="/search?q=capital">← Better matches</a>');
  });

  it('the investor list is paged, never silently cut off', async () => {
    await setup();
    const now = new Date().toISOString();
    for (let i = 1; i <= 205; i++) await deps.db.execute({ sql: 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?)', args: [`Fund ${String(i).padStart(3, '0')}`, now, now] });
    const { cookie } = await signIn('mel', 'member password 1');
    const names = (html: string) => [...html.matchAll(/<a href="\/investors\/\d+">([^<]+)<\/a>/g)].map((m) => m[1]);
    const first = await (await get('/?sort=name', cookie)).text();
    expect(first).toContain('Investors 1–200 of 206');
    expect(names(first)).toHaveLength(200);
    expect(first).toContain('<a href="/?sort=name&amp;start=200">Next 6 →</a>');
    const second = await (await get('/?sort=name&start=200', cookie)).text();
    expect(second).toContain('Investors 201–206 of 206');
    expect(names(second)).toEqual(['Fund 200', 'Fund 201', 'Fund 202', 'Fund 203', 'Fund 204', 'Fund 205']);
    expect(second).toContain('<a href="/?sort=name">← Previous 200</a>');
    expect(new Set([...names(first), ...names(second)]).size).toBe(206);
    const found = await (await get('/?q=fund+20', cookie)).text();
    expect(found).toContain('6 investors');
    expect(found).not.toContain('Investor pages');
  });

  it('search finds a body word and links to its thread', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const html = await (await get('/search?q=deck', cookie)).text();
    expect(html).toMatch(/<a href="\/threads\/\d+#m\d+">Deck<\/a>/);
    expect(html).toContain('<mark class="hit">');
  });
});

describe('account, audit and feed tokens', () => {
  it('a user changes their own password from the console; refusals name the field', async () => {
    await setup();
    const { cookie } = await signIn('mel', 'member password 1');
    const csrf = await csrfOf(cookie);
    const page = await get('/account', cookie);
    expect(page.status).toBe(200);
    expect(await (await get('/', cookie)).text()).toContain('<a class="small" href="/account">mel (member)</a>');
    const wrong = await post('/account/password', cookie, { current_password: 'nope', new_password: 'a new long password', new_password_again: 'a new long password', _csrf: csrf });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('Not changed: Current password: is not your current password');
    const mismatch = await post('/account/password', cookie, { current_password: 'member password 1', new_password: 'a new long password', new_password_again: 'another', _csrf: csrf });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toMatch(/name="new_password_again" type="password" autocomplete="new-password" required="" aria-invalid="true"/);
    const ok = await post('/account/password', cookie, { current_password: 'member password 1', new_password: 'a new long password', new_password_again: 'a new long password', _csrf: csrf });
    expect(ok.headers.get('location')).toBe('/account');
    expect(flashCode(ok)).toBe('password-changed');
    expect((await get('/search', cookie)).status).toBe(200);
    expect((await signIn('mel', 'member password 1')).res.status).toBe(401);
    expect((await signIn('mel', 'a new long password')).res.status).toBe(303);
  });

  it('the admin reads the audit trail, purges highlighted, paged; members get 403', async () => {
    await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    await post('/directory/exclusions', cookie, { value: 'bob@acme.example', confirm: 'yes', _csrf: csrf });
    const html = await (await get('/audit', cookie)).text();
    expect(html).toMatch(/<tr class="bad-row">[\s\S]*?<strong>rematch\.purge<\/strong>[\s\S]*?<strong>1 emails withheld \(bodies deleted\), 1 files removed<\/strong>/);
    expect(html).toContain('exclusion.create');
    expect(html).toContain('<td data-label="Who">ada</td>');
    const member = await signIn('mel', 'member password 1');
    expect((await get('/audit', member.cookie)).status).toBe(403);
    expect((await get('/feed-tokens', member.cookie)).status).toBe(403);
  });

  it('the admin creates a feed token (shown once) and revokes it after a confirmation', async () => {
    await setup();
    const { cookie } = await signIn('ada', 'admin password 1');
    const csrf = await csrfOf(cookie);
    const made = await post('/feed-tokens', cookie, { name: 'search indexer', _csrf: csrf });
    expect(made.status).toBe(200);
    const html = await made.text();
    const token = /<input readonly="" value="([^"]+)" size="60"\/>/.exec(html)?.[1];
    expect(token).toBeTruthy();
    const feed = await app.request(`${ORIGIN}/api/feed`, { headers: { authorization: `Bearer ${token}` } });
    expect(feed.status).toBe(200);
    const list = await (await get('/feed-tokens', cookie)).text();
    expect(list).toContain('<td data-label="Name">search indexer</td>');
    expect(list).not.toContain(token!);
    const id = /action="\/feed-tokens\/(\d+)\/delete"/.exec(list)![1];
    const ask = await post(`/feed-tokens/${id}/delete`, cookie, { _csrf: csrf });
    expect(ask.status).toBe(200);
    expect(await ask.text()).toContain('Revoke feed token search indexer?');
    expect((await app.request(`${ORIGIN}/api/feed`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const gone = await post(`/feed-tokens/${id}/delete`, cookie, { _csrf: csrf, confirm: 'yes' });
    expect(gone.headers.get('location')).toBe('/feed-tokens');
    expect(flashCode(gone)).toBe('feed-token-revoked');
    expect((await app.request(`${ORIGIN}/api/feed`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });
});

describe('mail bodies', () => {
  it('the sanitiser drops scripts, handlers, javascript: links, meta refresh, CSS url() and remote images', () => {
    const raw = `<meta http-equiv="refresh" content="0;url=https://evil.example/"><script>alert(1)</script>
      <img src="https://evil.example/pixel.gif" onerror="alert(2)"><a href="javascript:alert(3)">x</a>
      <div style="background:url(https://evil.example/bg.png);color:red">t</div><style>body{background:url(https://evil.example/s.png)}</style>
      <img src="//evil.example/rel.gif"><svg onload="alert(4)"></svg><iframe src="https://evil.example/"></iframe><form action="https://evil.example/"><input></form>`;
    const { html, blockedRemote } = sanitiseMailHtml(raw, { loadImages: false });
    expect(html).not.toMatch(/script|onerror|onload|javascript:|refresh|url\(|evil\.example|<iframe|<form|<svg|<style/i);
    expect(html).toContain('color:red');
    expect(blockedRemote).toBe(2);
    expect(mailDocument(html, { loadImages: false })).toMatch(/script-src 'none'.*|default-src 'none'; img-src data:;/);
  });

  it('an image given only by srcset counts as a blocked remote image, and loads from it when asked', () => {
    const raw = `<img srcset="https://tracker.example/p1.gif 1x, https://tracker.example/p2.gif 2x" alt="logo">
      <img src="https://tracker.example/p3.gif"><img srcset="data:image/gif;base64,R0lGODlhAQABAAAAACw= 1x">
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" srcset="https://tracker.example/p4.gif 2x">`;
    const blocked = sanitiseMailHtml(raw, { loadImages: false });
    expect(blocked.blockedRemote).toBe(2);
    expect(blocked.html).not.toMatch(/tracker\.example|srcset/);
    expect(blocked.html).toContain('alt="[image: logo]"');
    const loaded = sanitiseMailHtml(raw, { loadImages: true });
    expect(loaded.blockedRemote).toBe(0);
    expect(loaded.html).toContain('<img alt="logo" src="https://tracker.example/p1.gif" />');
    expect(loaded.html).not.toContain('srcset');
  });

  it('quoted replies are split from the message’s own words', () => {
    expect(splitQuoted('Thanks!\n\nOn Tue, 1 Apr 2025 Bob wrote:\n> hello\n> there\nP.S. x')).toEqual([
      { quoted: false, text: 'Thanks!\n' },
      { quoted: true, text: 'On Tue, 1 Apr 2025 Bob wrote:\n> hello\n> there' },
      { quoted: false, text: 'P.S. x' },
    ]);
  });
});
