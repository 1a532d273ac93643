// docs/runbook.md is executed: every ```sh block runs in order in bash (one operator's terminal,
// exports and functions carried from block to block) against the real service serving a firm
// on the Gmail emulator, and every ```sql block runs against that service's database, through
// @libsql/client and, when installed, through the sqlite3 command the runbook tells operators to
// use. Each `# expect:` / `-- expect:` line must hold. Where the runbook describes a situation
// (capture switched off by a restart, delegation withdrawn, a suspended mailbox, expired
// history, a process that died mid-sync), the test brings it about just before that section's
// commands run, so the diagnostics are checked against the real symptoms.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { createClient, type Client } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/http/app.js';
import { buildDeps } from '../../lib/run/bootstrap.js';
import { ConfigError, loadConfig } from '../../lib/core/config.js';
import { one, run } from '../../lib/db/client.js';
import type { Deps } from '../../lib/core/deps.js';
import { invoke } from '../../lib/core/fn.js';
import { captureLogger } from '../helpers/log.js';
import { functions } from '../../functions/index.js';
import { startStack, type Stack } from '../../tools/stack.js';
import { makeDeps } from '../helpers/deps.js';
import { directoryCsv, parseRunbook, runProgram, runShellBlock, runSql, which, type Block } from '../helpers/runbook.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUNBOOK_PATH = path.join(ROOT, 'docs', 'runbook.md');
const markdown = readFileSync(RUNBOOK_PATH, 'utf8');
const doc = parseRunbook(markdown);
const runnable = doc.blocks.filter((b) => b.lang === 'sh' || b.lang === 'sql');
const KNOWN_LANGS = new Set(['sh', 'sql', 'env', 'text', 'csv']);

const curl = which('curl');
const bash = which('bash');
const sqlite3 = which('sqlite3');
const missing = !curl ? 'curl not installed (apt-get install curl)' : !bash ? 'bash not installed (apt-get install bash)' : undefined;
if (missing) console.warn(`runbook commands skipped: ${missing}`);
if (!sqlite3) console.warn('runbook: sqlite3 not installed (apt-get install sqlite3): SQL runs through @libsql/client only, and the sh blocks that call sqlite3 are skipped');

/** Settings that name a path on the operator's machine: checked with the test's own paths. */
const MACHINE_SPECIFIC = new Set(['CRM_DATA_DIR', 'CRM_DB_URL', 'CRM_GMAIL_SA_KEY_PATH']);

function envAssignments(block: Block): [string, string][] {
  return block.text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l);
      if (!m) throw new Error(`docs/runbook.md line ${block.line}: an env block holds only NAME=value lines, not ${JSON.stringify(l)}`);
      return [m[1]!, m[2]!];
    });
}

describe('docs/runbook.md, as written', () => {
  it('has shell and SQL commands to run, and no curl or SQL command outside them', () => {
    expect(doc.blocks.filter((b) => b.lang === 'sh').length).toBeGreaterThanOrEqual(20);
    expect(doc.blocks.filter((b) => b.lang === 'sql').length).toBeGreaterThanOrEqual(8);
    for (const b of doc.blocks) expect(KNOWN_LANGS, `line ${b.line}: a \`\`\`${b.lang || '(no language)'} block`).toContain(b.lang);
    for (const b of doc.blocks.filter((x) => x.lang !== 'sh')) {
      expect(b.text, `line ${b.line}: a curl command outside a \`\`\`sh block is never run`).not.toMatch(/^\s*curl\s/m);
    }
    for (const b of doc.blocks.filter((x) => x.lang !== 'sql' && x.lang !== 'sh')) {
      expect(b.text, `line ${b.line}: SQL outside a \`\`\`sql block is never run`).not.toMatch(/\bSELECT\b[\s\S]*\bFROM\b/);
    }
    for (const p of doc.prose) {
      expect(p.text, `line ${p.line}: a curl command in the prose is never run`).not.toMatch(/`curl\s/);
      expect(p.text, `line ${p.line}: SQL in the prose is never run`).not.toMatch(/`SELECT\s/i);
    }
  });

  it('mentions every setting lib/core/config.ts reads', () => {
    const source = readFileSync(path.join(ROOT, 'lib', 'core', 'config.ts'), 'utf8');
    const settings = [...new Set([...source.matchAll(/\bCRM_[A-Z0-9_]+\b/g)].map((m) => m[0]))];
    expect(settings.length).toBeGreaterThan(20);
    const undocumented = settings.filter((s) => !new RegExp(`\\b${s}\\b`).test(markdown));
    expect(undocumented, 'settings the runbook does not mention').toEqual([]);
  });

  it('its ```env examples are settings the service accepts', () => {
    const envBlocks = doc.blocks.filter((b) => b.lang === 'env');
    expect(envBlocks.length).toBeGreaterThanOrEqual(3);
    const dir = mkdtempSync(path.join(tmpdir(), 'crm-runbook-env-'));
    try {
      const key = path.join(dir, 'key.json');
      writeFileSync(key, '{}', { mode: 0o600 });
      chmodSync(key, 0o600);
      const base = { CRM_DATA_DIR: dir, CRM_GMAIL_INTEGRATION_ENABLED: 'true', CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.com', CRM_GMAIL_SA_KEY_PATH: key };
      for (const b of envBlocks) {
        const vars = Object.fromEntries(envAssignments(b).filter(([k]) => !MACHINE_SPECIFIC.has(k)));
        expect(Object.keys(vars).every((k) => markdown.includes(k) && k.startsWith('CRM_'))).toBe(true);
        expect(() => loadConfig({ ...base, ...vars }), `the env block at line ${b.line}`).not.toThrow();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('its CSV example is what the investors import takes', async () => {
    const csv = doc.blocks.find((b) => b.lang === 'csv');
    expect(csv).toBeDefined();
    const deps = await makeDeps();
    try {
      const r = (await invoke(deps, functions.importInvestors, { csv: csv!.text })) as { investors: number; contacts: number };
      expect(r.investors).toBeGreaterThan(0);
      expect(r.contacts).toBeGreaterThan(0);
    } finally {
      await deps.cleanup();
    }
  });

  it('its example start refusal is the message the service prints', () => {
    const shown = doc.blocks.find((b) => b.lang === 'text' && b.text.startsWith('invalid configuration:'));
    expect(shown).toBeDefined();
    const keyPath = envAssignments(doc.blocks.find((b) => b.lang === 'env' && b.text.includes('CRM_GMAIL_SA_KEY_PATH='))!).find(([k]) => k === 'CRM_GMAIL_SA_KEY_PATH')![1];
    const dir = mkdtempSync(path.join(tmpdir(), 'crm-runbook-refusal-'));
    try {
      const key = path.join(dir, 'gmail-service-account.json');
      writeFileSync(key, '{}');
      chmodSync(key, 0o644);
      let message = '';
      try {
        loadConfig({ CRM_DATA_DIR: dir, CRM_GMAIL_INTEGRATION_ENABLED: 'true', CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.com', CRM_GMAIL_SA_KEY_PATH: key });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message.split(key).join(keyPath)).toBe(shown!.text.trimEnd());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('its Start9 log line is the one the entrypoint writes', async () => {
    const shown = doc.blocks.find((b) => b.lang === 'text' && b.text.startsWith('Gmail integration:'));
    expect(shown).toBeDefined();
    const dir = mkdtempSync(path.join(tmpdir(), 'crm-runbook-entry-'));
    try {
      mkdirSync(path.join(dir, 'secrets'), { mode: 0o700 });
      writeFileSync(path.join(dir, 'secrets', 'gmail-service-account.json'), '{"type":"service_account"}', { mode: 0o600 });
      const r = await runProgram(['sh', path.join(ROOT, 'start9', 'docker_entrypoint.sh'), 'true'], {
        env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, CRM_DATA_DIR: dir, CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.com' },
        timeoutMs: 20_000,
      });
      expect(r.code).toBe(0);
      expect(r.stderr.split(dir).join('/data')).toBe(shown!.text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('its links to its own sections resolve', () => {
    const slugs = new Set(doc.headings.map((h) => h.slug));
    expect(doc.anchors.length).toBeGreaterThan(0);
    expect(doc.anchors.filter((a) => !slugs.has(a)), 'links to no heading').toEqual([]);
  });
});

// --- the runbook, executed --------------------------------------------------------------------

let stack: Stack;
let dataDir: string;
let work: string;
let stateFile: string;
let shellEnv: NodeJS.ProcessEnv;
let client: Client;
let front: ServerType;
let serving: { fetch: ReturnType<typeof createApp>['fetch'] };
let enabledApp: ReturnType<typeof createApp>;
let disabledDeps: Deps | undefined;
let failed: string | undefined;
const logs = captureLogger();

/** Mailboxes the staged situations use, from the generated firm. */
const cast = { mailbox: '', suspended: '', leaver: '', investor: '' };

/**
 * Situations the runbook describes, brought about right before the first command under the
 * heading of the same name. Each heading must exist, with commands under it.
 */
const scenes: Record<string, () => Promise<void>> = {
  // The operator sets CRM_GMAIL_INTEGRATION_ENABLED=false and restarts: the same database,
  // served by a service configured with capture off.
  'Turn capture off (data stays)': async () => {
    disabledDeps = await buildDeps({ env: { ...stack.env, CRM_GMAIL_INTEGRATION_ENABLED: 'false' }, log: logs.log });
    serving = createApp(disabledDeps);
  },
  'Turn it back on': async () => {
    serving = enabledApp;
  },
  // Delegation withdrawn for one mailbox (its access token dies, as Google's do within the
  // hour) and another mailbox suspended; then the scheduler's next sync of each.
  'Start here: what is wrong, and where': async () => {
    const ctl = stack.emulator.control;
    ctl.setDwdAuthorised(cast.mailbox, false);
    ctl.revokeAccessTokens({ email: cast.mailbox });
    ctl.setSuspended(cast.suspended, true);
    for (const email of [cast.mailbox, cast.suspended]) {
      const r = (await invoke(stack.deps, functions.syncMailbox, { email })) as { status: string };
      expect(r.status, `the staged failure of ${email}`).toBe('failed');
    }
  },
  'After the fix: try again': async () => {
    stack.emulator.control.setDwdAuthorised(cast.mailbox, true);
    stack.emulator.control.setSuspended(cast.suspended, false);
  },
  // New mail arrives, then Gmail forgets the history that would have announced it.
  'History expired: a backfill instead of an incremental run': async () => {
    const raw = [
      'From: someone@elsewhere.example',
      `To: ${cast.mailbox}`,
      'Subject: after the history was forgotten',
      'Message-ID: <history-expired@elsewhere.example>',
      'Date: Mon, 1 Sep 2025 10:00:00 +0000',
      '',
      'hello',
      '',
    ].join('\r\n');
    stack.emulator.control.deliver(Buffer.from(raw), { to: [cast.mailbox] });
    stack.emulator.control.expireHistory(cast.mailbox, { before: Date.now() + 1000 });
  },
  // What a process that died mid-sync leaves behind: its run `running`, its lease expired.
  'A run stuck at `running`': async () => {
    const db = stack.deps.db;
    const acc = (await one<{ id: number }>(db, 'SELECT id FROM email_accounts WHERE email = ?', [cast.mailbox]))!;
    const now = Date.now();
    const r = (await one<{ id: number }>(db, "INSERT INTO email_sync_runs (account_id, kind, status, started_at) VALUES (?, 'incremental', 'running', ?) RETURNING id", [
      acc.id,
      new Date(now - 20 * 60_000).toISOString(),
    ]))!;
    await run(db, "UPDATE email_accounts SET lease_owner = 'a-process-that-died', lease_expires_at = ?, lease_run_id = ?, state = 'syncing' WHERE id = ?", [
      new Date(now - 5 * 60_000).toISOString(),
      r.id,
      acc.id,
    ]);
  },
};

const firstBlockUnder = new Map<number, string>();
for (const heading of Object.keys(scenes)) {
  const b = runnable.find((x) => x.heading === heading);
  if (b) firstBlockUnder.set(b.line, heading);
}

describe('docs/runbook.md staging', () => {
  it('every situation the test stages has its section, with commands', () => {
    const staged = Object.keys(scenes);
    expect(staged.filter((h) => !runnable.some((b) => b.heading === h)), 'sections missing or without commands').toEqual([]);
  });
});

describe.skipIf(missing !== undefined)(`docs/runbook.md, executed against a running instance on the Gmail emulator${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'crm-runbook-data-'));
    work = mkdtempSync(path.join(tmpdir(), 'crm-runbook-work-'));
    stack = await startStack({ dataDir, log: logs.log, oauthMailbox: null, corpus: { seed: 'runbook', conversations: 40, fixtures: 5 } });
    const team = stack.corpus.team;
    expect(team.length).toBeGreaterThanOrEqual(4);
    cast.mailbox = team[0]!.email;
    cast.suspended = team[1]!.email;
    cast.leaver = team[3]!.email;
    const blocked = ['SPAM', 'TRASH', 'DRAFT', 'CHAT'];
    const seen = stack.truth.messages.find(
      (m) => m.kind === 'investor' && m.matched && m.matches.investors.length > 0 && m.mailboxes[cast.mailbox]?.every((l) => !blocked.includes(l)),
    );
    expect(seen, 'an investor the first mailbox corresponds with').toBeDefined();
    cast.investor = seen!.matches.investors[0]!;

    // What the operator has at hand: the downloaded key and the directory as CSV.
    const keyFile = path.join(work, 'crm-gmail-service-account.json');
    copyFileSync(stack.env.CRM_GMAIL_SA_KEY_PATH!, keyFile);
    chmodSync(keyFile, 0o600);
    writeFileSync(path.join(work, 'investors.csv'), directoryCsv(stack.corpus.directory));

    // The runbook's address for the service: a front that a simulated restart can re-point.
    enabledApp = createApp(stack.deps);
    serving = enabledApp;
    front = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: (req, env) => serving.fetch(req, env), port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const port = (front.address() as AddressInfo).port;

    stateFile = path.join(work, '.runbook-state');
    writeFileSync(stateFile, '');
    shellEnv = {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
      HOME: work,
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      CRM: `http://127.0.0.1:${port}`,
      CRM_DATA_DIR: dataDir,
      ADMIN_USER: stack.admin.username,
      ADMIN_PASSWORD: stack.admin.password,
      MAILBOX: cast.mailbox,
      INVESTOR: cast.investor,
      KEY_FILE: keyFile,
      LEAVER: cast.leaver,
    };
    client = createClient({ url: `file:${path.join(dataDir, 'crm.db')}` });
  }, 120_000);

  afterAll(async () => {
    client?.close();
    if (front) await new Promise<void>((r) => front.close(() => r()));
    if (disabledDeps) {
      await disabledDeps.background.idle();
      disabledDeps.db.close();
    }
    await stack?.close();
    for (const dir of [dataDir, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const block of runnable) {
    const title = `line ${block.line}, ${block.heading}: ${block.lang} — ${block.text.split('\n').find((l) => l.trim() && !/^\s*(#|--)/.test(l))?.trim().slice(0, 70) ?? ''}`;
    it(title, async (ctx) => {
      if (failed) ctx.skip(`an earlier block failed (${failed})`);
      if (block.lang === 'sh' && /\bsqlite3\b/.test(block.text) && !sqlite3) ctx.skip('sqlite3 not installed (apt-get install sqlite3)');
      failed = `line ${block.line}`;
      const scene = firstBlockUnder.get(block.line);
      if (scene) await scenes[scene]!();

      const outputs: { via: string; stdout: string }[] = [];
      if (block.lang === 'sh') {
        const r = await runShellBlock(block.text, { cwd: work, env: shellEnv, stateFile, timeoutMs: 110_000 });
        expect(r.code, `the block at line ${block.line} failed:\n${block.text}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
        outputs.push({ via: 'bash', stdout: r.stdout });
      } else {
        outputs.push({ via: '@libsql/client', stdout: await runSql(client, block.text) });
        if (sqlite3) {
          const r = await runProgram([sqlite3, '-bail', '-readonly', '-header', path.join(dataDir, 'crm.db')], { input: block.text, timeoutMs: 30_000 });
          expect(r.code === 0 && r.stderr === '', `sqlite3 refused the block at line ${block.line}:\n${r.stderr}`).toBe(true);
          outputs.push({ via: 'sqlite3', stdout: r.stdout });
        }
      }
      for (const { via, stdout } of outputs) {
        for (const e of block.expects) {
          expect(e.matches(stdout), `line ${block.line} (${via}): expected the output to show ${JSON.stringify(e.raw)}, got:\n${stdout}`).toBe(true);
        }
      }
      failed = undefined;
    }, 120_000);
  }
});
