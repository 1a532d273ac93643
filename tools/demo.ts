// `npm run demo`: a generated firm's Gmail in a local emulator, and crm-gmail capturing it
// for real — enrolment, backfill, matching, threads, attachments — then serving the API
// until Ctrl-C. No Google account is involved; data goes to ./demo-data (recreated).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { all } from '../lib/db/client.js';
import { invoke } from '../lib/core/fn.js';
import { createLogger } from '../lib/core/log.js';
import { functions } from '../functions/index.js';
import { startStack } from './stack.js';

const dataDir = path.resolve(process.env.CRM_DEMO_DIR ?? 'demo-data');
rmSync(dataDir, { recursive: true, force: true });
const port = Number(process.env.CRM_DEMO_PORT ?? 8080);

const say = (s = '') => process.stdout.write(s + '\n');
say('crm-gmail demo: generating a firm and its mailboxes in a local Gmail emulator…');
const stack = await startStack({
  dataDir,
  port,
  schedule: true,
  log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr }),
  corpus: { attachmentCapBytes: 5 * 1024 * 1024 },
  env: { CRM_GMAIL_MAX_ATTACHMENT_MB: '5' },
});
const { deps } = stack;
say(`  ${stack.corpus.team.length} partners at ${stack.corpus.firm.domain}, ${stack.corpus.directory.length} investors imported, ${stack.truth.messages.length} distinct messages in ${stack.corpus.mailboxes.length} mailboxes`);

const enrolled = (await invoke(deps, functions.enrollAll, {})) as { accounts: unknown[] };
say(`  enrolled ${enrolled.accounts.length} mailboxes by domain-wide delegation; syncing…`);
const started = Date.now();
const sync = (await invoke(deps, functions.syncAll, {})) as { runs: { account: string; status: string; error?: string | null }[] };
say(`  sync finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

const perMailbox = await all<{ email: string; messages: number; matched: number; threads: number; quota: number; attachments: number }>(
  deps.db,
  `SELECT a.email,
          count(m.email_id) AS messages,
          sum(e.is_matched) AS matched,
          count(DISTINCT e.thread_id) AS threads,
          (SELECT coalesce(sum(quota_units), 0) FROM email_sync_runs r WHERE r.account_id = a.id) AS quota,
          (SELECT coalesce(sum(attachments_saved), 0) FROM email_sync_runs r WHERE r.account_id = a.id) AS attachments
     FROM email_accounts a LEFT JOIN email_mailbox_messages m ON m.account_id = a.id LEFT JOIN emails e ON e.id = m.email_id
    GROUP BY a.id ORDER BY a.email`,
);
say('mailbox                               messages  matched  threads  files  quota units');
for (const r of perMailbox) {
  say(`${r.email.padEnd(38)}${String(r.messages).padStart(8)}${String(r.matched ?? 0).padStart(9)}${String(r.threads).padStart(9)}${String(r.attachments).padStart(7)}${String(r.quota).padStart(13)}`);
}
for (const r of sync.runs.filter((x) => x.status !== 'succeeded')) say(`  ! ${r.account}: ${r.status} ${r.error ?? ''}`);
const status = (await invoke(deps, functions.status, {})) as { counts: Record<string, number> };
say(`\nstored: ${status.counts.emails} emails (${status.counts.matched} matched, the rest metadata-only), ${status.counts.threads} threads, ${status.counts.attachments} attachment files`);

const top = await all<{ id: number; name: string; threads: number }>(
  deps.db,
  // The investor whose correspondence shows the most: saved files first, then threads.
  `SELECT i.id, i.name, count(DISTINCT e.thread_id) AS threads,
          count(DISTINCT CASE WHEN a.state = 'saved' THEN a.id END) AS files
     FROM investors i JOIN email_investor_links l ON l.investor_id = i.id
     JOIN emails e ON e.id = l.email_id AND e.is_matched = 1
     LEFT JOIN email_attachments a ON a.email_id = e.id
    GROUP BY i.id ORDER BY files DESC, threads DESC LIMIT 1`,
);
if (top[0]) {
  const inv = top[0];
  const threads = (await invoke(deps, functions.listThreads, { investor_id: inv.id, limit: 8 })) as { threads: { id: number; subject: string | null; message_count: number; last_message_at: string }[] };
  say(`\n${inv.name} (investor ${inv.id}): ${inv.threads} threads; the latest:`);
  for (const t of threads.threads) {
    const files = await all<{ filename: string; state: string }>(
      deps.db,
      'SELECT a.filename, a.state FROM email_attachments a JOIN emails e ON e.id = a.email_id WHERE e.thread_id = ? ORDER BY a.id',
      [t.id],
    );
    const list = files.length ? `  [${files.map((f) => `${f.filename || 'unnamed'} (${f.state})`).join(', ')}]` : '';
    say(`  #${t.id} ${t.last_message_at.slice(0, 10)} ${t.message_count} msg  ${t.subject ?? '(no subject)'}${list}`);
  }
}

const u = stack.url;
const partner = stack.corpus.team[1];
say(`
The console is at ${u}/
  admin:   ${stack.admin.username} / ${stack.admin.password}${partner ? `\n  partner: ${partner.username} / ${partner.username}-demo-password` : ''}`);
say(`
The API is at ${u} (admin: ${stack.admin.username} / ${stack.admin.password}). Try:
  TOKEN=$(curl -s -X POST ${u}/api/auth/login -H 'content-type: application/json' \\
          -d '{"username":"${stack.admin.username}","password":"${stack.admin.password}"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
  curl -s ${u}/api/email/status -H "Authorization: Bearer $TOKEN"
  curl -s '${u}/api/email/threads?investor_id=${top[0]?.id ?? 1}' -H "Authorization: Bearer $TOKEN"
  curl -s -X POST ${u}/api/email/sync/run-now -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}'`);
say(`
The change feed, for a search or embedding index on this box (docs/feed.md):
  FEED_TOKEN=$(curl -s -X POST ${u}/api/feed/tokens -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
               -d '{"name":"search-index"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
  curl -s '${u}/api/feed?after=0&limit=5' -H "Authorization: Bearer $FEED_TOKEN"
  npx tsx tools/feed-mirror.ts --url ${u} --token "$FEED_TOKEN" --out ${path.join(dataDir, 'feed-mirror.db')}`);
if (stack.oauthMailbox) {
  say(`
Per-user OAuth (an advisor outside the workspace, ${stack.oauthMailbox}):
  curl -s -X POST ${u}/api/email/accounts/enroll -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"email":"${stack.oauthMailbox}","auth_method":"oauth"}'
  URL=$(curl -s "${u}/api/email/oauth/start?email=${stack.oauthMailbox}" -H "Authorization: Bearer $TOKEN" | sed 's/.*"url":"\\([^"]*\\)".*/\\1/')
  curl -sL "$URL"        # the emulator's consent screen signs the advisor in and returns to the callback page
  curl -s -X POST ${u}/api/email/sync/run-now -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"email":"${stack.oauthMailbox}"}'`);
}
say(`
Gmail emulator: ${stack.emulator.url} (control API under /__control/). Data in ${dataDir}. Ctrl-C stops.`);

const stop = async () => {
  say('\nstopping…');
  await stack.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
