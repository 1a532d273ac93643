// Reading captured mail: an investor's or contact's threads, one thread, one attachment file
// (any signed-in user), and rematch (admin). All behind the Gmail integration gate.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { getAttachment, type AttachmentFile } from '../../../functions/getAttachment.js';
import { getThread } from '../../../functions/getThread.js';
import { listThreads } from '../../../functions/listThreads.js';
import { rematch } from '../../../functions/rematch.js';
import type { Deps } from '../../core/deps.js';
import { contentDisposition } from '../../mail/filename.js';
import type { App } from '../access.js';
import { registerRoutes, type RouteSpec } from './table.js';

// A stored type is only echoed when it is a plain type/subtype token; anything else is bytes.
const MIME_TOKEN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

function attachmentHeaders(file: Pick<AttachmentFile, 'filename' | 'mime_type' | 'size'>): Record<string, string> {
  const type = (file.mime_type ?? '').trim().toLowerCase();
  return {
    'Content-Type': MIME_TOKEN.test(type) ? type : 'application/octet-stream',
    'Content-Disposition': contentDisposition(file.filename),
    'Content-Length': String(file.size),
    // Never rendered by the browser, whatever the sender claimed the file was.
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': 'sandbox',
    'Cache-Control': 'private, no-store',
    'Referrer-Policy': 'no-referrer',
  };
}

export const threadRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/api/email/threads', access: 'user', gate: true, fn: listThreads },
  { method: 'GET', path: '/api/email/threads/:id', access: 'user', gate: true, fn: getThread },
  {
    method: 'GET',
    path: '/api/email/attachments/:id',
    // Feed tokens too: an index on the box fetches the files the feed announces.
    access: 'download',
    gate: true,
    cookie: true,
    fn: getAttachment,
    respond: (_c, out) => {
      const file = out as AttachmentFile;
      const body = Readable.toWeb(createReadStream(file.path)) as ReadableStream<Uint8Array>;
      return new Response(body, { status: 200, headers: attachmentHeaders(file) });
    },
  },
  { method: 'POST', path: '/api/email/rematch', access: 'admin', gate: true, fn: rematch, status: 202 },
];

export function registerThreadRoutes(app: App, deps: Deps): void {
  registerRoutes(app, deps, threadRoutes);
}
