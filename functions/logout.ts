// Revokes the token the request was made with. Runs on POST /api/auth/logout (any user); running it
// twice is harmless (the second request no longer authenticates).
import { z } from 'zod';
import { run } from '../lib/db/client.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { nowIso } from '../lib/core/time.js';
import { presentedTokenId } from '../lib/directory/users.js';

export const logout = defineFunction({
  name: 'logout',
  input: z.object({}),
  async run(deps, _input, ctx) {
    const tokenId = presentedTokenId(ctx);
    if (tokenId === undefined) throw new AppError('UNAUTHENTICATED', 'logout revokes the bearer token of a signed-in request');
    await run(deps.db, 'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [nowIso(deps.clock), tokenId]);
    deps.log.info({ event: 'auth.logout', user_id: ctx.actor?.id }, 'logged out');
    return null;
  },
});
