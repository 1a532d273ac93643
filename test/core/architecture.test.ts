// The dependency rule of the tree, read from the import lines: adapters that call handlers
// (lib/http, lib/run, lib/console) sit above functions/; everything else in lib/ sits below
// and never reaches up. core/ and db/ are the floor: they import nothing of the domain.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ADAPTERS = ['lib/http', 'lib/run', 'lib/console'];
const FLOOR = ['lib/core', 'lib/db'];

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...walk(rel));
    else if (/\.tsx?$/.test(name)) out.push(rel);
  }
  return out;
}

/** Relative imports of a file, resolved to repository paths; `typeOnly` when erased at run time. */
export function importsOf(file: string, src = readFileSync(path.join(ROOT, file), 'utf8')): { target: string; typeOnly: boolean }[] {
  const out: { target: string; typeOnly: boolean }[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of src.matchAll(re)) {
    const spec = m[3] ?? m[4]!;
    out.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)), typeOnly: !!m[2] });
  }
  return out;
}

const under = (p: string, dirs: string[]) => dirs.some((d) => p === d || p.startsWith(`${d}/`));

describe('dependency direction', () => {
  const libFiles = walk('lib');
  const fnFiles = walk('functions');

  it('nothing below functions/ imports a handler or an adapter', () => {
    const wrong: string[] = [];
    for (const f of libFiles.filter((f) => !under(f, ADAPTERS))) {
      for (const { target } of importsOf(f)) if (under(target, ['functions', ...ADAPTERS])) wrong.push(`${f} → ${target}`);
    }
    expect(wrong).toEqual([]);
  });

  it('handlers never import an adapter', () => {
    const wrong: string[] = [];
    for (const f of fnFiles) for (const { target } of importsOf(f)) if (under(target, ADAPTERS)) wrong.push(`${f} → ${target}`);
    expect(wrong).toEqual([]);
  });

  it('core/ and db/ import nothing of the domain at run time', () => {
    const wrong: string[] = [];
    for (const f of libFiles.filter((f) => under(f, FLOOR))) {
      for (const { target, typeOnly } of importsOf(f)) if (!typeOnly && !under(target, FLOOR)) wrong.push(`${f} → ${target}`);
    }
    expect(wrong).toEqual([]);
  });

  it('shipped code (lib/, functions/, tools/, bench/) never imports test/: test doubles live there', () => {
    const wrong: string[] = [];
    for (const f of [...libFiles, ...fnFiles, ...walk('tools'), ...walk('bench')]) {
      for (const { target } of importsOf(f)) if (under(target, ['test'])) wrong.push(`${f} → ${target}`);
    }
    expect(wrong).toEqual([]);
  });

  it('the Gmail emulator and the corpus judge the product independently: they run no code of lib/', () => {
    const wrong: string[] = [];
    for (const f of [...walk('tools/gmail-emulator'), ...walk('tools/corpus')]) {
      for (const { target, typeOnly } of importsOf(f)) {
        if (!typeOnly && under(target, ['lib'])) wrong.push(`${f} → ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('production code holds no test doubles', () => {
    const wrong: string[] = [];
    for (const f of [...libFiles, ...fnFiles]) {
      const src = readFileSync(path.join(ROOT, f), 'utf8');
      if (/\bclass FakeClock\b|\bfunction captureLogger\b/.test(src)) wrong.push(f);
    }
    expect(wrong).toEqual([]);
  });

  it('lib/ has no loose files: every module lives in the folder of its concern', () => {
    expect(readdirSync(path.join(ROOT, 'lib')).filter((n) => /\.tsx?$/.test(n))).toEqual([]);
  });

  it('the rule itself catches a wrong arrow', () => {
    const found = importsOf('lib/capture/x.ts', "import { a } from '../../functions/index.js';\nimport type { B } from '../http/app.js';");
    expect(found.map((i) => i.target)).toEqual(['functions/index.js', 'lib/http/app.js']);
    expect(found[1]!.typeOnly).toBe(true);
  });
});

describe('the tree speaks only of itself', () => {
  it('no code, test or operator doc points at notes outside the repository', () => {
    const files = [...walk('lib'), ...walk('functions'), ...walk('tools'), ...walk('bench'), ...walk('test')];
    const docs = readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((n) => n.endsWith('.md'))
      .map((n) => `docs/${n}`);
    const wrong: string[] = [];
    for (const f of [...files, ...docs, 'README.md']) {
      const lines = readFileSync(path.join(ROOT, f), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (f === 'test/core/architecture.test.ts') return;
        if (/\bCONTRACT\b(?:\s*§|\.md|-level)|\b(?:GMAIL|STACK|STYLE|CONTRACT)\.md\b/.test(line)) wrong.push(`${f}:${i + 1}`);
      });
    }
    expect(wrong).toEqual([]);
  });
});

describe('one writer per table, one rule in one place', () => {
  const shipped = () => [...walk('lib'), ...walk('functions')];
  const writes = (table: string) => new RegExp(`\\b(?:INSERT(?:\\s+OR\\s+\\w+)?\\s+INTO|UPDATE|DELETE\\s+FROM|REPLACE\\s+INTO)\\s+${table}\\b`, 'i');

  it.each([
    ['email_accounts', 'lib/capture/accounts.ts'],
    ['email_sync_runs', 'lib/capture/runs.ts'],
  ])('%s is written only from %s', (table, owner) => {
    const wrong = shipped().filter((f) => f !== owner && writes(table).test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(wrong).toEqual([]);
    expect(writes(table).test(readFileSync(path.join(ROOT, owner), 'utf8'))).toBe(true);
  });

  it('Gmail address folding (googlemail.com is gmail.com) is spelled once, in lib/mail/address.ts', () => {
    const wrong = shipped().filter((f) => f !== 'lib/mail/address.ts' && /googlemail/i.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(wrong).toEqual([]);
  });
});
