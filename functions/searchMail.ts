// Searches matched mail (subject, body text, participants, attachment names), best match
// first. Any signed-in user may read every matched email, so every hit is theirs to see;
// unmatched mail is never indexed. Read-only; runs on GET /api/search and the console.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { MAX_QUERY_CHARS, searchEmails } from '../lib/search/index.js';

export const searchMail = defineFunction({
  name: 'searchMail',
  input: z.object({
    q: z.string().trim().min(1, 'is required').max(MAX_QUERY_CHARS, `must be at most ${MAX_QUERY_CHARS} characters`),
    limit: z.coerce.number({ message: 'must be a whole number from 1 to 100' }).int('must be a whole number from 1 to 100').min(1, 'must be a whole number from 1 to 100').max(100, 'must be a whole number from 1 to 100').default(30),
    // Where the page starts among the best matches, for the console's next page.
    offset: z.coerce.number({ message: 'must be a whole number from 0 to 10000' }).int('must be a whole number from 0 to 10000').min(0, 'must be a whole number from 0 to 10000').max(10_000, 'must be a whole number from 0 to 10000').default(0),
  }),
  async run(deps, input) {
    return { results: await searchEmails(deps.db, input.q, input.limit, input.offset) };
  },
});
