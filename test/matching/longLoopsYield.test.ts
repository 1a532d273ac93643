// Work that is only database statements (a full rematch, the activity rebuild, the benchmark
// store generator) runs as promise continuations that never give the event loop a turn by
// themselves. Each gives one per page: requests are answered meanwhile, and the embedded
// driver frees each statement's native memory in a finalizer that only runs on a later turn
// (without the turns, a 1,000,000-email rebuild grew by gigabytes).
import { afterEach, expect, it } from 'vitest';
import { openRun } from '../../lib/capture/runs.js';
import { recomputeAll } from '../../lib/insights/team.js';
import { rematchStored } from '../../lib/matching/rematch.js';
import { generateStore } from '../../bench/storeData.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

let deps: TestDeps;
afterEach(async () => deps?.cleanup());

/** Counts event-loop turns while `work` runs: a chain of setImmediate callbacks. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<number> {
  let turns = 0;
  let on = true;
  const tick = () => {
    if (!on) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  // Skip the first turn so the count is only what the work itself allowed.
  turns = -1;
  await work();
  on = false;
  return Math.max(0, turns);
}

it('the store generator, the activity rebuild and a full rematch each let the event loop turn between pages', async () => {
  deps = await makeDeps({ env: { CRM_GMAIL_WORKSPACE_DOMAIN: 'fund.test' } });
  const shape = { emails: 9_000, contacts: 300, investors: 40, partners: 4, firmDomain: 'fund.test', seed: 'turns' };
  // 9,000 emails are about 2,250 threads: two generator batches, nine pages of 1,000 below.
  expect(await turnsDuring(() => generateStore(deps.db, shape))).toBeGreaterThanOrEqual(1);
  expect(await turnsDuring(() => recomputeAll(deps.db, { clear: true }))).toBeGreaterThanOrEqual(8);
  const runId = await openRun(deps.db, null, 'rematch', deps.clock.now());
  expect(await turnsDuring(() => rematchStored(deps, runId, {}))).toBeGreaterThanOrEqual(8);
}, 60_000);
