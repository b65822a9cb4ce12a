/**
 * Salesforce's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the saga
 * engine. Salesforce answers a spent daily allocation with 403 REQUEST_LIMIT_EXCEEDED and a
 * concurrent-request cap with 503 (no Retry-After on either): reads get two quick retries while the
 * daily budget allows (adapter.ts), writes none; the engine's backoff does the rest.
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const salesforceRetry: VendorRetryPolicy = {
  readRetries: 2,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  retryAfterMaxMs: 5_000,
  retryAfterCeilingMs: 10 * 60_000,
};
