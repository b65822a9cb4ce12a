/**
 * The one Stripe client of a process: the official SDK pointed at the configured API base (real
 * Stripe or the simulator), every HTTP attempt reported and traced (calls.ts). The billing adapter
 * and the webhook path's customer lookup share it.
 */
import Stripe from 'stripe';
import type { CapacityGate } from '../../core/capacity';
import type { VendorCallListener } from '../../core/vendor-call';
import { reportingHttpClient } from './calls';

/** What a real deployment configures for its Stripe account. */
export interface StripeSettings {
  /** Secret (or restricted) API key. Required; never logged. */
  apiKey: string;
  /** API base URL. Default https://api.stripe.com; the simulator is for example http://127.0.0.1:4102. */
  baseUrl?: string;
  /** Tax rate put on new subscriptions (`default_tax_rates`), CONCORD_STRIPE_TAX_RATE_ID. Default null: none. */
  taxRateId?: string | null;
  /** How far Stripe's search may trail writes, in s (CONCORD_STRIPE_SEARCH_LAG_S): newer objects are listed too. Default 300. */
  searchLagSeconds?: number;
  /** Requests a second across all processes (CONCORD_STRIPE_RATE_PER_SECOND). Default Stripe's documented limit: 100 live, 25 test mode. */
  ratePerSecond?: number | null;
}

export interface StripeClientOptions extends StripeSettings {
  /** Timeout of one HTTP request, in ms. Default 10000. */
  timeoutMs?: number;
  /**
   * Retries the SDK makes by itself. Default 0: retries follow the Stripe policy (retry.ts) in the
   * adapter (reads) and the saga engine (writes), which the SDK's would multiply.
   */
  maxNetworkRetries?: number;
  /** Told of every HTTP attempt to Stripe: operation, status (0 = no answer) and duration. */
  onCall?: VendorCallListener;
  /** The account's capacity gate (its request rate, shared by every Concord process); every HTTP attempt passes it. Default none. */
  gate?: CapacityGate;
}

export function createStripeClient(options: StripeClientOptions): Stripe {
  const { apiKey, baseUrl = 'https://api.stripe.com', timeoutMs = 10_000, maxNetworkRetries = 0, onCall, gate } = options;
  const url = new URL(baseUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(apiKey, {
    host: url.hostname,
    port: url.port || (protocol === 'http' ? 80 : 443),
    protocol,
    maxNetworkRetries,
    timeout: timeoutMs,
    telemetry: false,
    appInfo: { name: 'concord' },
    ...(onCall || gate ? { httpClient: reportingHttpClient(onCall, gate) } : {}),
  });
}
