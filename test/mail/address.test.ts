import { describe, expect, it } from 'vitest';
import { domainAndParents, domainOf, foldAddress, isFreeMailDomain, isSubdomainOf, normalizeAddress } from '../../lib/mail/address.js';

describe('normalizeAddress', () => {
  it.each([
    ['  Jane.Doe@Fund.COM ', 'jane.doe@fund.com'],
    ['<ops@fund.com>', 'ops@fund.com'],
    ['ops@fund.com.', 'ops@fund.com'],
  ])('%j is the address %j, trimmed and lower-cased', (input, want) => {
    expect(normalizeAddress(input)).toBe(want);
  });

  it.each(['', '   ', 'mailer-daemon', '@fund.com', 'jane@', 'jane doe@fund.com', 'a@b@c', 'jane@.fund.com', 'jane@fund..com'])(
    '%j is not an address',
    (input) => {
      expect(normalizeAddress(input)).toBeNull();
    },
  );

  it('non-strings are not addresses', () => {
    expect(normalizeAddress(undefined)).toBeNull();
    expect(normalizeAddress(null)).toBeNull();
  });
});

describe('foldAddress (case, googlemail.com, Gmail dots, +tags)', () => {
  it.each([
    ['J.Doe@Gmail.com', 'jdoe@gmail.com'],
    ['j.d.o.e+crm@gmail.com', 'jdoe@gmail.com'],
    ['J.Doe@googlemail.com', 'jdoe@gmail.com'],
    ['jdoe+news@googlemail.com', 'jdoe@gmail.com'],
    ['Jane.Doe+deals@Fund.com', 'jane.doe@fund.com'],
    ['jane.doe@fund.com', 'jane.doe@fund.com'],
    ['jane+a+b@fund.com', 'jane@fund.com'],
    ['+only@fund.com', '+only@fund.com'],
    ['first.last@mail.gmail.com.example', 'first.last@mail.gmail.com.example'],
  ])('%j folds to %j', (input, want) => {
    expect(foldAddress(input)).toBe(want);
  });

  it('dots are kept for domains other than gmail.com', () => {
    expect(foldAddress('a.b@outlook.com')).not.toBe(foldAddress('ab@outlook.com'));
  });
});

describe('domains', () => {
  it('domainOf gives the lower-cased domain, or null for a non-address', () => {
    expect(domainOf('Jane@Mail.Fund.com')).toBe('mail.fund.com');
    expect(domainOf('nobody')).toBeNull();
  });

  it.each([
    ['fund.com', 'fund.com', true],
    ['mail.fund.com', 'fund.com', true],
    ['a.b.fund.com', 'FUND.com', true],
    ['notfund.com', 'fund.com', false],
    ['fund.com', 'mail.fund.com', false],
    ['fund.com.evil.net', 'fund.com', false],
  ])('isSubdomainOf(%j, %j) is %s', (d, parent, want) => {
    expect(isSubdomainOf(d, parent)).toBe(want);
  });

  it('domainAndParents lists the domain then each parent', () => {
    expect(domainAndParents('a.b.fund.com')).toEqual(['a.b.fund.com', 'b.fund.com', 'fund.com', 'com']);
  });

  it('free-mail domains come from the maintained list; a firm domain is not free mail', () => {
    for (const d of ['gmail.com', 'GoogleMail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'proton.me']) {
      expect(isFreeMailDomain(d), d).toBe(true);
    }
    for (const d of ['fund.com', 'ten31.xyz', 'sequoiacap.com']) {
      expect(isFreeMailDomain(d), d).toBe(false);
    }
  });
});
