/**
 * Stripe webhook ingestion (`POST /webhooks/stripe`): verify the Stripe-Signature header with the
 * stripe SDK (HMAC-SHA256 of "<t>.<body>", at most `toleranceSeconds` old), normalise, append with
 * the Stripe event id as dedupe key.
 *
 *   invalid, stale or missing signature  -> 400, nothing appended (Stripe shows it as failed)
 *   a type Concord does not follow       -> 200, ignored
 *   a redelivery of an event seen before -> 200, not appended again (dedupe in the log, atomic)
 *   the log or the customer lookup fails -> 500, and Stripe retries later (nothing half-done:
 *                                           the dedupe key is set with the append, in one script)
 */
import Stripe from 'stripe';
import type { EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import type { WebhookHandler } from '../../core/webhooks';
import { normalizeStripeEvent, type CustomerLink } from './normalize';

export interface StripeWebhookOptions {
  /** The endpoint's signing secret (`whsec_...`). */
  secret: string;
  log: EventLog;
  customerLink: CustomerLink;
  logger: Logger;
  /** Oldest signature timestamp accepted, in seconds (Stripe's own default). Default 300. */
  toleranceSeconds?: number;
}

export function createStripeWebhookHandler(options: StripeWebhookOptions): WebhookHandler {
  const { secret, log, customerLink, logger, toleranceSeconds = 300 } = options;
  return async ({ body, headers }) => {
    const header = headers['stripe-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!signature) return { status: 400, body: { error: 'missing Stripe-Signature header' } };
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(body, signature, secret, toleranceSeconds);
    } catch (error) {
      // Forged, tampered or replayed late: refused without a hint of which.
      logger.warn({ reason: (error as Error).message }, 'stripe webhook refused: signature verification failed');
      return { status: 400, body: { error: 'signature verification failed' } };
    }
    const normalized = await normalizeStripeEvent(event, customerLink);
    if (!normalized) return { status: 200, body: { received: true, ignored: event.type } };
    const appended = await log.append({ ...normalized, dedupeKey: `stripe:${event.id}` });
    logger.info({ stripeEvent: event.id, type: event.type, eventId: appended?.id ?? null, duplicate: appended === null }, 'stripe webhook ingested');
    return { status: 200, body: { received: true, duplicate: appended === null, ...(appended ? { id: appended.id } : {}) } };
  };
}

export interface StripeCustomerLinkOptions {
  /** The process's Stripe client (client.ts). Required. */
  stripe: Stripe;
  /** Links remembered (they never change once written). Default 10000. */
  cacheSize?: number;
}

/** Canonical customer ids of Stripe customers, from their metadata, read once each. */
export function stripeCustomerLink(options: StripeCustomerLinkOptions): CustomerLink {
  const { stripe, cacheSize = 10_000 } = options;
  const links = new Map<string, string | null>();
  return async (stripeCustomerId) => {
    if (links.has(stripeCustomerId)) return links.get(stripeCustomerId)!;
    const customer = await stripe.customers.retrieve(stripeCustomerId);
    const link = 'deleted' in customer && customer.deleted ? null : ((customer as Stripe.Customer).metadata?.concord_customer_id ?? null);
    if (links.size >= cacheSize) links.delete(links.keys().next().value!);
    // Only a found link is final; an unlinked customer may be linked later by order-to-cash.
    if (link) links.set(stripeCustomerId, link);
    return link;
  };
}
