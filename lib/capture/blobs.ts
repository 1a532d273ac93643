// Content-addressed attachment files under CRM_DATA_DIR: attachments/ab/abcdef…
// The same bytes are stored once however many messages carry them; a file goes only
// when no attachment row references its sha256 any more.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { one, type Executor } from '../db/client.js';

export const blobRelPath = (sha256: string): string => {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return path.posix.join('attachments', sha256.slice(0, 2), sha256);
};

export const blobAbsPath = (dataDir: string, sha256: string): string => path.join(dataDir, blobRelPath(sha256));

/** Delete the file for each sha256 no row references any more; returns the ones deleted. */
export async function deleteUnreferencedBlobs(db: Executor, dataDir: string, shas: Iterable<string>): Promise<string[]> {
  const deleted: string[] = [];
  for (const sha of new Set(shas)) {
    if (!sha) continue;
    const ref = await one(db, "SELECT 1 AS x FROM email_attachments WHERE sha256 = ? AND state = 'saved' LIMIT 1", [sha]);
    if (ref) continue;
    await rm(blobAbsPath(dataDir, sha), { force: true });
    deleted.push(sha);
  }
  return deleted;
}
