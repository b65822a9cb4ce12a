/**
 * Stripe's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the saga engine.
 * Stripe says whether to retry (Stripe-Should-Retry, mapped in errors.ts) and may send Retry-After
 * on 429. The SDK's own retries are off (maxNetworkRetries 0, client.ts): they would apply to writes
 * too and not be counted by this policy. Reads are retried in the adapter; writes only by the
 * engine, one call per attempt, each with its idempotency key.
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const stripeRetry: VendorRetryPolicy = {
  readRetries: 2,
  // Stripe's guidance for 429s is exponential backoff from about half a second.
  baseDelayMs: 500,
  maxDelayMs: 5_000,
  retryAfterMaxMs: 5_000,
  retryAfterCeilingMs: 10 * 60_000,
};
