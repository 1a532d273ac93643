// A function module: a name, a zod input schema and run(deps, input). The router, the
// scheduler, the CLI and tests all call it through invoke(), so they cannot drift apart.
import { z } from 'zod';
import { AppError } from './errors.js';
import type { CallContext, Deps } from './deps.js';

export interface FnDef<I extends z.ZodType, O> {
  name: string;
  input: I;
  // Method syntax on purpose: it lets a function with a specific input stand in the registry
  // as an AnyFn, which invoke() makes safe by parsing the input with the same `input` schema.
  run(deps: Deps, input: z.output<I>, ctx: CallContext): Promise<O>;
}

export type AnyFn = FnDef<z.ZodType, unknown>;

export function defineFunction<I extends z.ZodType, O>(def: FnDef<I, O>): FnDef<I, O> {
  return def;
}

function parseInput<I extends z.ZodType>(schema: I, raw: unknown): z.output<I> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  // A VALIDATION answer always names a field (the API promises it); the whole input is `body`.
  throw new AppError('VALIDATION', field ? `${field}: ${issue.message}` : issue.message, {
    field: field || 'body',
  });
}

export async function invoke<I extends z.ZodType, O>(
  deps: Deps,
  fn: FnDef<I, O>,
  raw: unknown,
  ctx: CallContext = {},
): Promise<O> {
  const input = parseInput(fn.input, raw);
  return fn.run(deps, input, ctx);
}
