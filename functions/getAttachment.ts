// GET /api/email/attachments/:id (any user): where a saved attachment's file is and how to
// offer it. Readable only when its email is matched and the file is saved and present;
// anything else is 404, so withheld and purged mail reveals nothing. The route streams the
// file; from the CLI this shows the metadata and path. Read-only.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { blobAbsPath } from '../lib/capture/blobs.js';
import { one } from '../lib/db/client.js';
import { AppError } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';

export interface AttachmentFile {
  id: number;
  filename: string | null;
  mime_type: string | null;
  size: number;
  sha256: string;
  /** Absolute path of the stored file. */
  path: string;
}

export const getAttachment = defineFunction({
  name: 'getAttachment',
  input: z.object({ id: z.coerce.number().int().positive() }),
  run: async (deps, input): Promise<AttachmentFile> => {
    const row = await one<{ id: number; filename: string | null; mime_type: string | null; sha256: string | null }>(
      deps.db,
      `SELECT a.id, a.filename, a.mime_type, a.sha256 FROM email_attachments a JOIN emails e ON e.id = a.email_id
        WHERE a.id = ? AND a.state = 'saved' AND e.is_matched = 1`,
      [input.id],
    );
    const missing = new AppError('NOT_FOUND', `no downloadable attachment with id ${input.id}`);
    if (!row?.sha256 || !/^[0-9a-f]{64}$/.test(row.sha256)) throw missing;
    // The path comes from the hash alone, never from a stored path or the sender's filename.
    const file = blobAbsPath(deps.config.dataDir, row.sha256);
    if (path.relative(deps.config.dataDir, file).startsWith('..')) throw missing;
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) {
      deps.log.warn({ event: 'attachments.file_missing', attachment_id: row.id, sha256: row.sha256 }, 'a saved attachment has no file');
      throw missing;
    }
    return { id: row.id, filename: row.filename, mime_type: row.mime_type, size: st.size, sha256: row.sha256, path: file };
  },
});
