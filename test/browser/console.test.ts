// The console in a real Chromium against the whole service on the Gmail emulator: a partner
// reads an investor's mail, a member is kept out of admin pages, forms without the CSRF token
// are refused, hostile HTML mail runs and fetches nothing, and the admin enrols a mailbox and
// watches its sync reach done.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functions } from '../../functions/index.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { drainRematchQueue } from '../../lib/matching/rematch.js';
import { captureLogger } from '../helpers/log.js';
import { startStack, type Stack } from '../../tools/stack.js';
import { haveChromium, launchBrowser, skipReason } from './chromium.js';

if (!haveChromium) console.warn(skipReason);

const HOSTILE_SUBJECT = 'Hostile newsletter';
// A port on loopback nothing listens on: anything fetched there is "outside the service".
const OUTSIDE = 'http://127.0.0.1:9';

let stack: Stack;
let dataDir: string;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;
let lateMailbox: string;
let member: { username: string; password: string };

function hostileMail(from: string, to: string): string {
  const html = `<html><head><meta http-equiv="refresh" content="0;url=${OUTSIDE}/refresh"><style>body{background:url(${OUTSIDE}/style-bg.png)}</style><link rel="stylesheet" href="${OUTSIDE}/sheet.css"></head><body>
<script>alert('script ran')</script>
<img src="${OUTSIDE}/pixel.gif" onerror="alert('onerror ran')" width="1" height="1">
<img src="x" onerror="alert('onerror 2 ran')">
<a id="jslink" href="javascript:alert('javascript link ran')">a javascript: link</a>
<div style="background-image:url(${OUTSIDE}/div-bg.png)">styled words</div>
<iframe src="${OUTSIDE}/frame"></iframe><object data="${OUTSIDE}/obj"></object>
<p>hostilemarker body</p></body></html>`;
  return [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${HOSTILE_SUBJECT}`,
    'Date: Mon, 02 Jun 2025 09:00:00 +0000',
    'Message-ID: <hostile-1@console.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '',
  ].join('\r\n');
}

const LONG_SUBJECT = `Quarterly${'x'.repeat(240)}report`;
const LONG_LETTER = 'Long HTML letter';

function plainMail(o: { from: string; to: string; subject: string; id: string; html: string }): string {
  return [`From: ${o.from}`, `To: ${o.to}`, `Subject: ${o.subject}`, 'Date: Tue, 03 Jun 2025 09:00:00 +0000', `Message-ID: <${o.id}@console.test>`, 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', o.html, ''].join('\r\n');
}

beforeAll(async () => {
  if (!haveChromium) return;
  dataDir = mkdtempSync(path.join(tmpdir(), 'crm-browser-'));
  stack = await startStack({
    dataDir,
    log: captureLogger().log,
    oauthMailbox: null,
    corpus: { seed: 'console-browser', conversations: 50, fixtures: false, attachmentCapBytes: 512 * 1024 },
    env: { CRM_GMAIL_MAX_ATTACHMENT_MB: '1', CRM_GMAIL_BACKFILL_PAGE_SIZE: '100' },
  });
  const contact = stack.corpus.directory.find((i) => i.contacts?.[0]?.emails?.length)!.contacts![0]!.emails![0]!;
  const first = stack.corpus.mailboxes[0]!;
  stack.emulator.control.deliver(hostileMail(contact, first), { to: [first], internalDate: Date.UTC(2025, 5, 2, 9) });
  const longTo = `${first}, ${'y'.repeat(120)}@${'z'.repeat(60)}.example`;
  stack.emulator.control.deliver(plainMail({ from: contact, to: longTo, subject: LONG_SUBJECT, id: 'long-subject', html: `<p>${'w'.repeat(400)}</p>` }), { to: [first], internalDate: Date.UTC(2025, 5, 3, 9) });
  const letter = Array.from({ length: 60 }, (_, i) => `<p>Paragraph ${i + 1}: the fund's position on the side letter, the fees and the reporting schedule, set out at length.</p>`).join('');
  stack.emulator.control.deliver(plainMail({ from: contact, to: first, subject: LONG_LETTER, id: 'long-letter', html: letter }), { to: [first], internalDate: Date.UTC(2025, 5, 3, 10) });
  // Every mailbox but one is captured up front; the admin enrols the last one in the browser.
  lateMailbox = stack.corpus.mailboxes[stack.corpus.mailboxes.length - 1]!;
  for (const m of stack.corpus.mailboxes.filter((m) => m !== lateMailbox)) await invoke(stack.deps, functions.enroll!, { email: m });
  await invoke(stack.deps, functions.syncAll!, {});
  const partner = stack.corpus.team[1]!;
  member = { username: partner.username, password: `${partner.username}-demo-password` };
  browser = await launchBrowser();
  context = browser.context;
  page = await context.newPage();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(who: { username: string; password: string }, start = '/') {
  await context.clearCookies();
  await page.goto(stack.url + start);
  // `/` is the sign-in page itself; every other page redirects to /login?next=….
  expect(new URL(page.url()).pathname).toBe(start === '/' ? '/' : '/login');
  await expect(page.getByRole('heading', { name: 'Sign in to crm-gmail' }).count()).resolves.toBe(1);
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('domcontentloaded');
  if (new URL(page.url()).pathname === '/login') throw new Error(`sign-in failed: ${await page.locator('main').innerText()}`);
}

describe.skipIf(!haveChromium)('the console in Chromium', () => {
  it('a partner signs in, opens an investor and a thread, and downloads a file whose sha256 matches', async () => {
    const target = (await one<{ investor_id: number; thread_id: number; attachment_id: number; sha256: string }>(
      stack.deps.db,
      `SELECT l.investor_id, e.thread_id, a.id AS attachment_id, a.sha256
         FROM email_attachments a JOIN emails e ON e.id = a.email_id AND e.is_matched = 1
         JOIN email_investor_links l ON l.email_id = e.id
        WHERE a.state = 'saved' ORDER BY e.sent_at DESC LIMIT 1`,
    ))!;
    expect(target).toBeDefined();
    await signIn(member, `/investors/${target.investor_id}`);
    // Back where they were going.
    expect(new URL(page.url()).pathname).toBe(`/investors/${target.investor_id}`);
    await expect(page.getByRole('heading', { level: 2, name: 'Threads' }).count()).resolves.toBe(1);

    await page.goto(stack.url + '/');
    await page.locator(`a[href="/investors/${target.investor_id}"]`).first().click();
    await page.waitForURL(`**/investors/${target.investor_id}`);
    const link = page.locator(`a[href="/threads/${target.thread_id}"]`);
    if (await link.count()) await link.first().click();
    else await page.goto(`${stack.url}/threads/${target.thread_id}`);
    await page.waitForURL(`**/threads/${target.thread_id}`);
    expect(await page.locator('article.msg').count()).toBeGreaterThan(0);

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`a[href="/api/email/attachments/${target.attachment_id}"]`).click()]);
    const file = await download.path();
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(target.sha256);
  });

  it('search finds a word of a body and links to its thread', async () => {
    const rows = await all<{ thread_id: number; body_text: string }>(stack.deps.db, "SELECT thread_id, body_text FROM emails WHERE is_matched = 1 AND body_text IS NOT NULL AND length(body_text) > 40 ORDER BY id LIMIT 50");
    let word = '';
    let thread = 0;
    // A word few emails share, so its thread is certainly among the best matches shown.
    pick: for (const r of rows) {
      for (const w of r.body_text.match(/\b[a-z]{7,}\b/gi) ?? []) {
        const n = await all<{ n: number }>(stack.deps.db, "SELECT count(*) AS n FROM emails WHERE is_matched = 1 AND (body_text LIKE '%' || ? || '%' OR subject LIKE '%' || ? || '%')", [w, w]);
        if (Number(n[0]!.n) <= 5) {
          word = w;
          thread = r.thread_id;
          break pick;
        }
      }
    }
    expect(word).not.toBe('');
    await page.goto(stack.url + '/search');
    await page.getByLabel('Words in subject, body, people or file names').fill(word);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL('**/search?q=*');
    const hrefs = await page.locator('ol.results a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(hrefs.some((h) => h?.startsWith(`/threads/${thread}#`))).toBe(true);
  });

  it('a form post without the CSRF token is refused', async () => {
    const inv = (await one<{ id: number; name: string }>(stack.deps.db, 'SELECT id, name FROM investors ORDER BY id LIMIT 1'))!;
    await page.goto(`${stack.url}/investors/${inv.id}`);
    await page.locator(`form[action="/investors/${inv.id}/edit"] input[name="_csrf"]`).evaluate((el) => el.remove());
    await page.getByLabel('Name', { exact: true }).first().fill('Renamed by a forged form');
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/investors/${inv.id}/edit`)), page.getByRole('button', { name: 'Save', exact: true }).first().click()]);
    expect(res.status()).toBe(403);
    expect((await one<{ name: string }>(stack.deps.db, 'SELECT name FROM investors WHERE id = ?', [inv.id]))!.name).toBe(inv.name);
  });

  it('a member cannot open admin pages and gets 403 from admin form posts', async () => {
    for (const p of ['/mailboxes', '/runs', '/directory', '/setup']) {
      const res = await page.goto(stack.url + p);
      expect(res!.status(), p).toBe(403);
    }
    expect(await page.locator('nav a[href="/mailboxes"]').count()).toBe(0);
    await page.goto(stack.url + '/');
    const csrf = (await page.locator('input[name="_csrf"]').first().getAttribute('value'))!;
    for (const [p, form] of [
      ['/mailboxes/enroll', { email: lateMailbox }],
      ['/mailboxes/run-now', {}],
      ['/directory/users', { username: 'intruder', password: 'a long enough password', role: 'admin' }],
    ] as const) {
      const res = await page.request.post(stack.url + p, { form: { ...form, _csrf: csrf }, headers: { origin: stack.url }, maxRedirects: 0 });
      expect(res.status(), p).toBe(403);
    }
    expect(await one(stack.deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [lateMailbox])).toBeUndefined();
    expect(await one(stack.deps.db, "SELECT id FROM users WHERE username = 'intruder'")).toBeUndefined();
  });

  it('hostile HTML mail runs nothing and fetches nothing outside the service', async () => {
    const thread = (await one<{ thread_id: number }>(stack.deps.db, 'SELECT thread_id FROM emails WHERE subject = ?', [HOSTILE_SUBJECT]))!.thread_id;
    const requests: string[] = [];
    const dialogs: string[] = [];
    const consoleLines: string[] = [];
    const onRequest = (r: { url(): string }) => requests.push(r.url());
    page.on('request', onRequest);
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => consoleLines.push(m.text()));
    await page.goto(`${stack.url}/threads/${thread}`, { waitUntil: 'load' });
    const frame = page.frames().find((f) => f !== page.mainFrame())!;
    expect(frame).toBeDefined();
    await frame.waitForLoadState('load');
    expect(await frame.locator('p', { hasText: 'hostilemarker' }).count()).toBe(1);
    // Clicking the javascript: link does nothing either.
    await frame.locator('a', { hasText: 'a javascript: link' }).click();
    // A round trip to the service after everything: anything queued by the mail has been issued by now.
    await page.evaluate(() => fetch('/static/console.css').then((r) => r.status));
    page.off('request', onRequest);
    expect(frame.url()).toBe('about:srcdoc');
    expect(new URL(page.url()).pathname).toBe(`/threads/${thread}`);
    const outside = requests.filter((u) => !u.startsWith(stack.url + '/') && !u.startsWith('data:') && u !== 'about:srcdoc');
    expect(outside).toEqual([]);
    expect(requests.some((u) => u.startsWith(OUTSIDE))).toBe(false);
    expect(dialogs).toEqual([]);
    expect(consoleLines.filter((l) => /ran/.test(l))).toEqual([]);
    expect(await page.getByText('remote image').count()).toBeGreaterThan(0);
  });

  it('the admin enrols a mailbox, presses run now and sees its progress reach done', async () => {
    await signIn(stack.admin);
    await page.goto(stack.url + '/mailboxes');
    await page.getByLabel('Mailbox address').fill(lateMailbox);
    // The post redirects to /mailboxes itself: wait for that navigation, not for a URL already shown.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Enrol', exact: true }).click()]);
    expect(new URL(page.url()).search).toBe('');
    expect(await page.getByRole('status').textContent()).toContain('Mailbox enrolled.');
    // The banner is one-shot: a reload shows the page without it.
    await page.reload();
    expect(await page.locator('.banner').count()).toBe(0);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: `Run now: ${lateMailbox}` }).click()]);
    const id = (await one<{ id: number }>(stack.deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [lateMailbox]))!.id;
    const cell = page.locator(`#progress-${id}`);
    // The page's script polls progress; done shows without a reload.
    await cell.and(page.locator('[data-phase="done"]')).waitFor({ timeout: 60_000 });
    const stored = (await one<{ n: number }>(stack.deps.db, 'SELECT count(*) AS n FROM email_mailbox_messages WHERE account_id = ?', [id]))!.n;
    expect(stored).toBeGreaterThan(0);
    expect(await cell.locator('.progress-text').textContent()).toBe(`done · ${stored} messages stored`);
    expect(await page.locator(`#state-${id}`).textContent()).toBe('idle');
  }, 90_000);

  it('a long unbroken subject or address wraps: the thread and its investor fit a 375 px screen, and the desktop table keeps its columns', async () => {
    const row = (await one<{ thread_id: number; investor_id: number }>(
      stack.deps.db,
      'SELECT e.thread_id, l.investor_id FROM emails e JOIN email_investor_links l ON l.email_id = e.id WHERE e.subject = ? LIMIT 1',
      [LONG_SUBJECT],
    ))!;
    expect(row).toBeDefined();
    await signIn(member);
    const widths = () => page.evaluate(() => { const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement; return [d.scrollWidth, d.clientWidth]; });
    await page.setViewportSize({ width: 375, height: 740 });
    for (const p of [`/threads/${row.thread_id}`, `/investors/${row.investor_id}`, `/search?q=${LONG_SUBJECT}`]) {
      await page.goto(stack.url + p);
      const [scroll, client] = await widths();
      expect(scroll, p).toBeLessThanOrEqual(client + 1);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${stack.url}/investors/${row.investor_id}`);
    // Every column of the thread table stays inside its scroll box.
    const overflow = await page.locator('section[aria-labelledby="threads-h"] .table-wrap').evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
  });

  it('a long HTML letter gets a frame most of the screen tall, which the reader can drag taller', async () => {
    const thread = (await one<{ thread_id: number }>(stack.deps.db, 'SELECT thread_id FROM emails WHERE subject = ?', [LONG_LETTER]))!.thread_id;
    await signIn(member);
    await page.goto(`${stack.url}/threads/${thread}`);
    const frame = page.locator('iframe.mail');
    const box = (await frame.boundingBox())!;
    expect(box.height).toBeGreaterThanOrEqual(900 * 0.8);
    expect(await frame.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { resize: string } }).getComputedStyle(el).resize)).toBe('vertical');
    // A short note keeps a small box.
    const hostile = (await one<{ thread_id: number }>(stack.deps.db, 'SELECT thread_id FROM emails WHERE subject = ?', [HOSTILE_SUBJECT]))!.thread_id;
    await page.goto(`${stack.url}/threads/${hostile}`);
    expect((await page.locator('iframe.mail').boundingBox())!.height).toBeLessThan(400);
  });

  it('a signed-in user opening a sign-in link whose next= hides a tab stays on the console', async () => {
    await signIn(member);
    await page.goto(`${stack.url}/login?next=%2F%09%2Fevil.example%2Fphish`);
    expect(page.url()).toBe(`${stack.url}/`);
  });

  it('a member opens a contact from the investor page and sees their threads, newest first', async () => {
    const ct = (await one<{ id: number; name: string; investor_id: number }>(
      stack.deps.db,
      `SELECT c.id, c.name, c.investor_id FROM contacts c JOIN email_contact_threads t ON t.contact_id = c.id
        WHERE c.investor_id IS NOT NULL GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1`,
    ))!;
    await signIn(member);
    await page.goto(`${stack.url}/investors/${ct.investor_id}`);
    await page.getByRole('link', { name: `Threads with ${ct.name}` }).click();
    await page.waitForURL(`**/contacts/${ct.id}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(ct.name);
    const rows = page.locator('#threads-h ~ .table-wrap tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    const times = await page.locator('#threads-h ~ .table-wrap tbody td[data-label="Last activity"] time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime') ?? ''));
    expect(times).toEqual([...times].sort().reverse());
    await rows.first().getByRole('link').click();
    await page.waitForURL('**/threads/*');
    expect(await page.locator('article.msg').count()).toBeGreaterThan(0);
  });

  it('a member creates an investor: a free-mail domain is refused beside the field with the typing kept, then it is created', async () => {
    await signIn(member);
    await page.goto(stack.url + '/');
    await page.getByRole('link', { name: 'Add an investor…' }).click();
    await page.getByLabel('Name').fill('Browser Capital');
    await page.getByLabel('Domains (one per line)').fill('browsercap.example\ngmail.com');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForLoadState('domcontentloaded');
    expect(await page.getByRole('alert').textContent()).toMatch(/^Not created: Domains, line 2: gmail\.com is a free-mail provider/);
    expect(await page.getByLabel('Domains (one per line)').inputValue()).toBe('browsercap.example\ngmail.com');
    expect(await page.getByLabel('Domains (one per line)').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Name').inputValue()).toBe('Browser Capital');
    await page.getByLabel('Domains (one per line)').fill('browsercap.example');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL('**/investors/*');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Browser Capital');
    expect(await page.getByRole('status').textContent()).toContain('Investor created');
  });

  it('saving an investor with its domains removed asks first, and Cancel changes nothing', async () => {
    // An investor whose domain alone matches some mail: the domain of a withheld sender.
    const ws = stack.deps.config.gmail.workspaceDomains;
    const sender = (await all<{ address: string }>(stack.deps.db, "SELECT DISTINCT p.address FROM email_participants p JOIN emails e ON e.id = p.email_id AND e.is_matched = 0 WHERE p.role = 'from'"))
      .map((r) => r.address.split('@')[1] ?? '')
      .find((d) => d && !ws.some((w) => d === w || d.endsWith(`.${w}`)) && !/^(gmail|yahoo|outlook|hotmail)\./.test(d));
    expect(sender).toBeDefined();
    const inv = await invoke(stack.deps, functions.createInvestor!, { name: 'Domain Only Partners', domains: [sender] });
    await drainRematchQueue(stack.deps);
    const domains = async () => (await all<{ domain: string }>(stack.deps.db, 'SELECT domain FROM investor_domains WHERE investor_id = ? ORDER BY domain', [inv.id])).map((r) => r.domain);
    const before = await domains();
    await signIn(member);
    await page.goto(`${stack.url}/investors/${inv.id}`);
    await page.getByLabel('Domains (one per line)').fill('');
    await page.getByRole('button', { name: 'Save', exact: true }).first().click();
    await page.waitForLoadState('domcontentloaded');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toMatch(new RegExp(`^Save ${inv.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} without`));
    expect(await page.locator('.confirm').innerText()).toMatch(/\d+ emails? would be withheld/);
    expect(await page.getByRole('button', { name: 'Save and withhold that mail' }).count()).toBe(1);
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(`**/investors/${inv.id}`);
    expect(await domains()).toEqual(before);
  });

  it('deleting a contact goes through a confirmation that counts the mail it withholds', async () => {
    const ct = (await one<{ id: number; name: string; investor_id: number }>(
      stack.deps.db,
      `SELECT c.id, c.name, c.investor_id FROM contacts c WHERE c.investor_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM email_investor_links l WHERE l.contact_id = c.id) ORDER BY c.id LIMIT 1`,
    ))!;
    await signIn(member);
    await page.goto(`${stack.url}/investors/${ct.investor_id}`);
    await page.getByRole('link', { name: `Delete contact ${ct.name}` }).click();
    await page.waitForURL(`**/investors/${ct.investor_id}/contacts/${ct.id}/delete`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Delete contact ${ct.name}?`);
    expect(await page.locator('.confirm').innerText()).toMatch(/would be withheld|No captured email would be withheld/);
    expect(await one(stack.deps.db, 'SELECT id FROM contacts WHERE id = ?', [ct.id])).toBeDefined();
    await page.getByRole('button', { name: `Delete ${ct.name}` }).click();
    await page.waitForURL(`**/investors/${ct.investor_id}`);
    expect(await page.getByRole('status').textContent()).toContain('Contact deleted');
    await page.reload();
    expect(await page.locator('.banner').count()).toBe(0);
    expect(await one(stack.deps.db, 'SELECT id FROM contacts WHERE id = ?', [ct.id])).toBeUndefined();
  });

  it('pages fit a 360 px wide screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    for (const p of ['/', '/investors/new', '/mailboxes', '/directory', '/audit', '/feed-tokens', '/account']) {
      await page.goto(stack.url + p);
      const [scroll, client] = await page.evaluate(() => { const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement; return [d.scrollWidth, d.clientWidth]; });
      expect(scroll, p).toBeLessThanOrEqual(client + 1);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
