/**
 * NetSuite's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the saga
 * engine. NetSuite refuses a request over the account's concurrency limit with 429 (no
 * Retry-After) and may send Retry-After on 503 maintenance: reads get two quick retries in the
 * adapter, writes (external-id upserts) none there; the engine retries them, one call per attempt.
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const netsuiteRetry: VendorRetryPolicy = {
  readRetries: 2,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  retryAfterMaxMs: 5_000,
  retryAfterCeilingMs: 10 * 60_000,
};
