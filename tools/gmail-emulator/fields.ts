// Google's partial-response `fields` parameter (`messages(id,threadId),nextPageToken`,
// `payload/headers`), so a client that asks for less gets — and is charged bandwidth for — less.
import { errors } from './errors.js';

type FieldTree = Map<string, FieldTree | null>;

export function parseFields(spec: string): FieldTree {
  let pos = 0;
  const fail = (): never => {
    throw errors.invalidArgument(`Invalid field selection ${spec}`);
  };
  const merge = (into: FieldTree, name: string, sub: FieldTree | null): void => {
    if (!into.has(name)) {
      into.set(name, sub);
      return;
    }
    const existing = into.get(name)!;
    if (existing === null || sub === null) {
      into.set(name, null);
      return;
    }
    for (const [k, v] of sub) merge(existing, k, v);
  };
  const parseList = (): FieldTree => {
    const tree: FieldTree = new Map();
    for (;;) {
      const m = /^\s*([A-Za-z0-9_*]+(?:\/[A-Za-z0-9_*]+)*)\s*/.exec(spec.slice(pos));
      if (!m) fail();
      pos += m![0].length;
      const path = m![1]!.split('/');
      let sub: FieldTree | null = null;
      if (spec[pos] === '(') {
        pos++;
        sub = parseList();
        if (spec[pos] !== ')') fail();
        pos++;
      }
      for (let i = path.length - 1; i > 0; i--) sub = new Map([[path[i]!, sub]]);
      merge(tree, path[0]!, sub);
      while (spec[pos] === ' ') pos++;
      if (spec[pos] === ',') {
        pos++;
        continue;
      }
      return tree;
    }
  };
  const tree = parseList();
  if (pos !== spec.length) fail();
  return tree;
}

export function applyFields(value: unknown, tree: FieldTree | null): unknown {
  if (tree === null || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => applyFields(v, tree));
  if (tree.has('*')) return value;
  const out: Record<string, unknown> = {};
  for (const [k, sub] of tree) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = applyFields(v, sub);
  }
  return out;
}
