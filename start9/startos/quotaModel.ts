// Validation of the Gmail quota model entered in the package's action. It accepts exactly what
// lib/core/config.ts accepts for CRM_GMAIL_QUOTA_COSTS and CRM_GMAIL_RATE_UNITS_SEC
// (test/start9/quotaModel.test.ts holds the two together), so a saved setting never stops the
// server at start. No imports: the root's tests load this file without the SDK.

export class QuotaModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaModelError';
  }
}

export const QUOTA_MODELS = ['legacy', '2026'] as const;
export type QuotaModel = (typeof QUOTA_MODELS)[number];

export const RATE_MIN = 1;
export const RATE_MAX = 250;
/** Google's per-user cap for Cloud projects created since 2026-05-01: 6,000 units/min. */
export const RATE_MAX_2026 = 100;
/** What the server spends per second per mailbox when no rate is set. */
export const DEFAULT_RATE: Record<QuotaModel, number> = { legacy: 150, '2026': 100 };

export interface GmailQuota {
  model: QuotaModel;
  /** Units per second per mailbox; null leaves the server's default for the model. */
  rateUnitsSec: number | null;
}

/** Checks the action's input; throws naming what is wrong. */
export function parseGmailQuota(input: { model: unknown; rate: unknown }): GmailQuota {
  const { model, rate } = input;
  if (model !== 'legacy' && model !== '2026') {
    throw new QuotaModelError(`The quota model must be "legacy" or "2026", not ${JSON.stringify(model)}.`);
  }
  if (rate === null || rate === undefined) return { model, rateUnitsSec: null };
  if (typeof rate !== 'number' || !Number.isInteger(rate)) {
    throw new QuotaModelError(`The rate must be a whole number of units per second, not ${JSON.stringify(rate)}.`);
  }
  if (rate < RATE_MIN || rate > RATE_MAX) {
    throw new QuotaModelError(`The rate must be between ${RATE_MIN} and ${RATE_MAX} units per second, not ${rate}.`);
  }
  if (model === '2026' && rate > RATE_MAX_2026) {
    throw new QuotaModelError(
      `The rate must be at most ${RATE_MAX_2026} units per second under the 2026 model (Google caps such projects at 6,000 units/min per mailbox), not ${rate}. ` +
        'Lower it, or leave it empty for 100.',
    );
  }
  return { model, rateUnitsSec: rate };
}

/** The server's environment for a saved setting; nothing saved means the legacy model's defaults. */
export function gmailQuotaEnv(quota: GmailQuota | null): Record<string, string> {
  const env: Record<string, string> = { CRM_GMAIL_QUOTA_COSTS: quota?.model ?? 'legacy' };
  if (quota?.rateUnitsSec != null) env.CRM_GMAIL_RATE_UNITS_SEC = String(quota.rateUnitsSec);
  return env;
}

/** One line for the action's result and description: the model and the pace it gives. */
export function describeGmailQuota(quota: GmailQuota | null): string {
  const model = quota?.model ?? 'legacy';
  const rate = quota?.rateUnitsSec ?? DEFAULT_RATE[model];
  const isDefault = quota?.rateUnitsSec == null;
  return `the ${model} quota model at ${rate} units per second per mailbox${isDefault ? ' (its default)' : ''}`;
}
