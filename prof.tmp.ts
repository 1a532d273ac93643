import { parseGmailMessage, parseAddressList, decodeHeaderWords } from './lib/mail/mime.js';
const huge = (unit: string) => unit.repeat(Math.ceil(200_000 / unit.length));
const to = Array.from({ length: 10_000 }, (_, i) => `p${i}@x.test`).join(', ');
for (let k=0;k<2;k++){
let t = performance.now(); parseAddressList([to]); console.log('to', performance.now()-t);
t = performance.now(); decodeHeaderWords(huge('=?utf-8?q?a?= ')); console.log('subj', performance.now()-t);
t = performance.now(); parseAddressList([`x@y.test${huge(' ')}`]); console.log('from', performance.now()-t);
}
