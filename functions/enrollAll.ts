// Enrol every team member whose email is in the workspace domain, disabled ones included
// (disabling a user ends their sign-in, not the capture of the firm's mail). Runs on
// POST /api/email/accounts/enroll-all (admin). Safe to run again: members already
// enrolled are reported, not duplicated.
import { z } from 'zod';
import { all } from '../lib/db/client.js';
import { defineFunction } from '../lib/core/fn.js';
import { enrollOne, inWorkspace } from './enroll.js';

export const enrollAll = defineFunction({
  name: 'enrollAll',
  input: z.object({}).passthrough(),
  run: async (deps, _input, ctx) => {
    const users = await all<{ email: string }>(deps.db, 'SELECT email FROM users WHERE email IS NOT NULL ORDER BY email');
    const accounts = [];
    let created = 0;
    for (const u of users) {
      const email = u.email.toLowerCase();
      if (!inWorkspace(deps, email)) continue;
      // Team members are the firm's own mailboxes: delegation is the default way in.
      const r = await enrollOne(deps, email, deps.config.gmail.authMethod, ctx);
      if (r.created) created++;
      accounts.push(r.account);
    }
    return { accounts, created };
  },
});
