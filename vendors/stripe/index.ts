/**
 * The Stripe module: everything Concord says to a Stripe account goes through here. One client per
 * process (client.ts: the official SDK, every attempt reported), the billing port adapter
 * (adapter.ts, errors mapped in errors.ts), the webhook path (webhooks.ts: signature check and the
 * customer lookup, on the same client) and the account's rate limit as metrics and the ops console
 * read it.
 */
import { createHash } from 'node:crypto';
import { createMemoryCapacityGovernor, type CapacityDescriptor, type CapacityGovernor } from '../../core/capacity';
import type { EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import type { WebhookHandler } from '../../core/webhooks';
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { BillingPort } from '../../subgraphs/billing/port';
import { createStripeAdapter } from './adapter';
import { createStripeClient, type StripeSettings } from './client';
import { createStripeWebhookHandler, stripeCustomerLink } from './webhooks';

export type { StripeSettings } from './client';

/** Stripe's documented per-second rate limits: 100 read/write operations a second in live mode, 25 in test mode. */
const stripeRate = (apiKey: string, ratePerSecond?: number | null) => ratePerSecond ?? (/^(sk|rk)_live_/.test(apiKey) ? 100 : 25);
export const stripeLimits = (apiKey: string, ratePerSecond?: number | null): VendorLimitPolicy => ({ system: 'BILLING', kind: 'REQUESTS_PER_SECOND', max: stripeRate(apiKey, ratePerSecond) });

/**
 * The account's capacity: Stripe's rate limiter counts requests a second per account and mode
 * (https://docs.stripe.com/rate-limits: 100 read/write operations a second in live mode, 25 in
 * test mode), or CONCORD_STRIPE_RATE_PER_SECOND. The account is named by a hash of the key (the
 * key itself is a secret and never a Redis key); processes with the same key share the budget.
 */
export const stripeCapacity = (settings: Pick<StripeSettings, 'apiKey' | 'ratePerSecond'>): CapacityDescriptor => ({
  system: 'BILLING',
  vendor: 'stripe',
  account: createHash('sha256').update(settings.apiKey).digest('hex').slice(0, 16),
  perSecond: stripeRate(settings.apiKey, settings.ratePerSecond),
});

export interface StripeModule {
  port: BillingPort;
  limits: VendorLimitPolicy;
  capacity: CapacityDescriptor;
  /** The `/webhooks/stripe` handler for an endpoint signing secret (`whsec_...`). */
  webhookHandler(options: { secret: string; log: EventLog; logger: Logger }): WebhookHandler;
}

export function createStripeModule(settings: StripeSettings, options: { onCall?: VendorCallListener; governor?: CapacityGovernor } = {}): StripeModule {
  const governor = options.governor ?? createMemoryCapacityGovernor();
  const stripe = createStripeClient({ ...settings, gate: governor.gate(stripeCapacity(settings)), onCall: options.onCall });
  const customerLink = stripeCustomerLink({ stripe });
  return {
    port: createStripeAdapter({ ...settings, client: stripe }),
    limits: stripeLimits(settings.apiKey, settings.ratePerSecond),
    capacity: stripeCapacity(settings),
    webhookHandler: ({ secret, log, logger }) => createStripeWebhookHandler({ secret, log, customerLink, logger }),
  };
}
