// The cast: the firm and its partners (each a mailbox), investors with their domains and
// contacts (some on free mail with dotted or plus-tagged addresses), all from the seed.
import type { Rng } from '../gmail-emulator/rng.js';
import type { Addr } from './mime.js';
import { ACCENTED_NAMES, FIRST_NAMES, INVESTOR_PREFIXES, INVESTOR_SUFFIXES, LAST_NAMES, PARTNER_NAMES, ROLES_UNLISTED } from './words.js';

export interface Partner {
  name: string;
  username: string;
  email: string;
}

export interface Contact {
  name: string;
  /** Addresses as registered in the directory (the first is the primary). */
  emails: string[];
  /** The address this contact actually writes from (may differ in dots, case or +tag from the registered one). */
  writesFrom: string;
  investor: string;
}

export interface Investor {
  name: string;
  domains: string[];
  /** Investor-level addresses (e.g. ir@…), matched as investor_email. */
  emails: string[];
  contacts: Contact[];
  /** People at the investor's domain who are not in the directory (match by domain only). */
  unlisted: Addr[];
}

/** The JSON body of POST /api/investors/import (docs/api.md). */
export interface ImportInvestor {
  name: string;
  domains: string[];
  emails: string[];
  contacts: { name: string; emails: string[] }[];
}

export interface Cast {
  firmName: string;
  firmDomain: string;
  partners: Partner[];
  investors: Investor[];
}

const slug = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ø/gi, 'o')
    .replace(/ł/gi, 'l')
    .replace(/ı/g, 'i')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '');

export function makeCast(rng: Rng, o: { firmDomain: string; partners: number; investors: number }): Cast {
  if (o.partners < 1 || o.partners > PARTNER_NAMES.length) throw new Error(`partners must be 1..${PARTNER_NAMES.length}, got ${o.partners}`);
  const maxInvestors = INVESTOR_PREFIXES.length * INVESTOR_SUFFIXES.length;
  if (o.investors < 1 || o.investors > maxInvestors) throw new Error(`investors must be 1..${maxInvestors}, got ${o.investors}`);
  const partners: Partner[] = PARTNER_NAMES.slice(0, o.partners).map(([first, last]) => ({
    name: `${first} ${last}`,
    username: first.toLowerCase(),
    email: `${first.toLowerCase()}@${o.firmDomain}`,
  }));

  const prefixes = rng.shuffle([...INVESTOR_PREFIXES]);
  const usedNames = new Set<string>();
  const usedEmails = new Set<string>(partners.map((p) => p.email));
  const investors: Investor[] = [];
  let accented = 0;
  for (let i = 0; i < o.investors; i++) {
    const prefix = prefixes[i % prefixes.length]!;
    let suffix = rng.pick(INVESTOR_SUFFIXES);
    while (usedNames.has(`${prefix} ${suffix[0]}`)) suffix = rng.pick(INVESTOR_SUFFIXES);
    const name = `${prefix} ${suffix[0]}`;
    usedNames.add(name);
    const domain = `${slug(prefix)}-${suffix[1]}.example`;
    const domains = [domain];
    const sub = rng.chance(0.2) ? `mail.${domain}` : null;
    if (sub) domains.push(sub);
    const emails = rng.chance(0.2) ? [`${rng.pick(['ir', 'deals', 'investments'])}@${domain}`] : [];
    const contacts: Contact[] = [];
    const n = rng.int(1, 4);
    for (let c = 0; c < n; c++) {
      let first: string;
      let last: string;
      if (accented < ACCENTED_NAMES.length && rng.chance(0.12)) [first, last] = ACCENTED_NAMES[accented++]!;
      else [first, last] = [rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)];
      const fullName = `${first} ${last}`;
      const kind = rng.next();
      let registered: string;
      let writesFrom: string;
      if (kind < 0.15) {
        // Free mail: registered with dots, sometimes written without them, with a +tag or via googlemail.com.
        registered = `${slug(first)}.${slug(last)}${rng.int(1, 99)}@gmail.com`;
        const [local] = registered.split('@') as [string];
        const style = rng.int(0, 3);
        writesFrom =
          style === 0
            ? registered
            : style === 1
              ? `${local.replace(/\./g, '')}@gmail.com`
              : style === 2
                ? `${local}+${rng.pick(['fund', 'deals', 'lp'])}@googlemail.com`
                : `${local.charAt(0).toUpperCase()}${local.slice(1)}@Gmail.com`;
      } else {
        const d = sub && rng.chance(0.5) ? sub : domain;
        registered = `${slug(first)}.${slug(last)}@${d}`;
        writesFrom = rng.chance(0.1) ? registered.replace(/^./, (ch) => ch.toUpperCase()) : registered;
      }
      if (usedEmails.has(registered.toLowerCase())) continue;
      usedEmails.add(registered.toLowerCase());
      contacts.push({ name: fullName, emails: [registered], writesFrom, investor: name });
    }
    const unlisted: Addr[] = rng.chance(0.3) ? [{ name: null, address: `${rng.pick(ROLES_UNLISTED)}@${domain}` }] : [];
    investors.push({ name, domains, emails, contacts, unlisted });
  }
  return { firmName: 'Harbor Ridge Capital', firmDomain: o.firmDomain, partners, investors };
}

export function directory(cast: Cast): ImportInvestor[] {
  return cast.investors.map((i) => ({
    name: i.name,
    domains: [...i.domains],
    emails: [...i.emails],
    contacts: i.contacts.map((c) => ({ name: c.name, emails: [...c.emails] })),
  }));
}
