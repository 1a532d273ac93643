// The one place process.env is read. Parsed once at start; a bad value stops the start
// with one message that names every bad variable (never its value when it is a secret).
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export type QuotaModel = 'legacy' | '2026';
export type FetchStrategy = 'planner' | 'per-message';
export type AuthMethod = 'dwd' | 'oauth';

export interface Config {
  dataDir: string;
  dbUrl: string;
  dbAuthToken?: string;
  host: string;
  port: number;
  admin?: { username: string; password: string; email?: string };
  trustedProxies: string[];
  /** The address users reach the service at (behind a proxy); decides the console's Secure cookie and allowed Origin. */
  publicUrl?: string;
  /** scrypt cost for new password hashes, as log2 N; weaker stored hashes are upgraded at login. */
  passwordHashLogN: number;
  /** A directory change that would newly expose more withheld emails than this waits for an admin. */
  rematchReviewThreshold: number;
  /** pino level of the service's JSON logs. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  gmail: {
    enabled: boolean;
    authMethod: AuthMethod;
    saKeyPath?: string;
    workspaceDomains: string[];
    oauth?: { clientId: string; clientSecret: string; redirectUrl: string };
    backfillSince?: string;
    syncIntervalMin: number;
    backfillPageSize: number;
    maxAttachmentBytes: number;
    attachConcurrency: number;
    rateUnitsSec: number;
    quotaCosts: QuotaModel;
    /** format=raw bytes a mailbox may download per UTC day (Gmail limits per-user bandwidth). */
    dailyDownloadBytes: number;
    /** `planner` picks the cheapest fetch per thread; `per-message` is one messages.get each. */
    fetchStrategy: FetchStrategy;
    historyStaleDays: number;
    apiRootUrl: string;
    tokenUrl: string;
    authUrl: string;
  };
  secretKeyHex?: string;
  /** Change feed: tombstones are kept at least this many days before they may be retired. */
  feed: { tombstoneDays: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'invalid configuration:\n' + problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** An ISO date (optionally with a time) whose day exists: Date.parse rolls 2020-02-30 into March. */
function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (!m || Number.isNaN(Date.parse(s))) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
}

const intIn = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

const bool = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => ['true', 'false', '1', '0', 'yes', 'no'].includes(s), 'must be true or false')
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const url = (protocols: string[]) =>
  z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, `must be a URL (${protocols.join(' or ')})`);

const DOMAIN_RE = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;

const Env = z.object({
  CRM_DATA_DIR: z.string().default('./data'),
  CRM_DB_URL: url(['file:', 'libsql:', 'http:', 'https:', 'ws:', 'wss:']).optional(),
  CRM_DB_AUTH_TOKEN: z.string().optional(),
  CRM_HOST: z.string().default('127.0.0.1'),
  CRM_PORT: intIn(0, 65535).default(8080),
  CRM_ADMIN_USERNAME: z.string().optional(),
  CRM_ADMIN_PASSWORD: z.string().optional(),
  CRM_ADMIN_EMAIL: z.string().email('must be an email address').optional(),
  CRM_TRUSTED_PROXIES: z.string().optional(),
  CRM_PUBLIC_URL: url(['http:', 'https:']).optional(),
  CRM_PASSWORD_SCRYPT_LOG_N: intIn(14, 20).default(17),
  CRM_REMATCH_REVIEW_THRESHOLD: intIn(0, 10_000_000).default(200),
  CRM_GMAIL_INTEGRATION_ENABLED: bool.default(false),
  CRM_GMAIL_AUTH_METHOD: z.enum(['dwd', 'oauth'], { message: 'must be dwd or oauth' }).default('dwd'),
  CRM_GMAIL_SA_KEY_PATH: z.string().optional(),
  CRM_GMAIL_WORKSPACE_DOMAIN: z
    .string()
    .transform((s) => s.split(',').map((d) => d.trim().toLowerCase()).filter(Boolean))
    .refine((ds) => ds.length > 0 && ds.every((d) => DOMAIN_RE.test(d)), 'must be one or more domains, comma-separated (e.g. fund.com)')
    .optional(),
  CRM_GMAIL_OAUTH_CLIENT_ID: z.string().optional(),
  CRM_GMAIL_OAUTH_CLIENT_SECRET: z.string().optional(),
  CRM_GMAIL_OAUTH_REDIRECT_URL: url(['http:', 'https:']).optional(),
  CRM_GMAIL_BACKFILL_SINCE: z
    .string()
    .refine(isCalendarDate, 'must be an ISO date such as 2020-01-01 (a day that exists)')
    .optional(),
  CRM_GMAIL_SYNC_INTERVAL_MIN: intIn(1, 7 * 24 * 60).default(180),
  CRM_GMAIL_BACKFILL_PAGE_SIZE: intIn(1, 500).default(500),
  CRM_GMAIL_MAX_ATTACHMENT_MB: intIn(1, 1024).default(50),
  CRM_GMAIL_ATTACH_CONCURRENCY: intIn(1, 8).default(4),
  CRM_GMAIL_RATE_UNITS_SEC: intIn(1, 250).optional(),
  CRM_GMAIL_QUOTA_COSTS: z.enum(['legacy', '2026'], { message: 'must be legacy or 2026' }).default('legacy'),
  CRM_GMAIL_DAILY_DOWNLOAD_MB: intIn(1, 1_000_000).default(2000),
  CRM_GMAIL_FETCH_STRATEGY: z.enum(['planner', 'per-message'], { message: 'must be planner or per-message' }).default('planner'),
  CRM_GMAIL_HISTORY_STALE_DAYS: intIn(1, 365).default(5),
  CRM_FEED_TOMBSTONE_DAYS: intIn(1, 3650).default(90),
  CRM_GMAIL_API_ROOT_URL: url(['http:', 'https:']).default('https://gmail.googleapis.com/'),
  CRM_GOOGLE_TOKEN_URL: url(['http:', 'https:']).default('https://oauth2.googleapis.com/token'),
  CRM_GOOGLE_AUTH_URL: url(['http:', 'https:']).default('https://accounts.google.com/o/oauth2/v2/auth'),
  CRM_SECRET_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters').optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be one of fatal, error, warn, info, debug, trace, silent' })
    .default('info'),
});

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty string counts as unset: compose files and Start9 configs often export empties.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(Env.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') cleaned[key] = v.trim();
  }
  const parsed = Env.safeParse(cleaned);
  const problems: { variable: string; message: string }[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? 'environment');
      problems.push({ variable, message: issue.message });
    }
    throw new ConfigError(dedupe(problems));
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.CRM_DATA_DIR);

  const rateDefault = e.CRM_GMAIL_QUOTA_COSTS === '2026' ? 100 : 150;
  const rate = e.CRM_GMAIL_RATE_UNITS_SEC ?? rateDefault;
  if (e.CRM_GMAIL_QUOTA_COSTS === '2026' && rate > 100) {
    problems.push({
      variable: 'CRM_GMAIL_RATE_UNITS_SEC',
      message: 'must be at most 100 with CRM_GMAIL_QUOTA_COSTS=2026 (Google caps such projects at 6,000 units/min per user)',
    });
  }
  if ((e.CRM_ADMIN_USERNAME === undefined) !== (e.CRM_ADMIN_PASSWORD === undefined)) {
    problems.push({
      variable: e.CRM_ADMIN_USERNAME === undefined ? 'CRM_ADMIN_USERNAME' : 'CRM_ADMIN_PASSWORD',
      message: 'CRM_ADMIN_USERNAME and CRM_ADMIN_PASSWORD must be set together',
    });
  }
  const oauthParts = [e.CRM_GMAIL_OAUTH_CLIENT_ID, e.CRM_GMAIL_OAUTH_CLIENT_SECRET, e.CRM_GMAIL_OAUTH_REDIRECT_URL];
  const oauthComplete = oauthParts.every((p) => p !== undefined);
  if (e.CRM_GMAIL_INTEGRATION_ENABLED) {
    if (!e.CRM_GMAIL_WORKSPACE_DOMAIN) {
      problems.push({ variable: 'CRM_GMAIL_WORKSPACE_DOMAIN', message: 'is required when CRM_GMAIL_INTEGRATION_ENABLED=true' });
    }
    if (e.CRM_GMAIL_AUTH_METHOD === 'dwd') {
      if (!e.CRM_GMAIL_SA_KEY_PATH) {
        problems.push({ variable: 'CRM_GMAIL_SA_KEY_PATH', message: 'is required with CRM_GMAIL_AUTH_METHOD=dwd' });
      } else {
        const keyProblem = checkKeyFile(path.resolve(e.CRM_GMAIL_SA_KEY_PATH));
        if (keyProblem) problems.push({ variable: 'CRM_GMAIL_SA_KEY_PATH', message: keyProblem });
      }
    }
    if (e.CRM_GMAIL_AUTH_METHOD === 'oauth' && !oauthComplete) {
      for (const [name, v] of [
        ['CRM_GMAIL_OAUTH_CLIENT_ID', e.CRM_GMAIL_OAUTH_CLIENT_ID],
        ['CRM_GMAIL_OAUTH_CLIENT_SECRET', e.CRM_GMAIL_OAUTH_CLIENT_SECRET],
        ['CRM_GMAIL_OAUTH_REDIRECT_URL', e.CRM_GMAIL_OAUTH_REDIRECT_URL],
      ] as const) {
        if (v === undefined) problems.push({ variable: name, message: 'is required with CRM_GMAIL_AUTH_METHOD=oauth' });
      }
    }
  }
  if (problems.length) throw new ConfigError(dedupe(problems));

  return {
    dataDir,
    dbUrl: e.CRM_DB_URL ?? `file:${path.join(dataDir, 'crm.db')}`,
    dbAuthToken: e.CRM_DB_AUTH_TOKEN,
    logLevel: e.LOG_LEVEL,
    host: e.CRM_HOST,
    port: e.CRM_PORT,
    admin:
      e.CRM_ADMIN_USERNAME && e.CRM_ADMIN_PASSWORD
        ? { username: e.CRM_ADMIN_USERNAME, password: e.CRM_ADMIN_PASSWORD, email: e.CRM_ADMIN_EMAIL?.toLowerCase() }
        : undefined,
    publicUrl: e.CRM_PUBLIC_URL ? new URL(e.CRM_PUBLIC_URL).origin : undefined,
    trustedProxies: (e.CRM_TRUSTED_PROXIES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    passwordHashLogN: e.CRM_PASSWORD_SCRYPT_LOG_N,
    rematchReviewThreshold: e.CRM_REMATCH_REVIEW_THRESHOLD,
    gmail: {
      enabled: e.CRM_GMAIL_INTEGRATION_ENABLED,
      authMethod: e.CRM_GMAIL_AUTH_METHOD,
      saKeyPath: e.CRM_GMAIL_SA_KEY_PATH ? path.resolve(e.CRM_GMAIL_SA_KEY_PATH) : undefined,
      workspaceDomains: e.CRM_GMAIL_WORKSPACE_DOMAIN ?? [],
      oauth: oauthComplete
        ? { clientId: e.CRM_GMAIL_OAUTH_CLIENT_ID!, clientSecret: e.CRM_GMAIL_OAUTH_CLIENT_SECRET!, redirectUrl: e.CRM_GMAIL_OAUTH_REDIRECT_URL! }
        : undefined,
      backfillSince: e.CRM_GMAIL_BACKFILL_SINCE,
      syncIntervalMin: e.CRM_GMAIL_SYNC_INTERVAL_MIN,
      backfillPageSize: e.CRM_GMAIL_BACKFILL_PAGE_SIZE,
      maxAttachmentBytes: e.CRM_GMAIL_MAX_ATTACHMENT_MB * 1024 * 1024,
      attachConcurrency: e.CRM_GMAIL_ATTACH_CONCURRENCY,
      rateUnitsSec: rate,
      quotaCosts: e.CRM_GMAIL_QUOTA_COSTS,
      dailyDownloadBytes: e.CRM_GMAIL_DAILY_DOWNLOAD_MB * 1024 * 1024,
      fetchStrategy: e.CRM_GMAIL_FETCH_STRATEGY,
      historyStaleDays: e.CRM_GMAIL_HISTORY_STALE_DAYS,
      apiRootUrl: e.CRM_GMAIL_API_ROOT_URL,
      tokenUrl: e.CRM_GOOGLE_TOKEN_URL,
      authUrl: e.CRM_GOOGLE_AUTH_URL,
    },
    secretKeyHex: e.CRM_SECRET_KEY?.toLowerCase(),
    feed: { tombstoneDays: e.CRM_FEED_TOMBSTONE_DAYS },
  };
}

/** A service-account key must exist, be a regular file, and not be readable by group or others. */
export function checkKeyFile(file: string): string | undefined {
  let st;
  try {
    st = statSync(file);
  } catch {
    return `no key file at ${file}`;
  }
  if (!st.isFile()) return `${file} is not a regular file`;
  if ((st.mode & 0o077) !== 0) {
    return `${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`;
  }
  return undefined;
}

function dedupe(problems: { variable: string; message: string }[]) {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = p.variable;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

