// Email address normalisation and folding (case, googlemail.com, Gmail dots, +tags), domain helpers and the
// free-mail check used by matching.
import { createRequire } from 'node:module';

// The package ships CommonJS JSON; createRequire loads it the same way under tsx, vitest and node.
const freeMailList = createRequire(import.meta.url)('free-email-domains') as string[];
const FREE_MAIL = new Set<string>(freeMailList.map((d) => d.toLowerCase()));
// googlemail.com is folded into gmail.com, so both must count as free mail whatever the list holds.
FREE_MAIL.add('gmail.com');
FREE_MAIL.add('googlemail.com');

const ADDRESS = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+$/;

/** Trimmed, lower-cased address, or null when the text is not an address (`local@domain`). */
export function normalizeAddress(s: string | null | undefined): string | null {
  if (typeof s !== 'string') return null;
  let a = s.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1).trim();
  a = a.toLowerCase();
  if (a.endsWith('.')) a = a.replace(/\.+$/, '');
  if (!ADDRESS.test(a)) return null;
  const at = a.lastIndexOf('@');
  const domain = a.slice(at + 1);
  if (at === 0 || !domain || domain.startsWith('.') || domain.includes('..')) return null;
  return a;
}

/** Lower-cased domain without a trailing dot; '' when empty. */
export function normalizeDomain(domain: string): string {
  let d = domain.trim().toLowerCase();
  if (d.startsWith('@')) d = d.slice(1);
  return d.replace(/\.+$/, '');
}

/**
 * The canonical form two addresses are compared in: lower case; googlemail.com is gmail.com;
 * dots in a gmail.com local part are ignored; a `+tag` suffix is ignored for every domain.
 * Text that is not an address comes back trimmed and lower-cased, unchanged otherwise.
 */
export function foldAddress(addr: string): string {
  const a = normalizeAddress(addr);
  return a ? foldNormalized(a) : addr.trim().toLowerCase();
}

/** foldAddress for an address already through normalizeAddress (the matcher's hot path). */
export function foldNormalized(a: string): string {
  const at = a.lastIndexOf('@');
  let local = a.slice(0, at);
  let domain = a.slice(at + 1);
  if (domain === 'googlemail.com') domain = 'gmail.com';
  const plus = local.indexOf('+');
  // A local part that is nothing but a tag has no base to fold to; keep it whole.
  if (plus > 0) local = local.slice(0, plus);
  if (domain === 'gmail.com' && local.includes('.')) {
    const undotted = local.replace(/\./g, '');
    if (undotted) local = undotted;
  }
  return `${local}@${domain}`;
}

/** Domain part of an address (lower case), or null when it is not an address. */
export function domainOf(addr: string): string | null {
  const a = normalizeAddress(addr);
  return a ? a.slice(a.lastIndexOf('@') + 1) : null;
}

/** True when `domain` is `parent` or lies under it (`mail.acme.com` under `acme.com`). */
export function isSubdomainOf(domain: string, parent: string): boolean {
  const d = normalizeDomain(domain);
  const p = normalizeDomain(parent);
  if (!d || !p) return false;
  return d === p || d.endsWith(`.${p}`);
}

/** Every suffix of a domain that could be a registered parent: `a.b.c` → `a.b.c`, `b.c`, `c`. */
export function domainAndParents(domain: string): string[] {
  const d = normalizeDomain(domain);
  if (!d) return [];
  const out = [d];
  for (let i = d.indexOf('.'); i >= 0; i = d.indexOf('.', i + 1)) out.push(d.slice(i + 1));
  return out;
}

/** True for the domains of free mail providers (from the `free-email-domains` package). */
export function isFreeMailDomain(domain: string): boolean {
  return FREE_MAIL.has(normalizeDomain(domain));
}
