import { run, one } from '../../lib/db/client.js';
import type { Deps } from '../../lib/core/deps.js';

/** Put an investor with domains, investor emails and contacts straight into the directory. */
export async function addInvestor(deps: Deps, name: string, o: { domains?: string[]; emails?: string[]; contacts?: { name: string; emails: string[] }[] } = {}): Promise<number> {
  const now = new Date(deps.clock.now()).toISOString();
  await run(deps.db, 'INSERT INTO investors (name, created_at, updated_at) VALUES (?, ?, ?)', [name, now, now]);
  const inv = (await one<{ id: number }>(deps.db, 'SELECT id FROM investors WHERE name = ?', [name]))!;
  for (const d of o.domains ?? []) await run(deps.db, 'INSERT INTO investor_domains (investor_id, domain) VALUES (?, ?)', [inv.id, d]);
  for (const e of o.emails ?? []) await run(deps.db, 'INSERT INTO investor_emails (investor_id, email) VALUES (?, ?)', [inv.id, e]);
  for (const c of o.contacts ?? []) {
    const r = await one<{ id: number }>(deps.db, 'INSERT INTO contacts (investor_id, name, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id', [inv.id, c.name, now, now]);
    for (const e of c.emails) await run(deps.db, 'INSERT INTO contact_emails (contact_id, email) VALUES (?, ?)', [r!.id, e]);
  }
  return inv.id;
}
