// Lists the team members (no password hashes). Read-only; runs on GET /api/users.
import { z } from 'zod';
import { defineFunction } from '../lib/fn.js';
import { readUsers } from '../lib/users.js';

export const listUsers = defineFunction({
  name: 'listUsers',
  input: z.object({}),
  async run(deps) {
    return { users: await readUsers(deps.db) };
  },
});
