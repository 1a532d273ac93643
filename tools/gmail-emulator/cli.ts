// Runs the Gmail emulator as its own process:
//   tsx tools/gmail-emulator/cli.ts --port 8925 [--corpus demo] [--service-account-out key.json] …
// and prints where it listens. `--help` lists every flag (docs/emulator.md explains them).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { deliverCorpus, generateCorpus } from '../corpus/index.js';
import type { ServiceAccountKey } from './auth.js';
import type { EmulatorOptions } from './options.js';
import { startEmulator } from './server.js';

const HELP = `Gmail API emulator on loopback.

  --port N                   listen port (default 0 = any free port)
  --host H                   listen address (default 127.0.0.1)
  --seed S                   seed for faults and rate-limit answers
  --quota legacy|2026        cost table and default budget (default legacy)
  --units-per-second N       per-mailbox budget over any second
  --units-per-minute N       per-mailbox budget over any minute
  --concurrency N            requests in flight per mailbox (default 10)
  --daily-bandwidth BYTES    response bytes per mailbox per day
  --latency MIN-MAX          added answer time in ms, e.g. 20-80
  --error-rate P             chance of 500 backendError
  --unavailable-rate P       chance of 503
  --drop-rate P              chance of a dropped connection
  --token-ttl SEC            access token lifetime (default 3600)
  --history-id-start N|huge  first historyId (huge: near 2^60, beyond Number's precision)
  --history-retention-hours N  history kept (default 168)
  --corpus SEED              create the partner mailboxes and deliver a generated corpus
  --conversations N          corpus size (default 300)
  --partners N               partner mailboxes (default 4)
  --investors N              investors (default 30)
  --messages-per-mailbox N   benchmark-sized corpus instead of --conversations
  --attachment-cap BYTES     put one attachment bigger than this in the corpus
  --threads mixed|long|singles  conversation lengths of the corpus (default mixed)
  --no-fixtures              leave out test/fixtures/eml
  --mailbox EMAIL            create a mailbox (repeatable)
  --service-account-out PATH register a service account and write its JSON key there (mode 0600)
  --directory-out PATH       write the corpus directory (POST /api/investors/import body) there
  --json                     print one JSON line with the URLs instead of text
`;

function num(name: string, v: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    throw new Error(`--${name}: "${v}" is not a valid value`);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      quota: { type: 'string' },
      'units-per-second': { type: 'string' },
      'units-per-minute': { type: 'string' },
      concurrency: { type: 'string' },
      'daily-bandwidth': { type: 'string' },
      latency: { type: 'string' },
      'error-rate': { type: 'string' },
      'unavailable-rate': { type: 'string' },
      'drop-rate': { type: 'string' },
      'token-ttl': { type: 'string' },
      'history-id-start': { type: 'string' },
      'history-retention-hours': { type: 'string' },
      corpus: { type: 'string' },
      conversations: { type: 'string' },
      partners: { type: 'string' },
      investors: { type: 'string' },
      'messages-per-mailbox': { type: 'string' },
      'attachment-cap': { type: 'string' },
      threads: { type: 'string' },
      'no-fixtures': { type: 'boolean' },
      mailbox: { type: 'string', multiple: true },
      'service-account-out': { type: 'string' },
      'directory-out': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const quotaModel = values.quota;
  if (quotaModel !== undefined && quotaModel !== 'legacy' && quotaModel !== '2026') throw new Error(`--quota: "${quotaModel}" is not legacy or 2026`);
  let latencyMs: { min: number; max: number } | undefined;
  if (values.latency !== undefined) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(values.latency);
    if (!m) throw new Error(`--latency: "${values.latency}" is not MIN-MAX in ms`);
    latencyMs = { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
  }
  const retentionHours = num('history-retention-hours', values['history-retention-hours'], { min: 0.001 });
  const options: EmulatorOptions = {
    port: num('port', values.port, { int: true, min: 0, max: 65535 }),
    host: values.host,
    seed: values.seed,
    accessTokenTtlSec: num('token-ttl', values['token-ttl'], { int: true, min: 1 }),
    historyIdStart: values['history-id-start'] as EmulatorOptions['historyIdStart'],
    historyRetentionMs: retentionHours === undefined ? undefined : retentionHours * 3_600_000,
    quota: {
      model: quotaModel as 'legacy' | '2026' | undefined,
      unitsPerSecond: num('units-per-second', values['units-per-second'], { min: 1 }),
      unitsPerMinute: num('units-per-minute', values['units-per-minute'], { min: 1 }),
      concurrency: num('concurrency', values.concurrency, { int: true, min: 1 }),
      dailyBandwidthBytes: num('daily-bandwidth', values['daily-bandwidth'], { int: true, min: 1 }),
    },
    faults: {
      latencyMs,
      errorRate: num('error-rate', values['error-rate'], { min: 0, max: 1 }),
      unavailableRate: num('unavailable-rate', values['unavailable-rate'], { min: 0, max: 1 }),
      dropRate: num('drop-rate', values['drop-rate'], { min: 0, max: 1 }),
    },
  };
  const emu = await startEmulator(options);
  for (const m of values.mailbox ?? []) emu.control.createMailbox(m);

  const out: Record<string, unknown> = { url: emu.url, tokenUrl: emu.tokenUrl, authUrl: emu.authUrl, controlUrl: emu.controlUrl };
  if (values.corpus !== undefined) {
    const corpus = generateCorpus({
      seed: values.corpus,
      conversations: num('conversations', values.conversations, { int: true, min: 1 }),
      partners: num('partners', values.partners, { int: true, min: 1 }),
      investors: num('investors', values.investors, { int: true, min: 1 }),
      messagesPerMailbox: num('messages-per-mailbox', values['messages-per-mailbox'], { int: true, min: 1 }),
      attachmentCapBytes: num('attachment-cap', values['attachment-cap'], { int: true, min: 1 }),
      threads: values.threads as 'mixed' | 'long' | 'singles' | undefined,
      fixtures: !values['no-fixtures'],
    });
    const result = await deliverCorpus(emu.control, corpus);
    out.corpus = {
      seed: corpus.seed,
      firmDomain: corpus.firm.domain,
      mailboxes: corpus.mailboxes,
      delivered: result.delivered,
      distinctMessages: result.truth.messages.length,
      fixturesSkipped: corpus.fixturesSkipped,
    };
    if (values['directory-out']) {
      writeFileSync(values['directory-out'], `${JSON.stringify(corpus.directory, null, 2)}\n`);
      out.directory = values['directory-out'];
    }
  } else if (values['directory-out']) {
    throw new Error('--directory-out needs --corpus');
  }
  if (values['service-account-out']) {
    const key = emu.control.registerServiceAccount() as ServiceAccountKey;
    writeFileSync(values['service-account-out'], `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
    out.serviceAccount = { client_email: key.client_email, keyFile: values['service-account-out'] };
  }

  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    const lines = [
      'Gmail emulator listening',
      `  rootUrl  ${emu.url}`,
      `  token    ${emu.tokenUrl}`,
      `  consent  ${emu.authUrl}`,
      `  control  ${emu.controlUrl}`,
    ];
    const c = out.corpus as { mailboxes: string[]; delivered: number; distinctMessages: number; fixturesSkipped: string | null } | undefined;
    if (c) {
      lines.push(`  corpus   ${c.delivered} deliveries, ${c.distinctMessages} distinct messages into ${c.mailboxes.join(', ')}`);
      if (c.fixturesSkipped) lines.push(`           fixtures skipped: ${c.fixturesSkipped}`);
    }
    if (out.serviceAccount) lines.push(`  service account key written to ${values['service-account-out']}`);
    if (out.directory) lines.push(`  directory written to ${out.directory}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  const stop = (): void => {
    emu.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`gmail emulator: ${(e as Error).message}\n`);
  process.exit(1);
});
