import type { Clock } from './clock.js';

/** Contract time format: YYYY-MM-DDTHH:MM:SS.sssZ. */
export const nowIso = (clock: Clock): string => new Date(clock.now()).toISOString();
