/**
 * The Stripe module: everything Concord says to a Stripe account goes through here. One client per
 * process (client.ts: the official SDK, every attempt reported), the billing port adapter
 * (adapter.ts, errors mapped in errors.ts), the webhook path (webhooks.ts: signature check and the
 * customer lookup, on the same client) and the account's rate limit as metrics and the ops console
 * read it.
 */
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
export const stripeLimits = (apiKey: string): VendorLimitPolicy => ({ system: 'BILLING', kind: 'REQUESTS_PER_SECOND', max: /^(sk|rk)_live_/.test(apiKey) ? 100 : 25 });

export interface StripeModule {
  port: BillingPort;
  limits: VendorLimitPolicy;
  /** The `/webhooks/stripe` handler for an endpoint signing secret (`whsec_...`). */
  webhookHandler(options: { secret: string; log: EventLog; logger: Logger }): WebhookHandler;
}

export function createStripeModule(settings: StripeSettings, options: { onCall?: VendorCallListener } = {}): StripeModule {
  const stripe = createStripeClient({ ...settings, onCall: options.onCall });
  const customerLink = stripeCustomerLink({ stripe });
  return {
    port: createStripeAdapter({ ...settings, client: stripe }),
    limits: stripeLimits(settings.apiKey),
    webhookHandler: ({ secret, log, logger }) => createStripeWebhookHandler({ secret, log, customerLink, logger }),
  };
}
