import { afterEach, describe, expect, it } from 'vitest';
import { failure, harness, type Harness } from './helpers.js';

const PAT = 'pat@fund.test';

describe('faults', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('failNext makes the next call to a method fail once with 500 backendError, uncharged', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    h.emu.control.failNext({ method: 'messages.list', fault: 'backendError' });
    await g.users.getProfile({ userId: 'me' });
    const err = await failure(g.users.messages.list({ userId: 'me' }));
    expect(err.response?.status).toBe(500);
    expect(err.response?.data.error).toMatchObject({ code: 500, message: 'Backend Error', errors: [{ reason: 'backendError' }] });
    await g.users.messages.list({ userId: 'me' });
    const s = h.emu.control.stats().mailboxes[PAT]!;
    expect(s.units['messages.list']).toBe(5);
    expect(s.statuses).toEqual({ '200': 2, '500': 1 });
  });

  it('a dropped connection reaches the client as a socket error without a response', async () => {
    h = await harness({}, [PAT]);
    const g = h.dwd(PAT);
    await g.users.getProfile({ userId: 'me' });
    h.emu.control.failNext({ method: 'getProfile', fault: 'drop' });
    const err = await failure(g.users.getProfile({ userId: 'me' }));
    expect(err.response).toBeUndefined();
    expect(String(err.code ?? err.message)).toMatch(/ECONNRESET|socket hang up|other side closed/i);
    await g.users.getProfile({ userId: 'me' });
  });

  it('failNext counts, per-mailbox targets and custom answers', async () => {
    h = await harness({}, [PAT, 'lee@fund.test']);
    const g = h.dwd(PAT);
    h.emu.control.failNext({ method: '*', count: 2, fault: 'unavailable', email: PAT });
    h.emu.control.failNext({ method: 'getProfile', fault: { status: 403, reason: 'domainPolicy', message: 'The domain administrators have disabled Gmail apps.' } });
    await h.dwd('lee@fund.test').users.labels.list({ userId: 'me' });
    expect((await failure(g.users.labels.list({ userId: 'me' }))).response?.status).toBe(503);
    expect((await failure(g.users.messages.list({ userId: 'me' }))).response?.status).toBe(503);
    const custom = await failure(g.users.getProfile({ userId: 'me' }));
    expect(custom.response?.status).toBe(403);
    expect(custom.response?.data.error.errors[0].reason).toBe('domainPolicy');
    await g.users.getProfile({ userId: 'me' });
  });

  it('random faults come from the seed: same seed, same sequence', async () => {
    const run = async (): Promise<number[]> => {
      h = await harness({ seed: 'faults-1', faults: { errorRate: 0.3, unavailableRate: 0.2 } }, [PAT]);
      const g = h.dwd(PAT);
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        try {
          statuses.push((await g.users.getProfile({ userId: 'me' })).status);
        } catch (e) {
          statuses.push((e as { response: { status: number } }).response.status);
        }
      }
      await h.close();
      return statuses;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a).toContain(500);
    expect(a).toContain(503);
    expect(a).toContain(200);
    h = await harness({}, [PAT]);
  });

  it('per-method overrides replace the global fault settings', async () => {
    h = await harness({ faults: { errorRate: 1, perMethod: { getProfile: { errorRate: 0 } } } }, [PAT]);
    const g = h.dwd(PAT);
    await g.users.getProfile({ userId: 'me' });
    expect((await failure(g.users.labels.list({ userId: 'me' }))).response?.status).toBe(500);
    h.emu.control.setFaults({ errorRate: 0 });
    await g.users.labels.list({ userId: 'me' });
  });

  it('bad fault settings are refused with a message naming the field', async () => {
    h = await harness({}, [PAT]);
    expect(() => h.emu.control.setFaults({ dropRate: 2 })).toThrow(/dropRate/);
    expect(() => h.emu.control.failNext({ method: 'getProfile', fault: { status: 200, reason: 'x', message: 'y' } })).toThrow(/status/);
  });
});
