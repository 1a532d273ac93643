// The API's value types, checked on every answer a contract test reads: ids are integers, flags are
// booleans, times are YYYY-MM-DDTHH:MM:SS.sssZ. Walks the whole JSON value and names the path
// of the first thing that breaks the rule.
import { expect } from 'vitest';

export const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const FLAGS = new Set(['disabled', 'sync_enabled', 'is_matched', 'already_running', 'enabled', 'healthy', 'ok', 'has_refresh_token', 'purged', 'deleted', 'backfill_in_progress']);
// Keys named like ids that are not database ids: Gmail's own and opaque text.
const TEXT_IDS = new Set(['rfc822_message_id', 'history_id', 'gmail_message_id', 'gmail_thread_id', 'request_id']);

export function contractViolations(value: unknown, at = '$'): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string, key: string | null) => {
    if (key !== null) {
      if ((key === 'id' || key.endsWith('_id')) && !TEXT_IDS.has(key) && v !== null && !Number.isInteger(v)) {
        out.push(`${path}: an id must be an integer, got ${JSON.stringify(v)}`);
      }
      if (key.endsWith('_at') && v !== null && (typeof v !== 'string' || !TIME.test(v))) {
        out.push(`${path}: a time must be YYYY-MM-DDTHH:MM:SS.sssZ, got ${JSON.stringify(v)}`);
      }
      if ((FLAGS.has(key) || key.startsWith('is_')) && typeof v !== 'boolean') {
        out.push(`${path}: a flag must be a boolean, got ${JSON.stringify(v)}`);
      }
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, null));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, k);
  };
  walk(value, at, null);
  return out;
}

/** Fails the test naming every id, flag or time in `body` that breaks the API's value types. */
export function expectContractTypes(body: unknown, label = 'answer'): void {
  expect(contractViolations(body), label).toEqual([]);
}

/** The API's error envelope, with the given status and code. */
export function expectError(res: { status: number; body: any }, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body?.error?.code, JSON.stringify(res.body)).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  if (code === 'VALIDATION') expect(typeof res.body.error.field, `VALIDATION names a field: ${JSON.stringify(res.body)}`).toBe('string');
}
