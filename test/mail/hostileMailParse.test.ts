// Address lists from strangers: a bare `local@domain` entry is read without the MIME library,
// and once a role keeps its limit the rest is counted, not parsed. Both shortcuts must give the
// answer the full parse gives.
import { describe, expect, it } from 'vitest';
import { MAX_PARTICIPANTS_PER_ROLE, parseAddressList, parseAddressListCounted } from '../../lib/mail/mime.js';

describe('address list shortcuts', () => {
  it('bare and named entries parse alike: lower case, de-duplicated, names only where given', () => {
    const list = 'Ann@Fund.test, "Bob B" <bob@fund.test>, ann@fund.test, carl@x.test.,  dee@y.test , <eve@z.test>, not-an-address';
    expect(parseAddressList([list])).toEqual([
      { address: 'ann@fund.test', name: null },
      { address: 'bob@fund.test', name: 'Bob B' },
      { address: 'carl@x.test', name: null },
      { address: 'dee@y.test', name: null },
      { address: 'eve@z.test', name: null },
    ]);
  });

  it('10,000 recipients: the first 500 kept in order, all 10,000 counted', () => {
    const crowd = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? `"P ${i}" <person${i}@crowd.test>` : `person${i}@crowd.test`)).join(', ');
    const r = parseAddressListCounted([crowd], MAX_PARTICIPANTS_PER_ROLE);
    expect(r.count).toBe(10_000);
    expect(r.addresses).toHaveLength(MAX_PARTICIPANTS_PER_ROLE);
    expect(r.addresses[0]).toEqual({ address: 'person0@crowd.test', name: null });
    expect(r.addresses[499]).toEqual({ address: 'person499@crowd.test', name: 'P 499' });
  });

  it('a short list under the limit is counted exactly, duplicates once', () => {
    const r = parseAddressListCounted(['a@x.test, b@x.test, A@X.test'], 2);
    expect(r).toEqual({ addresses: [{ address: 'a@x.test', name: null }, { address: 'b@x.test', name: null }], count: 2 });
  });
});
