// JSON logs. Secrets are redacted by key name wherever they appear in a log object.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'warn' | 'error' | 'debug' | 'child'>;

const REDACT_KEYS = [
  'password',
  'password_hash',
  'token',
  'access_token',
  'refresh_token',
  'refreshToken',
  'private_key',
  'client_secret',
  'authorization',
  'secret',
];

const redactPaths = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? process.stdout,
  ) as Logger;
}
