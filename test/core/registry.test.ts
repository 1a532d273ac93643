import { describe, expect, expectTypeOf, it } from 'vitest';
import { functionNamed, functions } from '../../functions/index.js';
import { login } from '../../functions/login.js';

describe('the function registry', () => {
  it('keys every function by its own name', () => {
    for (const [key, fn] of Object.entries(functions)) expect(fn.name, key).toBe(key);
  });

  it('keeps each function its own type, so callers need no assertion', () => {
    expectTypeOf(functions.login).toEqualTypeOf<typeof login>();
    expectTypeOf(functions.syncAll.name).toBeString();
  });

  it('looks up by name without reaching Object.prototype', () => {
    expect(functionNamed('login')).toBe(login);
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'nope']) expect(functionNamed(name), name).toBeUndefined();
  });
});
