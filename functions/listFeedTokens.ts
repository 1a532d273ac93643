// GET /api/feed/tokens (admin): the feed tokens, never their values. Read-only.
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { listFeedTokens as list } from '../lib/feed/tokens.js';

export const listFeedTokens = defineFunction({
  name: 'listFeedTokens',
  input: z.object({}),
  run: async (deps) => ({ tokens: await list(deps.db) }),
});
