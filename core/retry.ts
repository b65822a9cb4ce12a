/**
 * Retry of vendor reads (and of writes that carry an idempotency key) by policy: wait as the vendor
 * says when it gives a Retry-After, otherwise exponential backoff with full jitter, up to a bound.
 * Callers decide what is safe to retry; a non-idempotent write must pass `retries: 0`.
 */
import { ConcordError } from './errors';

export interface RetryOptions {
  /** Attempts after the first. Default 2. */
  retries?: number;
  /** First backoff in ms. Default 100. */
  baseDelayMs?: number;
  /** Longest single wait in ms, including a vendor's Retry-After. Default 5000. */
  maxDelayMs?: number;
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
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ConcordError) || !error.retryable || attempt > retries) throw error;
      const delay = retryDelay(error, attempt, baseDelayMs, maxDelayMs);
      onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
