import { afterEach, describe, expect, it } from 'vitest';
import { COST_TABLES } from '../../tools/gmail-emulator/index.js';
import { failure, harness, mail, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';
const LEE = 'lee@fund.test';

describe('quota', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('legacy: 250 units in one second pass, the next request is refused, counted as a violation and not charged', async () => {
    h = await harness({ quota: { model: 'legacy', retryAfterChance: 1 } }, [PAT]);
    const { id } = h.emu.control.deliver(mail(), { to: [PAT] })[PAT]!;
    const g = h.dwd(PAT);
    for (let i = 0; i < 50; i++) await g.users.messages.get({ userId: 'me', id, format: 'minimal' });
    const err = await failure(g.users.messages.get({ userId: 'me', id, format: 'minimal' }));
    expect([429, 403]).toContain(err.response?.status);
    const reason = err.response?.data.error.errors[0].reason;
    expect(err.response?.status === 429 ? reason === 'rateLimitExceeded' : reason === 'userRateLimitExceeded').toBe(true);
    expect(Number(err.response?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const s = h.emu.control.stats().mailboxes[PAT]!;
    expect(s.units['messages.get']).toBe(250);
    expect(s.calls['messages.get']).toBe(51);
    expect(s.peakUnitsPerSecond).toBe(250);
    expect(s.violations).toEqual({ rate: 1, concurrency: 0, bandwidth: 0, total: 1 });

    h.emu.control.advanceTime(1000);
    await g.users.messages.get({ userId: 'me', id, format: 'minimal' });
    expect(h.emu.control.stats().mailboxes[PAT]!.units['messages.get']).toBe(255);
  });

  it('2026 costs: messages.get 20, attachments.get 20, threads.get 40, and 100 units/s', async () => {
    expect(COST_TABLES['2026']).toMatchObject({ 'messages.get': 20, 'messages.attachments.get': 20, 'threads.get': 40, 'messages.list': 5, 'history.list': 2 });
    h = await harness({ quota: { model: '2026' } }, [PAT]);
    const { id, threadId } = h.emu.control.deliver(mail(), { to: [PAT] })[PAT]!;
    const g = h.dwd(PAT);
    await g.users.threads.get({ userId: 'me', id: threadId });
    await g.users.messages.get({ userId: 'me', id });
    await g.users.messages.list({ userId: 'me' });
    await g.users.getProfile({ userId: 'me' });
    const s = h.emu.control.stats().mailboxes[PAT]!;
    expect(s.units).toEqual({ 'threads.get': 40, 'messages.get': 20, 'messages.list': 5, getProfile: 1 });
    expect(s.unitsTotal).toBe(66);
    await g.users.messages.get({ userId: 'me', id });
    const err = await failure(g.users.messages.get({ userId: 'me', id }));
    expect([429, 403]).toContain(err.response?.status);
    expect(h.emu.control.stats().mailboxes[PAT]!.unitsTotal).toBe(86);
  });

  it('the 1-minute window is enforced separately from the 1-second one', async () => {
    h = await harness({ quota: { unitsPerSecond: 1000, unitsPerMinute: 12, rateLimitAnswer: '403' } }, [PAT]);
    const g = h.dwd(PAT);
    for (let i = 0; i < 2; i++) {
      await g.users.messages.list({ userId: 'me' });
      h.emu.control.advanceTime(10_000);
    }
    const err = await failure(g.users.messages.list({ userId: 'me' }));
    expect(err.response?.status).toBe(403);
    expect(err.response?.data.error.errors[0]).toMatchObject({ reason: 'userRateLimitExceeded', domain: 'usageLimits' });
    h.emu.control.advanceTime(40_001);
    await g.users.messages.list({ userId: 'me' });
    expect(h.emu.control.stats().mailboxes[PAT]!.peakUnitsPerMinute).toBe(10);
  });

  it('mailboxes have separate budgets, and one can be given a hidden lower limit', async () => {
    h = await harness({ quota: { unitsPerSecond: 10, perMailbox: { [LEE]: { unitsPerSecond: 5 } }, rateLimitAnswer: '429' } }, [PAT, LEE]);
    const pat = h.dwd(PAT);
    const lee = h.dwd(LEE);
    await pat.users.messages.list({ userId: 'me' });
    await pat.users.messages.list({ userId: 'me' });
    await lee.users.messages.list({ userId: 'me' });
    const err = await failure(lee.users.messages.list({ userId: 'me' }));
    expect(err.response?.status).toBe(429);
    expect(err.response?.data.error.errors[0].reason).toBe('rateLimitExceeded');
    const stats = h.emu.control.stats();
    expect(stats.mailboxes[PAT]!.violations.total).toBe(0);
    expect(stats.mailboxes[LEE]!.violations.rate).toBe(1);
    expect(stats.totals).toMatchObject({ units: 15, violations: 1, calls: 4 });
  });

  it('more than 10 requests in flight for one mailbox: 429 "Too many concurrent requests for user."', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    await g.users.getProfile({ userId: 'me' });
    const hold = h.emu.control.hold({ email: PAT });
    const inFlight = Array.from({ length: 10 }, () => g.users.getProfile({ userId: 'me' }));
    await hold.whenWaiting(10);
    expect(h.emu.control.inFlight(PAT)).toBe(10);
    const err = await failure(g.users.getProfile({ userId: 'me' }));
    expect(err.response?.status).toBe(429);
    expect(err.response?.data.error.message).toBe('Too many concurrent requests for user.');
    hold.release();
    expect((await Promise.all(inFlight)).every((r) => r.status === 200)).toBe(true);
    const s = h.emu.control.stats().mailboxes[PAT]!;
    expect(s.concurrencyPeak).toBe(10);
    expect(s.violations.concurrency).toBe(1);
    expect(s.units.getProfile).toBe(11);
  });

  it('a daily bandwidth cap answers 403 dailyLimitExceeded once spent', async () => {
    h = await harness({ quota: { dailyBandwidthBytes: 5000 }, accessTokenTtlSec: 2 * 86_400 }, [PAT]);
    const { id } = h.emu.control.deliver(mail({ body: 'x'.repeat(2000) }), { to: [PAT] })[PAT]!;
    const g = h.dwd(PAT);
    await g.users.messages.get({ userId: 'me', id, format: 'raw' });
    await g.users.messages.get({ userId: 'me', id, format: 'raw' });
    const err = await failure(g.users.messages.get({ userId: 'me', id, format: 'raw' }));
    expect(err.response?.status).toBe(403);
    expect(err.response?.data.error.errors[0]).toMatchObject({ reason: 'dailyLimitExceeded', domain: 'usageLimits' });
    const s = h.emu.control.stats().mailboxes[PAT]!;
    expect(s.violations.bandwidth).toBe(1);
    expect(s.bytesSent).toBeGreaterThan(5000);
    expect(s.bytesByMethod['messages.get']).toBe(s.bytesSent);
    h.emu.control.advanceTime(86_400_000);
    await g.users.messages.get({ userId: 'me', id, format: 'raw' });
  });

  it('resetStats clears the books', async () => {
    h = await harness({}, [PAT]);
    await h.dwd(PAT).users.getProfile({ userId: 'me' });
    h.emu.control.resetStats();
    expect(h.emu.control.stats().totals).toEqual({ calls: 0, units: 0, violations: 0, bytesSent: 0 });
  });

  it('the quota model can be switched at run time', async () => {
    h = await harness({}, [PAT]);
    const { id } = h.emu.control.deliver(mail(), { to: [PAT] })[PAT]!;
    const g = h.dwd(PAT);
    await g.users.messages.get({ userId: 'me', id });
    h.emu.control.setQuota({ model: '2026' });
    await g.users.messages.get({ userId: 'me', id });
    expect(h.emu.control.stats().mailboxes[PAT]!.units['messages.get']).toBe(25);
  });
});
