// `npm run fn -- <name> '<json>'`: run one function once against the configured database.
import { buildDeps, startHeartbeat } from './bootstrap.js';
import { AppError, envelope, toAppError } from '../core/errors.js';
import { invoke } from '../core/fn.js';
import { functionNamed, functions } from '../../functions/index.js';

async function cli(argv: string[]): Promise<number> {
  const [name, json] = argv;
  const names = Object.keys(functions).sort();
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`usage: npm run fn -- <name> '<json input>'\nfunctions: ${names.join(', ')}\n`);
    return name ? 0 : 2;
  }
  const fn = functionNamed(name);
  if (!fn) return fail(new AppError('NOT_FOUND', `no function named ${name}; known: ${names.join(', ')}`));
  let input: unknown = {};
  if (json !== undefined) {
    try {
      input = JSON.parse(json);
    } catch {
      return fail(new AppError('VALIDATION', 'input is not valid JSON', { field: 'input' }));
    }
  }
  // Logs go to stderr so stdout holds exactly the result.
  const deps = await buildDeps({ logDestination: process.stderr });
  // A sync run from here holds its mailbox's lease like the server's do.
  const heartbeat = startHeartbeat(deps);
  try {
    const result = await invoke(deps, fn, input);
    await deps.background.idle();
    process.stdout.write(JSON.stringify(result ?? null, null, 2) + '\n');
    return 0;
  } catch (err) {
    const e = toAppError(err);
    if (e.code === 'INTERNAL') process.stderr.write(String(err instanceof Error ? err.stack : err) + '\n');
    return fail(e);
  } finally {
    heartbeat.stop();
    deps.db.close();
  }
}

/** Prints the error envelope on stdout (where a caller reads the result) and answers the exit code. */
function fail(e: AppError): number {
  process.stdout.write(JSON.stringify(envelope(e)) + '\n');
  return 1;
}

try {
  process.exitCode = await cli(process.argv.slice(2));
} catch (err) {
  // Start-up failed (configuration, migrations, the secret key): those messages name the
  // variable or file to fix, so they are shown even though the code is INTERNAL.
  const e = toAppError(err);
  process.exitCode = fail(e.code === 'INTERNAL' && err instanceof Error ? new AppError('INTERNAL', err.message, { cause: err }) : e);
}
