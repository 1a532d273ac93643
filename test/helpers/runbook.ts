// Reading docs/runbook.md as a script: its fenced blocks, what each says it prints, its
// headings and links; running its shell blocks one after another as one operator's terminal
// would, and its SQL the way `sqlite3 -readonly -header` shows it.
import { spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import type { Client } from '@libsql/client';

export interface Expectation {
  /** As written after `expect:`. */
  raw: string;
  matches(output: string): boolean;
}

export interface Block {
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above the block, as written (without the #s). */
  heading: string;
  expects: Expectation[];
}

export interface Heading {
  text: string;
  level: number;
  line: number;
  slug: string;
}

export interface Runbook {
  blocks: Block[];
  headings: Heading[];
  /** In-page link targets (`(#slug)`), in order. */
  anchors: string[];
  /** Lines outside every fenced block, with their numbers. */
  prose: { line: number; text: string }[];
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*$/;
const EXPECT: Record<string, RegExp> = { sh: /^\s*#\s*expect:\s?(.*)$/, sql: /^\s*--\s*expect:\s?(.*)$/ };

/** `text` is found in some line; `/pattern/` matches some line. */
export function expectation(raw: string): Expectation {
  const re = /^\/(.+)\/$/.exec(raw);
  if (re) {
    const pattern = new RegExp(re[1]!);
    return { raw, matches: (out) => out.split('\n').some((l) => pattern.test(l)) };
  }
  return { raw, matches: (out) => out.split('\n').some((l) => l.includes(raw)) };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function parseRunbook(markdown: string): Runbook {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const headings: Heading[] = [];
  const prose: Runbook['prose'] = [];
  const slugCount = new Map<string, number>();
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const open = FENCE.exec(line);
    if (open) {
      const [, indent, fence, lang] = open;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const l = lines[j]!;
        if (l.trim().startsWith(fence!) && l.trim().replace(/[`~]/g, '') === '') break;
        body.push(l.startsWith(indent!) ? l.slice(indent!.length) : l.trimStart());
      }
      if (j === lines.length) throw new Error(`docs/runbook.md line ${i + 1}: a \`\`\`${lang} block is never closed`);
      const text = body.join('\n') + '\n';
      const rule = EXPECT[lang ?? ''];
      const expects = rule ? body.map((l) => rule.exec(l)?.[1]).filter((e): e is string => e !== undefined).map(expectation) : [];
      blocks.push({ lang: lang ?? '', text, line: i + 1, heading, expects });
      i = j;
      continue;
    }
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      heading = h[2]!;
      const base = githubSlug(heading);
      const n = slugCount.get(base) ?? 0;
      slugCount.set(base, n + 1);
      headings.push({ text: heading, level: h[1]!.length, line: i + 1, slug: n ? `${base}-${n}` : base });
    }
    prose.push({ line: i + 1, text: line });
  }
  const anchors = [...markdown.matchAll(/\]\(#([^)\s]+)\)/g)].map((m) => m[1]!);
  return { blocks, headings, anchors, prose };
}

/** Splits SQL text into statements at `;`, minding quotes and comments; comments are dropped. */
export function splitSql(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '-' && text[i + 1] === '-') {
      while (i < text.length && text[i] !== '\n') i++;
      cur += '\n';
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      cur += ' ';
      continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      // A doubled quote inside a literal is an escaped one: the next pass continues the literal.
      const stop = end < 0 ? text.length : end;
      cur += text.slice(i, stop + 1);
      i = stop;
      continue;
    }
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return '<blob>';
  return String(v);
}

/** One statement's rows as `sqlite3 -header` prints them: a header line when there are rows, `|` between values. */
export function formatRows(columns: string[], rows: ArrayLike<unknown>[]): string {
  if (rows.length === 0) return '';
  const lines = [columns.join('|')];
  for (const r of rows) lines.push(columns.map((_, i) => cell(r[i])).join('|'));
  return lines.join('\n') + '\n';
}

/** Runs a block's SQL through the client; only reading statements are allowed. */
export async function runSql(client: Client, text: string): Promise<string> {
  let out = '';
  for (const stmt of splitSql(text)) {
    if (!/^(select|with)\b/i.test(stmt)) throw new Error(`the runbook's SQL only reads, but this statement does not start with SELECT or WITH:\n${stmt}`);
    const rs = await client.execute(stmt);
    out += formatRows(rs.columns, rs.rows as unknown as ArrayLike<unknown>[]);
  }
  return out;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking the event loop (the service under test lives in this process). */
export function runProgram(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A block that never reads its input may exit first: its closed stdin is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * One shell block, in bash with errexit, nounset and pipefail. What the blocks before it
 * exported and the functions they defined carry over through `stateFile`, as they would in
 * the one terminal the runbook asks for.
 */
export function runShellBlock(text: string, opts: { cwd: string; env: NodeJS.ProcessEnv; stateFile: string; timeoutMs: number }): Promise<Finished> {
  const script = ['set -euo pipefail', '. "$RUNBOOK_STATE"', text, '{ export -p; declare -f; } > "$RUNBOOK_STATE"', ''].join('\n');
  return runProgram(['bash', '-c', script], { cwd: opts.cwd, env: { ...opts.env, RUNBOOK_STATE: opts.stateFile }, timeoutMs: opts.timeoutMs });
}

/** The absolute path of a program on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/** The investors import body as the CSV the runbook describes (one row per domain, contact address and investor address). */
export function directoryCsv(directory: { name: string; domains: string[]; emails: string[]; contacts: { name: string; emails: string[] }[] }[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['investor,domain,contact_name,contact_email,investor_email'];
  for (const inv of directory) {
    for (const d of inv.domains) rows.push([inv.name, d, '', '', ''].map(q).join(','));
    for (const c of inv.contacts) for (const e of c.emails) rows.push([inv.name, '', c.name, e, ''].map(q).join(','));
    for (const e of inv.emails) rows.push([inv.name, '', '', '', e].map(q).join(','));
  }
  return rows.join('\n') + '\n';
}
