// Running the service's own entry points as child processes, against a temp data directory.
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The parent's environment without any CRM_* setting, plus the given ones. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CRM_')));
  return { ...clean, LOG_LEVEL: 'info', ...env };
}

/** Starts `command` (program and arguments) in the project root. */
export function start(command: string[], env: Record<string, string>): ChildProcess {
  const [program, ...args] = command;
  return spawn(program!, args, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Watched {
  /** Resolves when the child has exited and its output is closed. */
  done: Promise<Finished>;
  /** Resolves once stdout holds `text`; rejects if the child exits first. */
  waitFor(text: string): Promise<void>;
}

/** Collects a child's output as it comes, for waiting on a line and for reading at the end. */
export function watch(child: ChildProcess): Watched {
  let stdout = '';
  let stderr = '';
  let exited = false;
  const waiters = new Set<{ text: string; resolve: () => void; reject: (e: Error) => void }>();
  const check = () => {
    for (const w of waiters) {
      if (stdout.includes(w.text)) {
        waiters.delete(w);
        w.resolve();
      } else if (exited) {
        waiters.delete(w);
        w.reject(new Error(`the process exited before printing ${w.text}:\n${stdout}\n${stderr}`));
      }
    }
  };
  child.stdout!.on('data', (d) => {
    stdout += d;
    check();
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      check();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    done,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        waiters.add({ text, resolve, reject });
        check();
      }),
  };
}

export function run(command: string[], env: Record<string, string>): Promise<Finished> {
  return watch(start(command, env)).done;
}

/** A port nobody listens on right now: bind port 0, read what the system gave, let it go. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
