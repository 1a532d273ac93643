// List enrolled mailboxes. Runs on GET /api/email/accounts (admin). Read-only.
import { z } from 'zod';
import { accountView, listAccountRows } from '../lib/capture/accounts.js';
import { defineFunction } from '../lib/core/fn.js';

export const listAccounts = defineFunction({
  name: 'listAccounts',
  input: z.object({}).passthrough(),
  run: async (deps) => {
    return { accounts: (await listAccountRows(deps.db)).map(accountView) };
  },
});
