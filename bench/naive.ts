// Stage 4: the same first backfill written the obvious way — list, then one messages.get at a
// time, each message parsed and matched and written with one autocommit INSERT, no pacing —
// against the same emulator as the engine, and the ratio of the two wall times. The naive
// loop stores only the emails row (no copies, participants, links or threads), so it does
// less work than the engine; the comparison flatters it.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { gmail as gmailClient } from '@googleapis/gmail';
import { createDwdTokenSource, readServiceAccountKey } from '../lib/gmail/tokens.js';
import { one } from '../lib/db/client.js';
import { loadDirectory, Matcher } from '../lib/matching/matcher.js';
import { parseGmailMessage } from '../lib/mail/mime.js';
import { participantsOf } from '../lib/capture/store.js';
import { syncInParallel } from './backfill.js';
import { startEmulatorProcess, type RunningEmulator } from './emulator.js';
import { cpuSecSince, progress } from './measure.js';
import { enrolCorpus, startService } from './service.js';

interface NaiveSpec {
  messages: number;
  latencyMs: { min: number; max: number };
  seed: string;
  fixtures: boolean;
  workDir: string;
  keep: boolean;
}

interface Side {
  wallSec: number;
  cpuSec: number;
  stored: number;
  calls: number;
  units: number;
  violations: number;
  peakUnitsPerSecond: number;
}

export interface NaiveResult {
  messagesPerMailbox: number;
  latencyMs: { min: number; max: number };
  budget: number;
  ours: Side;
  naive: Side;
  /** Naive wall time ÷ ours: how many times longer the obvious loop takes. */
  ratio: number;
}

async function emulatorSide(emu: RunningEmulator, email: string): Promise<Pick<Side, 'calls' | 'units' | 'violations' | 'peakUnitsPerSecond'>> {
  const s = (await emu.control.stats()).mailboxes[email.toLowerCase()];
  return {
    calls: Object.values(s?.calls ?? {}).reduce((a, b) => a + (b ?? 0), 0),
    units: s?.unitsTotal ?? 0,
    violations: s?.violations.total ?? 0,
    peakUnitsPerSecond: s?.peakUnitsPerSecond ?? 0,
  };
}

export async function runNaive(spec: NaiveSpec): Promise<NaiveResult> {
  const dir = path.join(spec.workDir, 'naive');
  progress(`naive baseline: generating one mailbox of ~${spec.messages.toLocaleString('en-US')} messages (latency ${spec.latencyMs.min}–${spec.latencyMs.max} ms)`);
  const emu = await startEmulatorProcess({
    quota: 'legacy',
    latencyMs: spec.latencyMs,
    corpusSeed: spec.seed,
    partners: 1,
    messagesPerMailbox: spec.messages,
    fixtures: spec.fixtures,
    dir: path.join(dir, 'emulator'),
  });
  try {
    const mailbox = emu.mailboxes[0]!;

    // The engine, without the attachment step (the naive loop downloads no files either).
    const svc = await startService({ dataDir: path.join(dir, 'ours'), emulator: emu });
    let ours: Side;
    let budget: number;
    try {
      const accounts = await enrolCorpus(svc, emu);
      budget = svc.deps.config.gmail.rateUnitsSec;
      await emu.control.resetStats();
      progress('naive baseline: the engine first');
      const batch = await syncInParallel(svc, accounts, { attachments: false });
      ours = { wallSec: batch.wallSec, cpuSec: batch.cpuSec, stored: batch.mailboxes[0]!.stored, ...(await emulatorSide(emu, mailbox)) };
    } finally {
      svc.close();
    }

    // The obvious loop, on a database of its own with the same directory.
    const plain = await startService({ dataDir: path.join(dir, 'naive'), emulator: emu });
    let naive: Side;
    try {
      await enrolCorpus(plain, emu);
      const { db, config } = plain.deps;
      const matcher = new Matcher(await loadDirectory(db, config.gmail.workspaceDomains));
      const tokens = createDwdTokenSource(readServiceAccountKey(emu.keyPath), mailbox, emu.tokenUrl);
      const api = gmailClient({ version: 'v1', rootUrl: emu.url });
      await emu.control.resetStats();
      progress('naive baseline: the obvious loop');
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const now = new Date().toISOString();
      let pageToken: string | undefined;
      do {
        const headers = { Authorization: `Bearer ${await tokens.get()}` };
        const list = await api.users.messages.list({ userId: mailbox, maxResults: 500, q: '-in:chats -in:drafts', ...(pageToken ? { pageToken } : {}) }, { headers });
        for (const ref of list.data.messages ?? []) {
          const msg = (await api.users.messages.get({ userId: mailbox, id: ref.id!, format: 'full' }, { headers })).data;
          if ((msg.labelIds ?? []).some((l) => ['DRAFT', 'CHAT', 'SPAM', 'TRASH'].includes(l))) continue;
          const m = parseGmailMessage(msg);
          const matched = matcher.match(participantsOf(m)).length > 0;
          await db.execute({
            sql: `INSERT INTO emails (dedup_key, rfc822_message_id, subject, from_address, from_name, sent_at, internal_date, in_reply_to,
                                      references_json, size_estimate, is_matched, body_text, body_html, snippet, created_at, updated_at)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedup_key) DO NOTHING`,
            args: [
              m.dedupKey,
              m.messageId,
              m.subject,
              m.from?.address ?? null,
              m.from?.name ?? null,
              m.sentAt,
              new Date(m.internalDate).toISOString(),
              m.inReplyTo[0] ?? null,
              JSON.stringify(m.references),
              m.sizeEstimate,
              matched ? 1 : 0,
              matched ? m.bodyText : null,
              matched ? m.bodyHtml : null,
              matched ? m.snippet : null,
              now,
              now,
            ],
          });
        }
        pageToken = list.data.nextPageToken ?? undefined;
      } while (pageToken);
      const wallSec = (performance.now() - t0) / 1000;
      const cpuSec = cpuSecSince(cpu0);
      const stored = (await one<{ n: number }>(db, 'SELECT count(*) AS n FROM emails'))!.n;
      naive = { wallSec, cpuSec, stored, ...(await emulatorSide(emu, mailbox)) };
    } finally {
      plain.close();
    }

    const result: NaiveResult = { messagesPerMailbox: spec.messages, latencyMs: spec.latencyMs, budget, ours, naive, ratio: naive.wallSec / ours.wallSec };
    progress(`naive baseline: naive ${naive.wallSec.toFixed(1)} s vs ours ${ours.wallSec.toFixed(1)} s (×${result.ratio.toFixed(2)})`);
    return result;
  } finally {
    await emu.stop();
    if (!spec.keep) rmSync(dir, { recursive: true, force: true });
  }
}
