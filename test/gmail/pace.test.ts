// Adaptive pace: a Cloud project whose real per-user limit is lower than the configured budget.
import { http, HttpResponse } from 'msw';
import { afterEach, expect, it } from 'vitest';
import { GMAIL_ROOT, gmailErrorBody, mockMessage } from '../mocks/gmail.js';
import { gmailTest, type GmailTest } from './harness.js';
import { server } from '../mocks/server.js';


let t: GmailTest;
afterEach(async () => {
  await t?.cleanup();
});

it('under a hidden 60 units/s limit the pace converges to at most 60 and the rate limits stop', async () => {
  t = await gmailTest(); // budget 150 units/s, legacy costs: messages.get = 5
  const account = t.account();
  t.mock.mailbox(account.email, { messages: [mockMessage({ id: 'm' })] });
  const HIDDEN = 60;
  const accepted: { at: number; units: number }[] = [];
  const answers: { at: number; limited: boolean }[] = [];
  server.use(...t.mock.handlers());
  server.use(
    http.get(`${GMAIL_ROOT}gmail/v1/users/:userId/messages/:id`, () => {
      const now = t.clock.now();
      const used = accepted.filter((g) => g.at > now - 1000).reduce((s, g) => s + g.units, 0);
      if (used + 5 > HIDDEN) {
        answers.push({ at: now, limited: true });
        return HttpResponse.json(gmailErrorBody(429, 'rateLimitExceeded', 'User-rate limit exceeded'), { status: 429 });
      }
      accepted.push({ at: now, units: 5 });
      answers.push({ at: now, limited: false });
      return undefined;
    }),
  );
  const gmail = t.factory(account);
  const N = 1500;
  const results = await t.run(Promise.all(Array.from({ length: N }, () => gmail.getMessage('m'))));

  expect(results.every((m) => m?.id === 'm')).toBe(true);
  const limited = answers.filter((a) => a.limited);
  expect(limited.length).toBeGreaterThan(0);
  expect(gmail.stats.rateLimited).toBe(limited.length);
  // Converged: at or under the hidden limit, yet not collapsed to the floor.
  expect(gmail.paceUnitsSec).toBeLessThanOrEqual(HIDDEN);
  expect(gmail.paceUnitsSec).toBeGreaterThan(HIDDEN / 2);
  // The violations stopped: none in the second half of the run.
  const half = answers.slice(Math.floor(answers.length / 2));
  expect(half.filter((a) => a.limited)).toEqual([]);
  const lowered = t.deps.logs.lines.filter((l) => l.event === 'gmail.pace_lowered');
  expect(lowered.length).toBeGreaterThan(0);
  expect(lowered[0]).toMatchObject({ account: account.email, method: 'messages.get', from: 150 });
});
