// The registry: name → function module. Routes, the scheduler and the CLI look functions up here.
import type { AnyFn } from '../lib/fn.js';

export const functions: Record<string, AnyFn> = {};
