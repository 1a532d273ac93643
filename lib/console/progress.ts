// Live progress of each mailbox's sync for the Mailboxes page: messages stored of the
// mailbox's total (Gmail's getProfile messagesTotal), the rate of the running run and the
// time left. The total costs one quota unit to read, so it is kept for a minute per mailbox.
import type { Deps } from '../core/deps.js';
import { listAccountRows, type AccountRow } from '../capture/accounts.js';
import { openGmail } from '../capture/syncRunner.js';
import { lastFinishedRuns, runningRuns, storedPerAccount } from './read.js';
import { fixFor } from '../../functions/checkSetup.js';

interface Progress {
  id: number;
  email: string;
  state: AccountRow['state'];
  /** `blocked`: the mailbox cannot sync until someone acts (consent, credentials, an error); `hint` says what to do. */
  phase: 'running' | 'done' | 'failed' | 'idle' | 'blocked';
  stored: number;
  total: number | null;
  fraction: number | null;
  rate_per_sec: number | null;
  eta_sec: number | null;
  text: string;
  hint: string | null;
}

const TOTAL_TTL_MS = 60_000;
const totals = new WeakMap<Deps, Map<number, { at: number; total: number | null }>>();

async function messagesTotal(deps: Deps, a: AccountRow): Promise<number | null> {
  let cache = totals.get(deps);
  if (!cache) totals.set(deps, (cache = new Map()));
  const now = deps.clock.now();
  const hit = cache.get(a.id);
  if (hit && now - hit.at < TOTAL_TTL_MS) return hit.total;
  let total: number | null = null;
  try {
    const p = await (await openGmail(deps, a)).getProfile();
    total = typeof p.messagesTotal === 'number' ? p.messagesTotal : null;
  } catch {
    // The run itself records why Gmail refused; progress just goes without a total.
  }
  cache.set(a.id, { at: now, total });
  return total;
}

function duration(sec: number): string {
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

export async function mailboxProgress(deps: Deps): Promise<Progress[]> {
  const [accounts, running, finished, stored] = await Promise.all([listAccountRows(deps.db), runningRuns(deps.db), lastFinishedRuns(deps.db), storedPerAccount(deps.db)]);
  const out: Progress[] = [];
  for (const a of accounts) {
    const n = stored.get(a.id) ?? 0;
    const r = running.get(a.id);
    if (r) {
      const total = deps.config.gmail.enabled ? await messagesTotal(deps, a) : null;
      const elapsed = Math.max(1, (deps.clock.now() - Date.parse(r.started_at)) / 1000);
      const rate = r.messages_seen > 0 ? r.messages_seen / elapsed : null;
      const left = total !== null ? Math.max(0, total - n) : null;
      const eta = rate && left !== null ? left / rate : null;
      const fraction = total ? Math.min(1, n / total) : null;
      const parts = [`${r.kind} running: ${n}${total !== null ? ` of ${total}` : ''} messages`];
      if (rate) parts.push(`${rate.toFixed(1)}/s`);
      if (eta !== null) parts.push(`about ${duration(eta)} left`);
      out.push({ id: a.id, email: a.email, state: a.state, phase: 'running', stored: n, total, fraction, rate_per_sec: rate, eta_sec: eta, text: parts.join(' · '), hint: null });
      continue;
    }
    const last = finished.get(a.id);
    const blocked = blockedHint(a);
    if (blocked) {
      // Nothing is moving: a still bar and what would get it going, never an animated one.
      out.push({ id: a.id, email: a.email, state: a.state, phase: 'blocked', stored: n, total: null, fraction: 0, rate_per_sec: null, eta_sec: null, text: `${blocked.text} · ${n} messages stored`, hint: blocked.hint });
      continue;
    }
    const phase = !last ? 'idle' : last.status === 'succeeded' ? 'done' : 'failed';
    const text = !last ? `not synced yet · ${n} messages` : last.status === 'succeeded' ? `done · ${n} messages stored` : `last run failed · ${n} messages stored`;
    const hint = phase === 'failed' ? 'Press Run now to try again; the Runs page shows why it failed.' : null;
    // Only a running sync has an indeterminate (moving) bar; a finished or waiting one stands still.
    out.push({ id: a.id, email: a.email, state: a.state, phase, stored: n, total: null, fraction: phase === 'done' ? 1 : 0, rate_per_sec: null, eta_sec: null, text, hint });
  }
  return out;
}

/** Why a mailbox cannot sync until someone acts, and what to do; null when it can. */
function blockedHint(a: AccountRow): { text: string; hint: string } | null {
  if (a.state === 'needs_consent') {
    return {
      text: 'waiting for the owner’s consent',
      hint: a.auth_method === 'oauth' ? 'Press Consent link and hand the link to the mailbox’s owner; syncing starts once they agree.' : fixFor(a.last_error ?? 'consent', a.auth_method),
    };
  }
  if (a.state === 'auth_error') return { text: 'stopped: Google refused access', hint: a.last_error ? fixFor(a.last_error, a.auth_method) : 'Probe the mailbox on the Setup check page to see what Google says.' };
  if (a.state === 'error') return { text: 'stopped by an error', hint: a.last_error ? fixFor(a.last_error, a.auth_method) : 'Press Run now to try again; the Runs page shows why it failed.' };
  return null;
}
