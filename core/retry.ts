/**
 * Retry by policy, in two layers that never multiply (docs/vendors.md "Who retries what"):
 *
 *   - inside one vendor call (withRetries, used by the vendor clients): reads only, a few quick
 *     attempts; a vendor's Retry-After is waited out only up to `retryAfterMaxMs`, a longer one
 *     ends the call at once, still retryable, with the vendor's wait on the error;
 *   - across attempts of a saga step (the engine, scheduledRetryDelay): every write and every read
 *     the client gave up on, one vendor call per attempt, as a delayed job in the queue; a
 *     vendor's Retry-After is honoured up to the policy's `retryAfterCeilingMs`.
 *
 * Each vendor declares its VendorRetryPolicy beside its client (vendors/<vendor>/retry.ts).
 */
import { ConcordError, type SystemName } from './errors';

/** One vendor's retry policy, read by its client and by the saga engine alike. */
export interface VendorRetryPolicy {
  /** Attempts after the first of a read, inside one call. Writes are never retried there. */
  readRetries: number;
  /** First backoff between in-call retries, ms. */
  baseDelayMs: number;
  /** Longest in-call backoff, ms. */
  maxDelayMs: number;
  /** Longest vendor-asked wait (Retry-After) spent inside a call, ms; a longer one goes to the engine. */
  retryAfterMaxMs: number;
  /** Longest vendor-asked wait the engine honours before a step's next attempt, ms (a delayed job). */
  retryAfterCeilingMs: number;
}

/** Per system, for the engine: each vendor module's policy (vendors/index.ts retryPolicies). */
export type RetryPolicies = Record<SystemName, VendorRetryPolicy>;

export interface RetryOptions {
  /** Attempts after the first. Default 2. */
  retries?: number;
  /** First backoff in ms. Default 100. */
  baseDelayMs?: number;
  /** Longest single backoff in ms. Default 5000. */
  maxDelayMs?: number;
  /**
   * Longest vendor Retry-After waited out here, ms. A longer one is not retried here: the error
   * leaves at once (still retryable, with the vendor's wait) for a layer that can wait durably.
   * Default: maxDelayMs.
   */
  retryAfterMaxMs?: number;
  /** Called before each wait, for logs and metrics. */
  onRetry?: (error: ConcordError, attempt: number, delayMs: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The wait before retry number `attempt` (1-based) after `error`. */
export function retryDelay(error: ConcordError, attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  if (error.retryAfterSeconds !== undefined) return Math.min(error.retryAfterSeconds * 1000, maxDelayMs);
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Run `call`, retrying ConcordErrors marked retryable. Anything else is thrown at once. */
export async function withRetries<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retries = 2, baseDelayMs = 100, maxDelayMs = 5000, onRetry } = options;
  const { retryAfterMaxMs = maxDelayMs } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ConcordError) || !error.retryable || attempt > retries) throw error;
      if (error.retryAfterSeconds !== undefined && error.retryAfterSeconds * 1000 > retryAfterMaxMs) throw error;
      const delay = retryDelay(error, attempt, baseDelayMs, maxDelayMs);
      onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}

/**
 * The engine's wait before attempt `attempt + 1` of a step: the vendor's Retry-After up to the
 * policy's ceiling, otherwise exponential backoff with jitter up to `maxDelayMs`.
 */
export function scheduledRetryDelay(error: ConcordError, attempt: number, policy: Pick<VendorRetryPolicy, 'retryAfterCeilingMs'>, baseDelayMs: number, maxDelayMs: number): number {
  if (error.retryAfterSeconds !== undefined) return Math.min(error.retryAfterSeconds * 1000, policy.retryAfterCeilingMs);
  return retryDelay(error, attempt, baseDelayMs, maxDelayMs);
}
