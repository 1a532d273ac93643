// Content-addressed attachment files under CRM_DATA_DIR: attachments/ab/abcdef…
// The same bytes are stored once however many messages carry them. A file goes only when no
// attachment row in `saved` names its sha256 and no download about to mark a row `saved` has
// claimed it. The claim and the deletion each happen inside a write transaction, and the
// claim looks at the disk inside its own, so one of them always sees the other: either the
// file was deleted first (and the download writes it again) or the claim came first (and the
// file stays).
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { all, one, run, writeTx, type Db, type Executor } from '../db/client.js';

export const blobRelPath = (sha256: string): string => {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return path.posix.join('attachments', sha256.slice(0, 2), sha256);
};

export const blobAbsPath = (dataDir: string, sha256: string): string => path.join(dataDir, blobRelPath(sha256));

/** Delete the file for each sha256 nothing references or claims any more; returns the ones deleted. */
export async function deleteUnreferencedBlobs(db: Db, dataDir: string, shas: Iterable<string>): Promise<string[]> {
  const deleted: string[] = [];
  for (const sha of new Set(shas)) {
    if (!sha) continue;
    const gone = await writeTx(db, async (tx) => {
      const ref = await one(
        tx,
        "SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM email_attachments WHERE sha256 = ? AND state = 'saved') OR EXISTS (SELECT 1 FROM email_blob_claims WHERE sha256 = ?)",
        [sha, sha],
      );
      if (ref) return false;
      await rm(blobAbsPath(dataDir, sha), { force: true });
      return true;
    });
    if (gone) deleted.push(sha);
  }
  return deleted;
}

export interface BlobHooks {
  /** Test seam: runs after a file's bytes are in its temp file and before the rename. */
  beforeRename?: (info: { tempPath: string; finalPath: string; attachmentId: number }) => void | Promise<void>;
}

/**
 * Claim the file for an attachment row about to be marked saved, then make sure it is on disk
 * (written under its hash once, through a temp file and a rename). Returns the sha256. The
 * claim ends when the row's outcome is written (releaseBlobClaims).
 */
export async function claimAndStoreBlob(db: Db, dataDir: string, bytes: Buffer, attachmentId: number, owner: string, nowIso: string, hooks: BlobHooks = {}): Promise<string> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const finalPath = blobAbsPath(dataDir, sha256);
  const present = await writeTx(db, async (tx) => {
    await run(tx, 'INSERT INTO email_blob_claims (sha256, attachment_id, owner, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at', [
      sha256,
      attachmentId,
      owner,
      nowIso,
    ]);
    const existing = await stat(finalPath).catch(() => null);
    return !!existing?.isFile() && existing.size === bytes.length;
  });
  if (present) return sha256;
  await mkdir(path.dirname(finalPath), { recursive: true, mode: 0o700 });
  const tempPath = path.join(path.dirname(finalPath), `.${sha256}.${randomUUID()}.tmp`);
  try {
    const fh = await open(tempPath, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await hooks.beforeRename?.({ tempPath, finalPath, attachmentId });
    await rename(tempPath, finalPath);
  } catch (err) {
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw err;
  }
  return sha256;
}

/**
 * The claim id for files a run writes before any row names them (fetched with their message):
 * negative, so never an attachment row's id; the claims go when the run's rows commit.
 */
export const runClaimId = (runId: number): number => -runId;

/** A content claim lasts this long unless the claimant's page commits first, or its run ends. */
export const CONTENT_CLAIM_MS = 5 * 60_000;

/** SQL: the content claim `c` is held, by a running run, and has not expired (`?` = now). */
export const LIVE_CONTENT_CLAIM = "c.expires_at > ? AND EXISTS (SELECT 1 FROM email_sync_runs r WHERE r.id = c.run_id AND r.status = 'running')";

/**
 * Claim emails' content (their files, or a raw fetch carrying them) for one run before
 * downloading it, in one write for a whole fetch. Answers the keys this run holds: no claim
 * before, its own, an expired one, or one whose run has ended (failed, or closed as lost when
 * its process died). A key left out is claimed by another mailbox's run fetching the same
 * email now; the caller leaves those files to it.
 */
export async function claimContents(db: Db, dedupKeys: readonly string[], runId: number, nowMs: number, ttlMs = CONTENT_CLAIM_MS): Promise<Set<string>> {
  const keys = [...new Set(dedupKeys)];
  const held = new Set<string>();
  if (!keys.length) return held;
  const now = new Date(nowMs).toISOString();
  const expires = new Date(nowMs + ttlMs).toISOString();
  await writeTx(db, async (tx) => {
    for (let i = 0; i < keys.length; i += 200) {
      const chunk = keys.slice(i, i + 200);
      const rows = await all<{ dedup_key: string; run_id: number }>(
        tx,
        `INSERT INTO email_content_claims (dedup_key, run_id, expires_at) VALUES ${chunk.map(() => '(?, ?, ?)').join(',')}
         ON CONFLICT(dedup_key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at
           WHERE email_content_claims.run_id = excluded.run_id
              OR NOT (${LIVE_CONTENT_CLAIM.replaceAll('c.', 'email_content_claims.')})
         RETURNING dedup_key, run_id`,
        [...chunk.flatMap((k) => [k, runId, expires]), now],
      );
      for (const r of rows) if (r.run_id === runId) held.add(r.dedup_key);
    }
  });
  return held;
}

/** One email's content claim (claimContents for one key). */
export async function claimContent(db: Db, dedupKey: string, runId: number, nowMs: number, ttlMs = CONTENT_CLAIM_MS): Promise<boolean> {
  return (await claimContents(db, [dedupKey], runId, nowMs, ttlMs)).has(dedupKey);
}

/** End a run's content claims on these emails (their page committed), and any that expired. */
export async function releaseContentClaims(db: Executor, runId: number, dedupKeys: readonly string[], nowMs: number): Promise<void> {
  const keys = [...new Set(dedupKeys)];
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    await run(db, `DELETE FROM email_content_claims WHERE run_id = ? AND dedup_key IN (${chunk.map(() => '?').join(',')})`, [runId, ...chunk]);
  }
  await run(db, 'DELETE FROM email_content_claims WHERE expires_at <= ?', [new Date(nowMs).toISOString()]);
}

export async function releaseBlobClaims(db: { execute: Db['execute'] }, attachmentIds: number[]): Promise<void> {
  for (let i = 0; i < attachmentIds.length; i += 500) {
    const chunk = attachmentIds.slice(i, i + 500);
    await run(db, `DELETE FROM email_blob_claims WHERE attachment_id IN (${chunk.map(() => '?').join(',')})`, chunk);
  }
}

interface SweepResult {
  tempFiles: number;
  unreferenced: number;
  staleClaims: number;
}

/**
 * Leftovers of interrupted work: temp files of downloads that never finished, claims older
 * than `claimsOlderThanIso` (their holder is gone), and stored files no row references.
 * `tempOlderThanMs` spares temp files a download in flight may still be writing.
 */
export async function sweepBlobs(db: Db, dataDir: string, opts: { nowMs: number; tempOlderThanMs: number; claimsOlderThanIso: string }): Promise<SweepResult> {
  const result: SweepResult = { tempFiles: 0, unreferenced: 0, staleClaims: 0 };
  const stale = await run(db, 'DELETE FROM email_blob_claims WHERE claimed_at < ?', [opts.claimsOlderThanIso]);
  result.staleClaims = stale.rowsAffected;
  const root = path.join(dataDir, 'attachments');
  const dirs = await readdir(root).catch(() => [] as string[]);
  const candidates: string[] = [];
  for (const d of dirs) {
    if (!/^[0-9a-f]{2}$/.test(d)) continue;
    for (const name of await readdir(path.join(root, d)).catch(() => [] as string[])) {
      const file = path.join(root, d, name);
      if (name.endsWith('.tmp')) {
        const st = await stat(file).catch(() => null);
        if (st && opts.nowMs - st.mtimeMs >= opts.tempOlderThanMs) {
          await rm(file, { force: true });
          result.tempFiles++;
        }
      } else if (/^[0-9a-f]{64}$/.test(name)) {
        candidates.push(name);
      }
    }
  }
  for (let i = 0; i < candidates.length; i += 500) {
    const chunk = candidates.slice(i, i + 500);
    const marks = chunk.map(() => '?').join(',');
    const held = new Set(
      (
        await all<{ sha256: string }>(
          db,
          `SELECT sha256 FROM email_attachments WHERE state = 'saved' AND sha256 IN (${marks}) UNION SELECT sha256 FROM email_blob_claims WHERE sha256 IN (${marks})`,
          [...chunk, ...chunk],
        )
      ).map((r) => r.sha256),
    );
    const loose = chunk.filter((s) => !held.has(s));
    // Checked again one by one under the write lock before anything is deleted.
    result.unreferenced += (await deleteUnreferencedBlobs(db, dataDir, loose)).length;
  }
  return result;
}
