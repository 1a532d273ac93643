// Random histories of capture and directory work, with the example consumer reading the feed
// after every step: its mirror must always equal the matched, not-deleted-everywhere emails
// and their saved attachments — nothing missing, and no body of any other mail anywhere.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createContact } from '../../functions/createContact.js';
import { createExclusion } from '../../functions/createExclusion.js';
import { createInvestor } from '../../functions/createInvestor.js';
import { deleteAccount } from '../../functions/deleteAccount.js';
import { deleteContact } from '../../functions/deleteContact.js';
import { deleteExclusion } from '../../functions/deleteExclusion.js';
import { deleteInvestor } from '../../functions/deleteInvestor.js';
import { rematchQueued } from '../../functions/rematchQueued.js';
import { all, one } from '../../lib/db/client.js';
import { invoke } from '../../lib/core/fn.js';
import { addInvestor } from '../helpers/directory.js';
import { eml } from '../helpers/fakeGmail.js';
import { A, B, assertMirrorMatches, consume, enrol, expectedState, feedWorld, mirrorState, openMirror, sync, type FeedWorld } from '../helpers/feed.js';

const BOXES = [A, B] as const;
const SENDERS = ['bob@acme.example', 'dan@acme.example', 'carol@beta.example', 'eve@gamma.example', B] as const;
const EXCLUSIONS = [{ address: 'dan@acme.example' }, { domain: 'beta.example' }] as const;

type Cmd =
  | { kind: 'deliver'; to: number[]; from: number; file: boolean; ccEve: boolean }
  | { kind: 'sync'; box: number }
  | { kind: 'beta' }
  | { kind: 'eve' }
  | { kind: 'exclusion'; which: number }
  | { kind: 'delete'; box: number; pick: number }
  | { kind: 'purge'; box: number }
  | { kind: 'enrol'; box: number };

const box = fc.integer({ min: 0, max: 1 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), to: fc.subarray([0, 1], { minLength: 1 }), from: fc.integer({ min: 0, max: SENDERS.length - 1 }), file: fc.boolean(), ccEve: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), box }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'beta' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'eve' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('exclusion' as const), which: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), box, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('purge' as const), box }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('enrol' as const), box }) },
);

interface Model {
  n: number;
  /** Message-ID → the unique word in its body and file. */
  markers: Map<string, string>;
  delivered: Map<string, string[]>;
  enrolled: Set<string>;
  beta: number | null;
  eve: number | null;
  exclusions: (number | null)[];
}

async function step(w: FeedWorld, m: Model, c: Cmd): Promise<void> {
  const rematch = () => invoke(w.deps, rematchQueued, {});
  switch (c.kind) {
    case 'deliver': {
      const n = ++m.n;
      const mid = `p${n}@prop.example`;
      const marker = `SECRET${n}WORD`;
      m.markers.set(mid, marker);
      const from = SENDERS[c.from]!;
      const raw = eml({
        from,
        to: c.to.map((i) => BOXES[i]!),
        // Mail matched two ways: losing one match keeps the email, with fewer links.
        ...(c.ccEve ? { cc: ['eve@gamma.example'] } : {}),
        subject: `subject ${n}`,
        messageId: `<${mid}>`,
        body: `Body ${marker} here.\n\nOn Mon, Jan 5, 2026 Ann wrote:\n> quoted ${marker}`,
        ...(c.file ? { attachment: { filename: `f${n}.txt`, content: `file ${marker}`, type: 'text/plain' } } : {}),
      });
      for (const i of c.to) {
        const id = w.gmail.deliver(BOXES[i]!, raw);
        m.delivered.get(BOXES[i]!)!.push(id);
      }
      return;
    }
    case 'sync':
      if (m.enrolled.has(BOXES[c.box]!)) await sync(w, BOXES[c.box]!);
      return;
    case 'beta':
      if (m.beta === null) m.beta = (await invoke(w.deps, createInvestor, { name: 'Beta', domains: ['beta.example'] })).id;
      else {
        await invoke(w.deps, deleteInvestor, { id: m.beta });
        m.beta = null;
      }
      await rematch();
      return;
    case 'eve':
      if (m.eve === null) m.eve = (await invoke(w.deps, createContact, { name: 'Eve', emails: ['eve@gamma.example'] })).id;
      else {
        await invoke(w.deps, deleteContact, { id: m.eve });
        m.eve = null;
      }
      await rematch();
      return;
    case 'exclusion': {
      const cur = m.exclusions[c.which];
      if (cur === null || cur === undefined) m.exclusions[c.which] = (await invoke(w.deps, createExclusion, EXCLUSIONS[c.which]!)).id;
      else {
        await invoke(w.deps, deleteExclusion, { id: cur });
        m.exclusions[c.which] = null;
      }
      await rematch();
      return;
    }
    case 'delete': {
      const ids = m.delivered.get(BOXES[c.box]!)!;
      if (!ids.length) return;
      const [id] = ids.splice(c.pick % ids.length, 1);
      w.gmail.remove(BOXES[c.box]!, id!);
      return;
    }
    case 'purge': {
      const email = BOXES[c.box]!;
      if (!m.enrolled.has(email)) return;
      const acc = (await one<{ id: number }>(w.deps.db, 'SELECT id FROM email_accounts WHERE email = ?', [email]))!;
      await invoke(w.deps, deleteAccount, { id: acc.id, purge: true });
      m.enrolled.delete(email);
      return;
    }
    case 'enrol': {
      const email = BOXES[c.box]!;
      if (m.enrolled.has(email)) return;
      await enrol(w, email);
      m.enrolled.add(email);
      return;
    }
  }
}

/** No marker of an email the mirror may not hold appears anywhere in it. */
async function assertNoForeignBodies(w: FeedWorld, m: Model, json: string): Promise<void> {
  const allowed = new Set(
    (
      await all<{ rfc822_message_id: string }>(
        w.deps.db,
        `SELECT rfc822_message_id FROM emails WHERE id IN (${(await expectedState(w)).emails.map((e) => e.id).join(',') || '0'})`,
      )
    ).map((r) => r.rfc822_message_id),
  );
  for (const [mid, marker] of m.markers) {
    if (!allowed.has(mid)) expect(json.includes(marker), `${mid} must not be in the mirror`).toBe(false);
  }
}

describe('change feed, property', () => {
  it('after any history of sync, new mail, directory changes, exclusions, purges and deletions, the mirror equals the matched mail', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 4, maxLength: 14 }), async (cmds) => {
        const w = await feedWorld();
        try {
          await addInvestor(w.deps, 'Acme', { domains: ['acme.example'], contacts: [{ name: 'Bob', emails: ['bob@acme.example'] }] });
          const m: Model = { n: 0, markers: new Map(), delivered: new Map(BOXES.map((b) => [b, []])), enrolled: new Set(), beta: null, eve: null, exclusions: [null, null] };
          for (const b of BOXES) {
            await enrol(w, b);
            m.enrolled.add(b);
          }
          const mirror = await openMirror(w, `live-${++run}.db`);
          // Always some mail and a sync first, so every history has something to change.
          for (const c of [{ kind: 'deliver', to: [0, 1], from: 0, file: true, ccEve: true }, { kind: 'sync', box: 0 }, ...cmds] as Cmd[]) {
            await step(w, m, c);
            await consume(w, mirror);
            await assertMirrorMatches(w, mirror, expect);
            const state = await mirrorState(mirror);
            await assertNoForeignBodies(w, m, JSON.stringify(state));
          }
          // Replaying from 0 into a new mirror gives the same mirror, event for event.
          const replay = await openMirror(w, `replay-${run}.db`);
          await consume(w, replay, 1000);
          expect(await mirrorState(replay)).toEqual(await mirrorState(mirror));
          mirror.close();
          replay.close();
        } finally {
          await w.deps.cleanup();
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
