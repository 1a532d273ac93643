// What the service sees of its own setup: the Gmail integration on or off and why, the
// service-account key and its permissions, the workspace domain, the quota model, and —
// given a mailbox — a live probe (token grant + getProfile) whose refusal is turned into the
// fix to apply. Read-only; running it twice costs one getProfile (1 quota unit) each time.
// Runs from the console's setup page and as `npm run fn -- checkSetup '{"email":"…"}'`.
import { z } from 'zod';
import { checkKeyFile } from '../lib/core/config.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { one } from '../lib/db/client.js';
import type { AccountRow } from '../lib/capture/accounts.js';
import { openGmail } from '../lib/capture/syncRunner.js';
import { GmailStop } from '../lib/gmail/types.js';

interface SetupItem {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
}

interface ProbeResult {
  email: string;
  ok: boolean;
  enrolled: boolean;
  auth_method: 'dwd' | 'oauth';
  messages_total?: number;
  history_id?: string;
  error?: string;
  fix?: string;
}

/** The fix for a refusal the probe met, in the admin's terms. */
export function fixFor(message: string, authMethod: 'dwd' | 'oauth'): string {
  const m = message.toLowerCase();
  if (m.includes('unauthorized_client') || m.includes('delegation')) {
    return 'Google Admin console → Security → Access and data control → API controls → Manage domain-wide delegation: add the service account\'s client id with scope https://www.googleapis.com/auth/gmail.readonly';
  }
  if (m.includes('invalid jwt') || m.includes('clock')) return 'The box\'s clock is off: enable NTP time sync on the host, then try again';
  if (m.includes('invalid_grant') && authMethod === 'oauth') return 'The owner\'s consent was revoked or expired: start per-user consent again from the Mailboxes page and hand the link to the owner';
  if (m.includes('invalid email') || m.includes('user id') || m.includes('suspended') || m.includes('invalid_grant')) {
    return 'Check the address: the mailbox must exist in the workspace and not be suspended (Admin console → Directory → Users)';
  }
  if (m.includes('failedprecondition') || m.includes('no gmail')) return 'The user has no Gmail service: Admin console → Apps → Google Workspace → Gmail → turn it on for this user';
  if (m.includes('consent')) return 'The mailbox owner must consent: start per-user consent from the Mailboxes page and hand them the link';
  if (m.includes('daily')) return 'The project\'s daily Gmail limit is spent: wait until tomorrow (Pacific time) or ask Google for more quota';
  if (m.includes('domainpolicy') || m.includes('insufficient')) return 'The Workspace admin blocked the app or the scope: allow the client in Admin console → Security → API controls';
  if (m.includes('econnrefused') || m.includes('enotfound') || m.includes('network') || m.includes('connect')) return 'The box cannot reach Google: check its network, DNS and any proxy';
  return 'See the message above; docs/runbook.md lists the refusals Google gives and what each needs';
}

const CheckSetupInput = z.object({
  email: z.string().trim().toLowerCase().email('must be an email address').max(320).optional(),
});

export const checkSetup = defineFunction({
  name: 'checkSetup',
  input: CheckSetupInput,
  async run(deps, input) {
    const g = deps.config.gmail;
    const items: SetupItem[] = [];
    items.push(
      g.enabled
        ? { name: 'integration', ok: true, detail: `enabled (CRM_GMAIL_INTEGRATION_ENABLED=true), auth method ${g.authMethod}` }
        : { name: 'integration', ok: false, detail: 'disabled (CRM_GMAIL_INTEGRATION_ENABLED is not true): nothing is synced; stored mail stays readable', fix: 'Set CRM_GMAIL_INTEGRATION_ENABLED=true with a workspace domain and a key (or an OAuth client), then restart' },
    );
    if (g.authMethod === 'dwd') {
      const problem = g.saKeyPath ? checkKeyFile(g.saKeyPath) : 'CRM_GMAIL_SA_KEY_PATH is not set';
      items.push(
        problem
          ? { name: 'key file', ok: false, detail: problem, fix: g.saKeyPath ? `chmod 600 ${g.saKeyPath} (and make sure it exists and is the service-account JSON key)` : 'Set CRM_GMAIL_SA_KEY_PATH to the service-account JSON key, mode 0600' }
          : { name: 'key file', ok: true, detail: `${g.saKeyPath} present, mode 0600 (owner only)` },
      );
    } else {
      items.push(
        g.oauth
          ? { name: 'oauth client', ok: true, detail: `client id ${g.oauth.clientId}, redirect ${g.oauth.redirectUrl}` }
          : { name: 'oauth client', ok: false, detail: 'the OAuth client is incomplete', fix: 'Set CRM_GMAIL_OAUTH_CLIENT_ID, CRM_GMAIL_OAUTH_CLIENT_SECRET and CRM_GMAIL_OAUTH_REDIRECT_URL' },
      );
    }
    items.push(
      g.workspaceDomains.length
        ? { name: 'workspace domain', ok: true, detail: g.workspaceDomains.join(', ') }
        : { name: 'workspace domain', ok: false, detail: 'no workspace domain', fix: 'Set CRM_GMAIL_WORKSPACE_DOMAIN to the firm\'s domain, e.g. fund.com' },
    );
    items.push({
      name: 'quota model',
      ok: true,
      detail: `${g.quotaCosts} costs (messages.get ${g.quotaCosts === '2026' ? 20 : 5} units), at most ${g.rateUnitsSec} units/s per mailbox`,
    });

    let probe: ProbeResult | null = null;
    if (input.email) {
      const row = await one<Pick<AccountRow, 'id' | 'email' | 'auth_method' | 'learned_units_sec'>>(
        deps.db,
        'SELECT id, email, auth_method, learned_units_sec FROM email_accounts WHERE email = ? AND unenrolled_at IS NULL',
        [input.email],
      );
      const account = row ?? { id: 0, email: input.email, auth_method: g.authMethod, learned_units_sec: null };
      probe = { email: input.email, ok: false, enrolled: !!row, auth_method: account.auth_method };
      if (!g.enabled) {
        probe.error = 'the Gmail integration is disabled, so no probe was made';
        probe.fix = items[0]!.fix;
      } else {
        try {
          const gmail = await openGmail(deps, account);
          const profile = await gmail.getProfile();
          probe.ok = true;
          probe.messages_total = profile.messagesTotal;
          probe.history_id = profile.historyId;
        } catch (err) {
          const message = err instanceof GmailStop || err instanceof AppError ? err.message : String(err instanceof Error ? err.message : err);
          probe.error = message;
          probe.fix = fixFor(message, account.auth_method);
        }
      }
    }
    return { ok: items.every((i) => i.ok) && (probe?.ok ?? true), items, probe };
  },
});
