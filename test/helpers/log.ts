// A logger for tests: every line kept in memory, none reaching the console.
import { createLogger, type Logger } from '../../lib/core/log.js';

/** A logger that keeps every line in memory (tests read them; nothing reaches the console). */
export function captureLogger(): { log: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const chunks: string[] = [];
  const destination = {
    write(chunk: string) {
      chunks.push(chunk);
      for (const l of chunk.split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ level: 'debug', destination }), lines, text: () => chunks.join('') };
}
