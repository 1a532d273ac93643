// `npm run fn -- <name> '<json>'`: run one function once against the configured database.
import { buildDeps, startHeartbeat } from './bootstrap.js';
import { envelope, toAppError } from '../core/errors.js';
import { invoke } from '../core/fn.js';
import { functions } from '../../functions/index.js';
import { createLogger } from '../core/log.js';

async function cli(argv: string[]): Promise<number> {
  const [name, json] = argv;
  const names = Object.keys(functions).sort();
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`usage: npm run fn -- <name> '<json input>'\nfunctions: ${names.join(', ')}\n`);
    return name ? 0 : 2;
  }
  const fn = functions[name as keyof typeof functions];
  if (!fn) {
    process.stdout.write(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no function named ${name}; known: ${names.join(', ')}` } }) + '\n');
    return 1;
  }
  let input: unknown = {};
  if (json !== undefined) {
    try {
      input = JSON.parse(json);
    } catch {
      process.stdout.write(JSON.stringify({ error: { code: 'VALIDATION', message: 'input is not valid JSON' } }) + '\n');
      return 1;
    }
  }
  // Logs go to stderr so stdout holds exactly the result.
  const deps = await buildDeps({ log: createLogger({ destination: process.stderr }) });
  // A sync run from here holds its mailbox's lease like the server's do.
  const heartbeat = startHeartbeat(deps);
  try {
    const result = await invoke(deps, fn as never, input);
    await deps.background.idle();
    process.stdout.write(JSON.stringify(result ?? null, null, 2) + '\n');
    return 0;
  } catch (err) {
    const e = toAppError(err);
    if (e.code === 'INTERNAL') process.stderr.write(String(err instanceof Error ? err.stack : err) + '\n');
    process.stdout.write(JSON.stringify(envelope(e)) + '\n');
    return 1;
  } finally {
    heartbeat.stop();
    deps.db.close();
  }
}

try {
  process.exitCode = await cli(process.argv.slice(2));
} catch (err) {
  const e = toAppError(err);
  process.stdout.write(JSON.stringify({ error: { code: e.code === 'INTERNAL' ? 'INTERNAL' : e.code, message: err instanceof Error ? err.message : String(err) } }) + '\n');
  process.exitCode = 1;
}
