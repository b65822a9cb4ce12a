/**
 * HubSpot's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the saga
 * engine. HubSpot's burst limit is a rolling ten-second window per account (private apps: 100 on
 * Free/Starter, 190 on Professional/Enterprise; search 5 requests a second; developers.hubspot.com
 * "API usage guidelines and limits"), so a 429 is waited out for up to a window in a call and the
 * engine may wait much longer (the DAILY policy resets at midnight in the account's time zone).
 * The SDK's own retries are off (numberOfApiCallRetries 0, client.ts).
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const hubspotRetry: VendorRetryPolicy = {
  readRetries: 2,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  retryAfterMaxMs: 10_000,
  retryAfterCeilingMs: 15 * 60_000,
};
