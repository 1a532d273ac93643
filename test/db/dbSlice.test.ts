// A long write through sliced() lets the event loop run while its transaction stays open, and
// stays one transaction: rolled back, none of it is kept.
import { afterEach, describe, expect, it } from 'vitest';
import { all } from '../../lib/db/client.js';
import { breathe, sliced } from '../../lib/db/slice.js';
import { makeDeps, type TestDeps } from '../helpers/deps.js';

let deps: TestDeps | undefined;
afterEach(async () => {
  await deps?.cleanup();
  deps = undefined;
});

// Bounded by statements, not by time: without the turns the loop runs to the end with the
// macrotask never served (each statement's promise resolves as a microtask).
const MAX_STATEMENTS = 200_000;

describe('sliced transactions', () => {
  it('give the event loop a turn while the transaction is open, and the write stays atomic', async () => {
    deps = await makeDeps();
    await deps.db.execute('CREATE TABLE slice_t (x INTEGER)');
    const raw = await deps.db.transaction('write');
    const tx = sliced(raw);
    let served = false;
    setImmediate(() => (served = true));
    let n = 0;
    while (!served && n < MAX_STATEMENTS) {
      await tx.execute({ sql: 'INSERT INTO slice_t (x) VALUES (?)', args: [n++] });
    }
    expect(served).toBe(true);
    expect(n).toBeLessThan(MAX_STATEMENTS);
    // A reader on another connection sees nothing of the open transaction (WAL).
    expect(await all(deps.db, 'SELECT x FROM slice_t')).toEqual([]);
    await tx.rollback();
    tx.close();
    expect(await all(deps.db, 'SELECT x FROM slice_t')).toEqual([]);
  });

  it('breathe() gives a turn in a long computation without statements', async () => {
    let served = false;
    setImmediate(() => (served = true));
    let n = 0;
    while (!served && n < 50_000_000) {
      // Work in small steps, as the feed's loop over a chunk's emails does.
      for (let i = 0; i < 1000; i++) n++;
      await breathe();
    }
    expect(served).toBe(true);
    expect(n).toBeLessThan(50_000_000);
  });
});
