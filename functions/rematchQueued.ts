// Rematch of the mail touched by directory edits (investors, contacts, imports, exclusions
// queue the addresses and domains they changed). Scheduled every minute and run at the end of
// each syncAll, so nobody has to remember to call rematch. Records a `rematch` run only when
// queued values involve stored mail. Safe to run twice: the second finds the queue empty.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { drainRematchQueue } from '../lib/matching/rematch.js';

export const rematchQueued = defineFunction({
  name: 'rematchQueued',
  input: z.object({ trigger: z.string().optional() }).passthrough(),
  run: async (deps) => drainRematchQueue(deps),
});
