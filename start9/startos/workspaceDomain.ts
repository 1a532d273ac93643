// Validation of the workspace domain(s) entered in the package's action. It accepts exactly what
// lib/core/config.ts accepts for CRM_GMAIL_WORKSPACE_DOMAIN (test/start9/workspaceDomain.test.ts holds
// the two together), so a saved domain never stops the server at start.

export class WorkspaceDomainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkspaceDomainError';
  }
}

const DOMAIN_RE = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;

/** Normalises "Fund.com, fund.co.uk" to "fund.com,fund.co.uk"; throws naming the first bad entry. */
export function parseWorkspaceDomains(text: string): string {
  const domains = text
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  if (domains.length === 0) throw new WorkspaceDomainError('Enter the firm\'s Google Workspace domain, e.g. fund.com.');
  for (const d of domains) {
    if (d.includes('@')) throw new WorkspaceDomainError(`"${d}" is an email address: enter only the part after the @.`);
    if (!DOMAIN_RE.test(d)) throw new WorkspaceDomainError(`"${d}" is not a domain name (expected something like fund.com).`);
  }
  return [...new Set(domains)].join(',');
}
