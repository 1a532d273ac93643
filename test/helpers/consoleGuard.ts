// A console error during a test is a bug nobody asserted on (an unhandled rejection logged by
// a library, a React-style warning, a forgotten debug line). The guard collects them so the
// test can fail with what was said, instead of the line scrolling past in a green run.
import { format } from 'node:util';

export interface ConsoleWatch {
  /** Restores console.error and answers what was written to it while watched. */
  stop(): string[];
}

export function watchConsoleErrors(): ConsoleWatch {
  const previous = console.error;
  const said: string[] = [];
  console.error = (...args: unknown[]) => {
    said.push(format(...args));
  };
  return {
    stop() {
      console.error = previous;
      return said;
    },
  };
}
