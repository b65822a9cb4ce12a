/**
 * Chargebee's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the saga
 * engine. Chargebee limits requests per minute ("no more requests are served until the limit
 * resets (in approximately a minute)", Chargebee docs "What are the Chargebee API limits?"), so a
 * 429 is waited out longer than Stripe's per-second limit: reads back off from a second, and the
 * engine may wait up to the full minute. The SDK's own retries are off (client.ts).
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const chargebeeRetry: VendorRetryPolicy = {
  readRetries: 2,
  baseDelayMs: 1_000,
  maxDelayMs: 8_000,
  retryAfterMaxMs: 8_000,
  retryAfterCeilingMs: 10 * 60_000,
};
