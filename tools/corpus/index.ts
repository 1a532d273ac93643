// A deterministic demo/test corpus for the Gmail emulator and its ground truth. See docs/emulator.md.
import type { DeliveredCopy, DeliverOptions, MailboxFlags } from '../gmail-emulator/store.js';
import type { Corpus } from './generate.js';
import { TruthBuilder, type GroundTruth } from './truth.js';

export { generateCorpus, type Corpus, type CorpusOptions, type Delivery } from './generate.js';
export { foldAddress, Matcher, type GroundTruth, type MessageTruth, type ConversationTruth, type AttachmentTruth, type MatchResult } from './truth.js';
export type { ImportInvestor, Investor, Contact, Partner } from './people.js';

/** What deliverCorpus needs: the in-process EmulatorControl or a ControlClient. */
interface DeliveryTarget {
  createMailbox(email: string, flags?: Partial<MailboxFlags>): unknown;
  deliver(raw: Buffer, opts: DeliverOptions): Record<string, DeliveredCopy> | Promise<Record<string, DeliveredCopy>>;
}

export interface DeliverResult {
  truth: GroundTruth;
  delivered: number;
  /** Corpus key → mailbox → Gmail id, when asked for (costs memory on big corpora). */
  ids?: Map<string, Record<string, string>>;
}

/** Creates the partner mailboxes (existing ones are kept) and delivers every message in arrival order. */
export async function deliverCorpus(target: DeliveryTarget, corpus: Corpus, opts: { collectIds?: boolean } = {}): Promise<DeliverResult> {
  for (const email of corpus.mailboxes) {
    try {
      await target.createMailbox(email);
    } catch (e) {
      if (!/already exists/.test(String((e as Error).message))) throw e;
    }
  }
  const truth = new TruthBuilder();
  const ids = opts.collectIds ? new Map<string, Record<string, string>>() : undefined;
  let delivered = 0;
  for (const d of corpus.deliveries()) {
    const copies = await target.deliver(d.raw, {
      to: d.to,
      sender: d.sender,
      labelIds: d.labelIds,
      internalDate: d.internalDate,
      exactBytes: d.exactBytes,
    });
    truth.add(d.truth);
    ids?.set(d.key, Object.fromEntries(Object.entries(copies).map(([m, c]) => [m, c.id])));
    delivered++;
  }
  return { truth: truth.build(), delivered, ...(ids ? { ids } : {}) };
}
