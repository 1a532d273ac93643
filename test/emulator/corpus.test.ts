import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliverCorpus, foldAddress, generateCorpus, type Corpus, type DeliverResult } from '../../tools/corpus/index.js';
import { DEFAULT_FIXTURES_DIR } from '../../tools/corpus/fixtures.js';
import { harness, type Harness } from './helpers.js';

const digest = (c: Corpus): string => {
  const h = createHash('sha256');
  for (const d of c.deliveries()) h.update(d.key).update(d.raw).update(JSON.stringify([d.to, d.labelIds, d.internalDate]));
  return h.digest('hex');
};

describe('corpus generator', () => {
  it('is deterministic from its seed and never calls Math.random', () => {
    const spy = vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random called');
    });
    try {
      const a = digest(generateCorpus({ seed: 's1', conversations: 60, fixtures: 5 }));
      const b = digest(generateCorpus({ seed: 's1', conversations: 60, fixtures: 5 }));
      const c = digest(generateCorpus({ seed: 's2', conversations: 60, fixtures: 5 }));
      expect(a).toBe(b);
      expect(c).not.toBe(a);
    } finally {
      spy.mockRestore();
    }
  });

  it('the directory has the import shape, investors on .example domains, the team on the firm domain', () => {
    const c = generateCorpus({ fixtures: false, conversations: 1 });
    expect(c.directory).toHaveLength(30);
    for (const inv of c.directory) {
      expect(Object.keys(inv).sort()).toEqual(['contacts', 'domains', 'emails', 'name']);
      expect(inv.domains.every((d) => d.endsWith('.example'))).toBe(true);
      for (const ct of inv.contacts) expect(Object.keys(ct).sort()).toEqual(['emails', 'name']);
    }
    expect(c.directory.some((i) => i.domains.some((d) => d.startsWith('mail.')))).toBe(true);
    expect(c.team.map((p) => p.email)).toEqual(['pat@fund.test', 'lee@fund.test', 'sam@fund.test', 'alex@fund.test']);
    expect(c.mailboxes).toEqual(c.team.map((p) => p.email));
  });

  it('arrives in internalDate order (after the fixtures) and scales lazily to 10,000 messages per mailbox', () => {
    const c = generateCorpus({ seed: 'bench', partners: 2, messagesPerMailbox: 10_000, fixtures: false });
    const per: Record<string, number> = {};
    let last = -Infinity;
    let ordered = true;
    for (const d of c.deliveries()) {
      if (d.internalDate < last) ordered = false;
      last = d.internalDate;
      for (const m of d.to) per[m] = (per[m] ?? 0) + 1;
    }
    expect(ordered).toBe(true);
    expect(Object.values(per).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(20_000);
    expect(Math.min(...Object.values(per))).toBeGreaterThan(8_000);
  });

  it('puts an attachment over the cap only when asked', () => {
    const withCap = generateCorpus({ conversations: 20, fixtures: false, attachmentCapBytes: 50_000 }).truth();
    const big = withCap.messages.flatMap((m) => m.attachments.filter((a) => a.overCap).map((a) => ({ m, a })));
    expect(big).toHaveLength(1);
    expect(big[0]!.a.size).toBeGreaterThan(50_000);
    expect(big[0]!.m.matched).toBe(true);
    const without = generateCorpus({ conversations: 20, fixtures: false }).truth();
    expect(without.messages.some((m) => m.attachments.some((a) => a.filename === 'data-room-export.zip'))).toBe(false);
  });
});

describe('corpus delivered into the emulator, against its ground truth', () => {
  let h: Harness;
  let corpus: Corpus;
  let result: DeliverResult;

  beforeAll(async () => {
    h = await harness({ quota: { unitsPerSecond: 1e9, unitsPerMinute: 1e12 } });
    corpus = generateCorpus({ seed: 'truth', conversations: 200, attachmentCapBytes: 200_000 });
    result = await deliverCorpus(h.emu.control, corpus, { collectIds: true });
  });
  afterAll(() => h.close());

  it('every mailbox holds as many copies as the truth says', () => {
    for (const email of corpus.mailboxes) {
      expect(h.emu.control.mailbox(email).messagesTotal).toBe(result.truth.copiesPerMailbox[email]);
    }
    expect(result.delivered).toBeGreaterThan(200);
  });

  it('CCs put one message into several mailboxes under different Gmail ids', () => {
    const shared = result.truth.messages.filter((m) => m.kind === 'investor' && Object.keys(m.mailboxes).length >= 2);
    expect(shared.length).toBeGreaterThan(10);
    const ids = Object.values(result.ids!.get(shared[0]!.key)!);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('internal-only mail, newsletters and unknown free-mail senders are unmatched and metadata-only', () => {
    for (const kind of ['internal', 'newsletter', 'stranger'] as const) {
      const ms = result.truth.messages.filter((m) => m.kind === kind);
      expect(ms.length).toBeGreaterThan(0);
      expect(ms.every((m) => !m.matched && m.metadataOnly)).toBe(true);
    }
    // A partners-only reply inside an investor conversation belongs to that conversation but is internal.
    const partnersOnly = result.truth.messages.find((m) => m.kind === 'internal' && m.inReplyTo && m.subject !== m.subject.replace(/^\w+: /, ''));
    expect(partnersOnly).toBeDefined();
  });

  it('contacts writing from gmail.com with other dots, a +tag or googlemail.com still match as that contact', () => {
    const freeMail = corpus.investors.flatMap((i) => i.contacts).filter((c) => c.emails[0]!.endsWith('@gmail.com') && c.writesFrom !== c.emails[0]);
    expect(freeMail.length).toBeGreaterThan(0);
    const contact = freeMail.find((c) => result.truth.messages.some((m) => m.addresses.includes(c.writesFrom.toLowerCase())));
    expect(contact).toBeDefined();
    expect(foldAddress(contact!.writesFrom)).toBe(foldAddress(contact!.emails[0]!));
    const msg = result.truth.messages.find((m) => m.addresses.includes(contact!.writesFrom.toLowerCase()))!;
    expect(msg.matches.contacts).toContain(contact!.emails[0]);
  });

  it('one identical file travels in two different messages', () => {
    const byHash = new Map<string, Set<string>>();
    for (const m of result.truth.messages) for (const a of m.attachments) byHash.set(a.sha256, (byHash.get(a.sha256) ?? new Set()).add(m.identity));
    expect([...byHash.values()].some((s) => s.size >= 2)).toBe(true);
  });

  it('a reply that arrives before its root shares the root\'s thread in that mailbox', () => {
    const root = result.truth.messages.find((m) => m.key === 'c2.m0')!;
    const reply = result.truth.messages.find((m) => m.key === 'c2.m1')!;
    expect(root.internalDate).toBeGreaterThan(reply.internalDate);
    const mailbox = Object.keys(root.mailboxes).find((m) => reply.mailboxes[m])!;
    const listed = h.emu.control.messages(mailbox);
    const thread = (key: string) => listed.find((x) => x.id === result.ids!.get(key)![mailbox])!.threadId;
    expect(thread('c2.m0')).toBe(thread('c2.m1'));
  });

  it('mail without a Message-ID in two mailboxes is one distinct message', () => {
    const noId = result.truth.messages.filter((m) => m.messageId === null && m.kind !== 'fixture');
    expect(noId.length).toBeGreaterThan(0);
    expect(noId.some((m) => Object.keys(m.mailboxes).length >= 2)).toBe(true);
    expect(noId.every((m) => m.identity.startsWith('hdr:'))).toBe(true);
  });

  it('odd encodings are there: RFC 2047 subjects and names, iso-8859-1 quoted-printable, base64 bodies', () => {
    const raws = [...corpus.deliveries()].filter((d) => d.truth.kind !== 'fixture').map((d) => d.raw.toString('latin1'));
    expect(raws.some((r) => /^Subject: =\?UTF-8\?B\?/m.test(r))).toBe(true);
    expect(raws.some((r) => /^Subject: =\?ISO-8859-1\?Q\?/m.test(r))).toBe(true);
    expect(raws.some((r) => /^(From|To|Cc): .*=\?UTF-8\?Q\?/m.test(r))).toBe(true);
    expect(raws.some((r) => /charset="iso-8859-1"\r\nContent-Transfer-Encoding: quoted-printable/.test(r))).toBe(true);
    expect(raws.some((r) => /^Content-Transfer-Encoding: base64\r\n\r\n/m.test(r))).toBe(true);
  });

  it('spam, drafts and chats are delivered but not captured', () => {
    const notCaptured = result.truth.messages.filter((m) => !m.captured);
    const labels = new Set(notCaptured.flatMap((m) => Object.values(m.mailboxes).flat()));
    expect(labels.has('DRAFT')).toBe(true);
    expect(labels.has('CHAT')).toBe(true);
    expect(labels.has('SPAM') || labels.has('TRASH')).toBe(true);
  });

  it('fixtures land byte for byte in the first partner\'s mailbox', async () => {
    const fixtures = result.truth.messages.filter((m) => m.kind === 'fixture');
    expect(fixtures.length).toBeGreaterThan(100);
    const file = 'flanker__attached-pdf.eml';
    const id = result.ids!.get(`fixture:${file}`)!['pat@fund.test']!;
    const raw = (await h.dwd('pat@fund.test').users.messages.get({ userId: 'me', id, format: 'raw' })).data.raw!;
    expect(Buffer.from(raw, 'base64url').equals(readFileSync(path.join(DEFAULT_FIXTURES_DIR, file)))).toBe(true);
  });

  it('every message, fixtures included, reads in every format without a server error', async () => {
    const token = (await h.jwt('pat@fund.test').getAccessToken()).token!;
    const statuses = new Set<number>();
    for (const m of h.emu.control.messages('pat@fund.test')) {
      for (const format of ['full', 'metadata', 'minimal', 'raw']) {
        const res = await fetch(`${h.emu.url}/gmail/v1/users/me/messages/${m.id}?format=${format}`, { headers: { authorization: `Bearer ${token}` } });
        statuses.add(res.status);
        await res.arrayBuffer();
      }
    }
    expect([...statuses]).toEqual([200]);
  });

  it('through the Gmail client, full format shows the attachments the truth lists', async () => {
    const withAtt = result.truth.messages.filter((m) => m.kind !== 'fixture' && m.attachments.length).slice(0, 8);
    expect(withAtt.length).toBeGreaterThan(3);
    for (const m of withAtt) {
      const [mailbox, gid] = Object.entries(result.ids!.get(m.key)!)[0]!;
      const full = (await h.dwd(mailbox).users.messages.get({ userId: 'me', id: gid })).data;
      const parts = (full.payload!.parts ?? []).filter((p) => p.filename);
      expect(parts.map((p) => [p.filename, p.body!.size])).toEqual(m.attachments.map((a) => [a.filename, a.size]));
    }
  });

  it('conversations rebuilt from references group each generated conversation\'s linked messages', () => {
    const byIdentity = new Map(result.truth.messages.map((m) => [m.identity, m]));
    for (const conv of result.truth.conversations) {
      const labels = new Set(conv.messages.map((i) => byIdentity.get(i)!.conversation));
      expect(labels.size).toBe(1);
    }
    expect(result.truth.conversations.some((c) => c.messages.length >= 3)).toBe(true);
  });
});
