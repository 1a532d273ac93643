import { readdirSync, readFileSync } from 'node:fs';
import { buildMessage } from './tools/gmail-emulator/message.ts';
import { parseGmailMessage } from './lib/mime.ts';
const dir = '/work/shared/fixtures/eml/';
const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
const msgs = files.map((f) => buildMessage(readFileSync(dir + f), { id: 'm', threadId: 't', labelIds: [], internalDate: 1.7e12, historyId: '1' }).full);
const per: [string, number][] = [];
msgs.forEach((m, i) => { const t = process.hrtime.bigint(); for (let k = 0; k < 20; k++) parseGmailMessage(m); per.push([files[i]!, Number(process.hrtime.bigint() - t) / 20000]); });
console.log(per.sort((a, b) => b[1] - a[1]).slice(0, 8));
