// The one retry policy for Gmail calls (the client library's own retry is off): truncated
// exponential backoff from 1 s, doubling to 64 s, plus up to 1 s of jitter, honouring
// Retry-After when it asks for longer, for a bounded number of attempts.
export interface RetryPolicy {
  /** Requests sent at most per call, the first included. */
  maxAttempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  jitterMs: number;
  /** A Retry-After longer than this ends the call now (retryable later) instead of holding the mailbox. */
  maxRetryAfterMs: number;
}

export const RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  firstDelayMs: 1000,
  maxDelayMs: 64_000,
  jitterMs: 1000,
  maxRetryAfterMs: 15 * 60_000,
};

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...RETRY_POLICY, ...overrides };
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new Error(`retry maxAttempts must be a whole number ≥ 1, got ${p.maxAttempts}`);
  if (!(p.firstDelayMs >= 0 && p.maxDelayMs >= p.firstDelayMs && p.jitterMs >= 0)) {
    throw new Error('retry delays must satisfy 0 ≤ firstDelayMs ≤ maxDelayMs and jitterMs ≥ 0');
  }
  return p;
}

/**
 * Pause before retry number `retry` (1 for the first retry): firstDelay × 2^(retry−1) plus
 * jitter in [0, jitterMs), never more than maxDelayMs; at least `retryAfterMs` when the
 * server asked for longer.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number, retryAfterMs?: number): number {
  const exp = policy.firstDelayMs * 2 ** Math.min(Math.max(0, retry - 1), 30);
  const jitter = Math.floor(Math.min(Math.max(random(), 0), 0.999999) * policy.jitterMs);
  const delay = Math.min(policy.maxDelayMs, exp + jitter);
  return retryAfterMs !== undefined && retryAfterMs > delay ? retryAfterMs : delay;
}
