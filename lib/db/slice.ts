// Time slices for long writes. The embedded driver runs every statement synchronously and its
// promises resolve at once, so a page write of hundreds of statements would otherwise be one
// task that holds the event loop (timers, paced requests, API answers) for its whole length.
// Long writers call breathe() between statements and between the rows they compute: once the
// current stretch has run SLICE_MS, it gives the loop a turn. The write transaction stays open
// across the turn, so the page is still atomic; readers use other connections (WAL) and other
// writers of this process wait for the write lock (client.ts).
import { setImmediate as turn } from 'node:timers/promises';
import type { InStatement, ResultSet, Transaction } from '@libsql/client';

/** Longest stretch of synchronous work between turns. */
export const SLICE_MS = 8;

// When the loop last had a turn from here. Shared by every writer: a stretch of one after a
// turn taken by another still started at that turn, and a stale time only means an early turn.
let since = performance.now();

/** Give the event loop a turn if this stretch has run for SLICE_MS or more. */
export async function breathe(): Promise<void> {
  if (performance.now() - since < SLICE_MS) return;
  await turn();
  since = performance.now();
}

/** The transaction, with a breathe() before each statement. */
export function sliced(tx: Transaction): Transaction {
  return {
    get closed() {
      return tx.closed;
    },
    execute: async (stmt: InStatement): Promise<ResultSet> => {
      await breathe();
      return tx.execute(stmt);
    },
    batch: async (stmts: InStatement[]) => {
      await breathe();
      return tx.batch(stmts);
    },
    executeMultiple: async (sql: string) => {
      await breathe();
      return tx.executeMultiple(sql);
    },
    commit: () => tx.commit(),
    rollback: () => tx.rollback(),
    close: () => tx.close(),
  };
}
