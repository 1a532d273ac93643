// The package's domain check accepts exactly what the server's config accepts, so a domain saved
// by the action never stops the server at start.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/core/config.js';
import { parseWorkspaceDomains, WorkspaceDomainError } from '../../start9/startos/workspaceDomain.js';

const serverAccepts = (value: string): string[] | undefined => {
  try {
    return loadConfig({ CRM_DATA_DIR: '/nonexistent-crm-data', CRM_GMAIL_WORKSPACE_DOMAIN: value }).gmail.workspaceDomains;
  } catch {
    return undefined;
  }
};

const packageAccepts = (value: string): string | undefined => {
  try {
    return parseWorkspaceDomains(value);
  } catch (err) {
    expect(err).toBeInstanceOf(WorkspaceDomainError);
    return undefined;
  }
};

describe('parseWorkspaceDomains', () => {
  it('normalises case, spaces and duplicates into a comma-separated list', () => {
    expect(parseWorkspaceDomains(' Fund.com , fund.co.uk,FUND.com ')).toBe('fund.com,fund.co.uk');
  });

  it('an email address → asks for the part after the @', () => {
    expect(() => parseWorkspaceDomains('partner@fund.com')).toThrow(/is an email address/);
  });

  it('empty → asks for the domain', () => {
    expect(() => parseWorkspaceDomains(' , ')).toThrow(/Enter the firm's Google Workspace domain/);
  });

  it('names the first bad entry', () => {
    expect(() => parseWorkspaceDomains('fund.com, -bad.com')).toThrow(/"-bad\.com" is not a domain name/);
  });

  const samples = [
    'fund.com', 'FUND.COM', 'a.b.c.d', 'fund.com,other.org', 'x-y.io', 'sub.fund.co.uk', 'xn--bcher-kva.de',
    'fund', '-fund.com', 'fund-.com', 'fund..com', 'fund.com.', 'fu nd.com', 'fund_com.com', 'http://fund.com',
    `${'a'.repeat(64)}.com`, `${'a'.repeat(63)}.com`, 'fund.com,', ',fund.com', 'fund.com,bad',
  ];
  it.each(samples)('agrees with the server config on %j', (value) => {
    const server = serverAccepts(value);
    const pkg = packageAccepts(value);
    expect(pkg === undefined).toBe(server === undefined);
    if (pkg !== undefined) expect(pkg.split(',')).toEqual([...new Set(server)]);
  });
});
