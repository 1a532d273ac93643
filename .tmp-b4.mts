import { readdirSync, readFileSync } from 'node:fs';
import { buildMessage } from './tools/gmail-emulator/message.ts';
import { parseGmailMessage } from './lib/mime.ts';
const dir = '/work/shared/fixtures/eml/';
const files = readdirSync(dir).filter((f) => f.endsWith('.eml') && !/stack-overflow|long-header/.test(f));
const msgs = files.map((f) => buildMessage(readFileSync(dir + f), { id: 'm', threadId: 't', labelIds: [], internalDate: 1.7e12, historyId: '1' }).full);
const t = Date.now();
for (let i = 0; i < 100; i++) for (const m of msgs) parseGmailMessage(m);
console.log('µs/msg', ((Date.now() - t) * 1000) / (100 * msgs.length));
