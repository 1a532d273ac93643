// `npm run screenshots`: the demo's firm captured as `npm run demo` does, then the console's
// main pages photographed in Debian's chromium into docs/console-*.png (for docs/console.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { functions } from '../functions/index.js';
import { one } from '../lib/db/client.js';
import { invoke } from '../lib/core/fn.js';
import { createLogger } from '../lib/core/log.js';
import { startStack } from './stack.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const out = path.resolve(import.meta.dirname, '../docs');
const dataDir = mkdtempSync(path.join(tmpdir(), 'crm-screens-'));
const profile = mkdtempSync(path.join(tmpdir(), 'crm-screens-profile-'));

const stack = await startStack({
  dataDir,
  oauthMailbox: null,
  log: createLogger({ level: 'warn', destination: process.stderr }),
  corpus: { attachmentCapBytes: 5 * 1024 * 1024 },
  env: { CRM_GMAIL_MAX_ATTACHMENT_MB: '5' },
});
try {
  await invoke(stack.deps, functions.enrollAll!, {});
  await invoke(stack.deps, functions.syncAll!, {});
  const top = (await one<{ investor_id: number; thread_id: number }>(
    stack.deps.db,
    `SELECT l.investor_id, e.thread_id FROM email_investor_links l JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
      JOIN email_attachments a ON a.email_id = e.id AND a.state = 'saved'
      JOIN email_threads t ON t.id = e.thread_id AND t.message_count > 1
     ORDER BY e.sent_at DESC LIMIT 1`,
  ))!;
  const word = (await one<{ subject: string }>(stack.deps.db, 'SELECT subject FROM email_threads WHERE id = ?', [top.thread_id]))!.subject.split(/\W+/).find((w) => w.length > 4) ?? 'report';

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  const shot = async (name: string, url: string) => {
    await page.goto(stack.url + url, { waitUntil: 'load' });
    await page.screenshot({ path: path.join(out, `console-${name}.png`), fullPage: false });
    process.stdout.write(`docs/console-${name}.png  ${url}\n`);
  };
  await page.goto(stack.url + '/login');
  await page.screenshot({ path: path.join(out, 'console-signin.png') });
  await page.getByLabel('Username').fill(stack.admin.username);
  await page.getByLabel('Password').fill(stack.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${stack.url}/`);
  await shot('investors', '/');
  await shot('investor', `/investors/${top.investor_id}`);
  await shot('thread', `/threads/${top.thread_id}`);
  await shot('search', `/search?q=${encodeURIComponent(word)}`);
  await shot('mailboxes', '/mailboxes');
  await shot('runs', '/runs');
  await shot('directory', '/directory');
  await shot('setup', `/setup?email=${encodeURIComponent(stack.corpus.mailboxes[0]!)}`);
  // Server time per page (loopback, so close to the handler's own time): median of five.
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  for (const url of ['/', `/investors/${top.investor_id}`, `/threads/${top.thread_id}`, `/search?q=${encodeURIComponent(word)}`, '/mailboxes', '/runs', '/directory']) {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const r = await fetch(stack.url + url, { headers: { cookie } });
      await r.text();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(`  ${url}: ${times[2]!.toFixed(1)} ms\n`);
  }
  await page.setViewportSize({ width: 360, height: 740 });
  await shot('mobile', `/investors/${top.investor_id}`);
  await context.close();
} finally {
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
