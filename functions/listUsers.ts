// Lists the team members (no password hashes). Read-only; runs on GET /api/users (admin).
import { z } from 'zod';
import { defineFunction } from '../lib/core/fn.js';
import { readUsers } from '../lib/directory/users.js';

export const listUsers = defineFunction({
  name: 'listUsers',
  input: z.object({}),
  async run(deps) {
    return { users: await readUsers(deps.db) };
  },
});
