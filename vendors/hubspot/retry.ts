/**
 * HubSpot's retry policy (core/retry.ts VendorRetryPolicy), read by the adapter and the saga
 * engine. HubSpot's burst limit is a rolling ten-second window per account (private apps: 100 on
 * Free/Starter, 190 on Professional/Enterprise; search 5 requests a second; developers.hubspot.com
 * "API usage guidelines and limits"). A search's SECONDLY 429 is waited out inside a call (a
 * second); a TEN_SECONDLY_ROLLING one (up to ten seconds) is not: the read fails at once,
 * retryable with HubSpot's wait, and a saga step waits it out as a delayed job. The engine honours
 * waits up to 15 minutes (the DAILY policy resets at midnight in the account's time zone).
 * The SDK's own retries are off (numberOfApiCallRetries 0, client.ts).
 */
import type { VendorRetryPolicy } from '../../core/retry';

export const hubspotRetry: VendorRetryPolicy = {
  readRetries: 2,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  retryAfterMaxMs: 2_000,
  retryAfterCeilingMs: 15 * 60_000,
};
