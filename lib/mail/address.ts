// The one place addresses and domains are normalised and folded (lower case, googlemail.com,
// Gmail dots, +tags), plus the domain helpers and the free-mail and public-suffix checks. Every
// other module asks here rather than lower-casing or folding by itself, so matching, rematch,
// the directory and consent cannot disagree about whether two spellings are one mailbox.
//
// Everything here is linear in its input: addresses arrive from strangers' headers.
import { createRequire } from 'node:module';
import { parse as parseDomainName } from 'tldts';

// The package ships CommonJS JSON; createRequire loads it the same way under tsx, vitest and node.
const freeMailList = createRequire(import.meta.url)('free-email-domains') as string[];
const FREE_MAIL = new Set<string>(freeMailList.map((d) => d.toLowerCase()));
// googlemail.com is folded into gmail.com, so both must count as free mail whatever the list holds.
FREE_MAIL.add('gmail.com');
FREE_MAIL.add('googlemail.com');

/** Longest address kept (RFC 5321: 64 + 1 + 255); longer text is not an address. */
const MAX_ADDRESS_LENGTH = 320;

const ADDRESS = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+$/;

/** `s` without trailing `ch`s, in one backwards scan (a regex like /\.+$/ is quadratic on runs). */
export function trimTrailing(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1]!)) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** Trimmed, lower-cased address, or null when the text is not an address (`local@domain`). */
export function normalizeAddress(s: string | null | undefined): string | null {
  if (typeof s !== 'string') return null;
  let a = s.trim();
  if (a.length > MAX_ADDRESS_LENGTH + 2) return null;
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1).trim();
  a = trimTrailing(a.toLowerCase(), '.');
  if (a.length > MAX_ADDRESS_LENGTH || !ADDRESS.test(a)) return null;
  const at = a.lastIndexOf('@');
  const domain = a.slice(at + 1);
  if (at === 0 || !domain || domain.startsWith('.') || domain.includes('..')) return null;
  return a;
}

/** Lower-cased domain without a leading @ or trailing dots; '' when empty. */
export function normalizeDomain(domain: string): string {
  let d = domain.trim().toLowerCase();
  if (d.startsWith('@')) d = d.slice(1);
  return trimTrailing(d, '.');
}

/** A normalised domain as matching compares it: googlemail.com is gmail.com. */
export function foldDomain(domain: string): string {
  const d = normalizeDomain(domain);
  return d === 'googlemail.com' ? 'gmail.com' : d;
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
export function foldNormalized(a: string, opts: { tags?: boolean } = {}): string {
  const at = a.lastIndexOf('@');
  let local = a.slice(0, at);
  const domain = foldDomain(a.slice(at + 1));
  const plus = local.indexOf('+');
  // A local part that is nothing but a tag has no base to fold to; keep it whole.
  if (opts.tags !== false && plus > 0) local = local.slice(0, plus);
  if (domain === 'gmail.com' && local.includes('.')) {
    const undotted = local.replaceAll('.', '');
    if (undotted) local = undotted;
  }
  return `${local}@${domain}`;
}

/**
 * Whether two addresses name one mailbox (an OAuth grant against the mailbox it was asked for):
 * case and Gmail dots never matter, but a +tag does, since Google never reports a tagged
 * address as a mailbox's own.
 */
export function sameMailbox(a: string, b: string): boolean {
  const na = normalizeAddress(a);
  const nb = normalizeAddress(b);
  if (!na || !nb) return false;
  return foldNormalized(na, { tags: false }) === foldNormalized(nb, { tags: false });
}

/** Domain part of an address (lower case), or null when it is not an address. */
export function domainOf(addr: string): string | null {
  const a = normalizeAddress(addr);
  return a ? a.slice(a.lastIndexOf('@') + 1) : null;
}

/** True when `domain` is `parent` or lies under it (`mail.acme.com` under `acme.com`). */
export function isSubdomainOf(domain: string, parent: string): boolean {
  const d = foldDomain(domain);
  const p = foldDomain(parent);
  if (!d || !p) return false;
  return d === p || d.endsWith(`.${p}`);
}

/** True when the domain is one of `parents` or under one of them. */
export function isWithinDomains(domain: string, parents: readonly string[]): boolean {
  return parents.some((p) => isSubdomainOf(domain, p));
}

/** True when the address is at one of `domains` or a subdomain of one (the workspace test). */
export function isAddressWithin(addr: string, domains: readonly string[]): boolean {
  const d = domainOf(addr);
  return d !== null && isWithinDomains(d, domains);
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

/**
 * True when the domain is itself a public suffix (`com`, `co.uk`, `github.io`) by the Public
 * Suffix List that `tldts` ships: anyone can register a name under it, so it names no one.
 */
export function isPublicSuffix(domain: string): boolean {
  const d = normalizeDomain(domain);
  if (!d) return false;
  const info = parseDomainName(d, { allowPrivateDomains: true });
  return info.publicSuffix === d || info.domain === null;
}
