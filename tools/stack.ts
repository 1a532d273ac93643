// A whole crm-gmail installation on loopback: the Gmail emulator filled with a generated
// firm, and the real service (HTTP API, sync engine, scheduler) configured against it with
// domain-wide delegation and an OAuth client. Used by `npm run demo` and by tests that
// exercise the service end to end (the runbook test among them).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../lib/http/app.js';
import { buildDeps } from '../lib/run/bootstrap.js';
import type { Deps } from '../lib/core/deps.js';
import { invoke } from '../lib/core/fn.js';
import type { Logger } from '../lib/core/log.js';
import { startSchedule } from '../lib/run/schedule.js';
import { functions } from '../functions/index.js';
import { startEmulator, type Emulator, type EmulatorOptions } from './gmail-emulator/index.js';
import { deliverCorpus, generateCorpus, type Corpus, type CorpusOptions, type GroundTruth } from './corpus/index.js';

interface StackOptions {
  dataDir: string;
  /** Preferred port; taken or 0 → a free one. */
  port?: number;
  corpus?: CorpusOptions;
  emulator?: EmulatorOptions;
  /** Extra environment for the service (overrides the defaults below). */
  env?: Record<string, string>;
  log?: Logger;
  adminPassword?: string;
  /** An outside mailbox (not in the workspace) for the OAuth walk-through; null for none. */
  oauthMailbox?: string | null;
  /** Run the scheduler too (the demo does; tests usually drive syncs themselves). */
  schedule?: boolean;
}

export interface Stack {
  url: string;
  admin: { username: string; password: string };
  emulator: Emulator;
  corpus: Corpus;
  truth: GroundTruth;
  deps: Deps;
  env: Record<string, string>;
  oauthMailbox: string | null;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const emulator = await startEmulator({ seed: 'crm-gmail-demo', ...o.emulator });
  const corpus = generateCorpus(o.corpus);
  const { truth } = await deliverCorpus(emulator.control, corpus);
  const domain = corpus.firm.domain;

  // Domain-wide delegation: a service-account key the emulator trusts, kept 0600 like a real one.
  const key = emulator.control.registerServiceAccount({ client_email: `crm-gmail@${domain.replace(/\W/g, '-')}.iam.gserviceaccount.com` });
  const secrets = path.join(o.dataDir, 'secrets');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  chmodSync(secrets, 0o700);
  const keyPath = path.join(secrets, 'gmail-service-account.json');
  writeFileSync(keyPath, JSON.stringify(key, null, 2), { mode: 0o600 });
  chmodSync(keyPath, 0o600);

  // The port must be known before the OAuth client is registered with its redirect URL.
  const port = o.port && o.port > 0 && (await portIsFree(o.port)) ? o.port : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const oauthClient = emulator.control.registerOAuthClient({ redirect_uris: [`${url}/api/email/oauth/callback`] });
  const oauthMailbox = o.oauthMailbox === undefined ? 'advisor@venture-partner.test' : o.oauthMailbox;
  if (oauthMailbox) {
    emulator.control.createMailbox(oauthMailbox);
    const lead = corpus.directory.find((i) => i.contacts?.length)?.contacts?.[0]?.emails?.[0];
    for (let i = 1; i <= 3; i++) {
      const raw = [
        `From: ${lead ?? 'someone@example.test'}`,
        `To: ${oauthMailbox}`,
        `Subject: Co-investment note ${i}`,
        `Date: ${new Date(Date.UTC(2025, 5, i, 9)).toUTCString().replace('GMT', '+0000')}`,
        `Message-ID: <coinvest-${i}@venture-partner.test>`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        `Notes on the co-investment, part ${i}.`,
        '',
      ].join('\r\n');
      emulator.control.deliver(Buffer.from(raw), { to: [oauthMailbox], internalDate: Date.UTC(2025, 5, i, 9) });
    }
  }

  const admin = { username: 'admin', password: o.adminPassword ?? 'demo-admin-password' };
  const env: Record<string, string> = {
    CRM_DATA_DIR: o.dataDir,
    CRM_HOST: '127.0.0.1',
    CRM_PORT: String(port),
    CRM_ADMIN_USERNAME: admin.username,
    CRM_ADMIN_PASSWORD: admin.password,
    CRM_ADMIN_EMAIL: corpus.team[0]!.email,
    CRM_GMAIL_INTEGRATION_ENABLED: 'true',
    CRM_GMAIL_AUTH_METHOD: 'dwd',
    CRM_GMAIL_SA_KEY_PATH: keyPath,
    CRM_GMAIL_WORKSPACE_DOMAIN: domain,
    CRM_GMAIL_API_ROOT_URL: emulator.url,
    CRM_GOOGLE_TOKEN_URL: emulator.tokenUrl,
    CRM_GOOGLE_AUTH_URL: emulator.authUrl,
    CRM_GMAIL_OAUTH_CLIENT_ID: oauthClient.client_id,
    CRM_GMAIL_OAUTH_CLIENT_SECRET: oauthClient.client_secret,
    CRM_GMAIL_OAUTH_REDIRECT_URL: `${url}/api/email/oauth/callback`,
    ...o.env,
  };
  const deps = await buildDeps({ env, log: o.log });
  const app = createApp(deps);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const schedule = o.schedule ? startSchedule(deps) : undefined;

  // The team and the directory, as an admin would set them up.
  for (const member of corpus.team.slice(1)) {
    await invoke(deps, functions.createUser, { username: member.username, email: member.email, password: `${member.username}-demo-password`, role: 'member' });
  }
  await invoke(deps, functions.importInvestors, corpus.directory);

  return {
    url,
    admin,
    emulator,
    corpus,
    truth,
    deps,
    env,
    oauthMailbox,
    async close() {
      schedule?.stop();
      await schedule?.idle();
      await new Promise<void>((r) => server.close(() => r()));
      await deps.background.idle();
      deps.db.close();
      await emulator.close();
    },
  };
}

async function portIsFree(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
