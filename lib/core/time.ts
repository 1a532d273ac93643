// The one spelling of a stored or answered instant: YYYY-MM-DDTHH:MM:SS.sssZ, always UTC.
import type { Clock } from './clock.js';

/** An instant given in epoch milliseconds, in the service's time format. */
export const isoAt = (ms: number): string => new Date(ms).toISOString();

/** The clock's present instant, in the service's time format. */
export const nowIso = (clock: Clock): string => isoAt(clock.now());
