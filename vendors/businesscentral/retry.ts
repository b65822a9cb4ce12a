/**
 * Business Central's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the
 * saga engine. BC answers 429 when a user passes 6,000 requests in 5 minutes or 100 at once, and
 * sends no Retry-After: reads get two retries in the adapter with backoff, writes none there (the
 * engine retries them, one call per attempt, after reading BC by the external document number).
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const businessCentralRetry: VendorRetryPolicy = {
  readRetries: 2,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  retryAfterMaxMs: 5_000,
  retryAfterCeilingMs: 5 * 60_000,
};
