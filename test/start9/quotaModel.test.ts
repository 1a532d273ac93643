// The package's quota-model check accepts exactly what the server's config accepts, so a setting
// saved by the action never stops the server at start, and the environment it produces gives the
// server the model and pace the owner chose.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/core/config.js';
import { describeGmailQuota, gmailQuotaEnv, parseGmailQuota, QuotaModelError, type GmailQuota } from '../../start9/startos/quotaModel.js';

const serverConfig = (env: Record<string, string>) => loadConfig({ CRM_DATA_DIR: '/nonexistent-crm-data', ...env }).gmail;

const serverAccepts = (model: string, rate: number | null): { quotaCosts: string; rateUnitsSec: number } | undefined => {
  try {
    const { quotaCosts, rateUnitsSec } = serverConfig({ CRM_GMAIL_QUOTA_COSTS: model, ...(rate === null ? {} : { CRM_GMAIL_RATE_UNITS_SEC: String(rate) }) });
    return { quotaCosts, rateUnitsSec };
  } catch {
    return undefined;
  }
};

const packageAccepts = (model: string, rate: number | null): GmailQuota | undefined => {
  try {
    return parseGmailQuota({ model, rate });
  } catch (err) {
    expect(err).toBeInstanceOf(QuotaModelError);
    return undefined;
  }
};

describe('parseGmailQuota', () => {
  it('no rate → the model alone, the server picks its default', () => {
    expect(parseGmailQuota({ model: 'legacy', rate: null })).toEqual({ model: 'legacy', rateUnitsSec: null });
    expect(parseGmailQuota({ model: '2026', rate: undefined })).toEqual({ model: '2026', rateUnitsSec: null });
  });

  it('a rate within the model\'s limit is kept', () => {
    expect(parseGmailQuota({ model: 'legacy', rate: 250 })).toEqual({ model: 'legacy', rateUnitsSec: 250 });
    expect(parseGmailQuota({ model: '2026', rate: 100 })).toEqual({ model: '2026', rateUnitsSec: 100 });
    expect(parseGmailQuota({ model: '2026', rate: 1 })).toEqual({ model: '2026', rateUnitsSec: 1 });
  });

  it('2026 with a rate above 100 → refused, naming the cap and the rate given', () => {
    expect(() => parseGmailQuota({ model: '2026', rate: 101 })).toThrow(/at most 100 units per second under the 2026 model.*not 101/);
    expect(() => parseGmailQuota({ model: '2026', rate: 150 })).toThrow(QuotaModelError);
  });

  it('a rate outside 1–250 → refused, naming the range', () => {
    expect(() => parseGmailQuota({ model: 'legacy', rate: 0 })).toThrow(/between 1 and 250 units per second, not 0/);
    expect(() => parseGmailQuota({ model: 'legacy', rate: 251 })).toThrow(/between 1 and 250 units per second, not 251/);
    expect(() => parseGmailQuota({ model: 'legacy', rate: -5 })).toThrow(/between 1 and 250/);
  });

  it('a fractional or non-numeric rate → refused as not a whole number', () => {
    expect(() => parseGmailQuota({ model: 'legacy', rate: 12.5 })).toThrow(/whole number of units per second, not 12\.5/);
    expect(() => parseGmailQuota({ model: 'legacy', rate: '100' })).toThrow(/whole number/);
    expect(() => parseGmailQuota({ model: 'legacy', rate: Number.NaN })).toThrow(/whole number/);
  });

  it('an unknown model → refused, naming the two models', () => {
    expect(() => parseGmailQuota({ model: '2025', rate: null })).toThrow(/must be "legacy" or "2026", not "2025"/);
    expect(() => parseGmailQuota({ model: undefined, rate: null })).toThrow(QuotaModelError);
  });

  const models = ['legacy', '2026', 'LEGACY', 'new'];
  const rates = [null, 1, 99, 100, 101, 150, 250, 251, 0];
  const samples = models.flatMap((m) => rates.map((r) => [m, r] as const));
  it.each(samples)('agrees with the server config on model %j, rate %j', (model, rate) => {
    const pkg = packageAccepts(model, rate);
    const server = serverAccepts(model, rate);
    expect(pkg === undefined).toBe(server === undefined);
    if (pkg) expect(serverConfig(gmailQuotaEnv(pkg))).toMatchObject(server!);
  });
});

describe('gmailQuotaEnv', () => {
  it('nothing saved → legacy and no rate, i.e. the server\'s defaults (150 units/s)', () => {
    expect(gmailQuotaEnv(null)).toEqual({ CRM_GMAIL_QUOTA_COSTS: 'legacy' });
    expect(serverConfig(gmailQuotaEnv(null))).toMatchObject({ quotaCosts: 'legacy', rateUnitsSec: 150 });
  });

  it('2026 without a rate → only the model; the server paces at 100', () => {
    const env = gmailQuotaEnv({ model: '2026', rateUnitsSec: null });
    expect(env).toEqual({ CRM_GMAIL_QUOTA_COSTS: '2026' });
    expect(serverConfig(env)).toMatchObject({ quotaCosts: '2026', rateUnitsSec: 100 });
  });

  it('a saved rate → passed as CRM_GMAIL_RATE_UNITS_SEC', () => {
    const env = gmailQuotaEnv({ model: '2026', rateUnitsSec: 80 });
    expect(env).toEqual({ CRM_GMAIL_QUOTA_COSTS: '2026', CRM_GMAIL_RATE_UNITS_SEC: '80' });
    expect(serverConfig(env)).toMatchObject({ quotaCosts: '2026', rateUnitsSec: 80 });
  });
});

describe('describeGmailQuota', () => {
  it('states the model and the pace, marking the model\'s default', () => {
    expect(describeGmailQuota(null)).toBe('the legacy quota model at 150 units per second per mailbox (its default)');
    expect(describeGmailQuota({ model: '2026', rateUnitsSec: null })).toBe('the 2026 quota model at 100 units per second per mailbox (its default)');
    expect(describeGmailQuota({ model: 'legacy', rateUnitsSec: 60 })).toBe('the legacy quota model at 60 units per second per mailbox');
  });
});
