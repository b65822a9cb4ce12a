/**
 * Stripe webhook ingestion (`POST /webhooks/stripe`): verify the Stripe-Signature header with the
 * stripe SDK (HMAC-SHA256 of "<t>.<body>", at most `toleranceSeconds` old), normalise, append with
 * the Stripe event id as dedupe key.
 *
 *   invalid or missing signature, or a   -> 400, nothing appended (Stripe shows it as failed);
 *   timestamp outside [now - tolerance,     the window is two-sided: the SDK refuses only old
 *   now + tolerance]                        timestamps, a signature "from next year" is refused here
 *   a type Concord does not follow       -> 200, ignored
 *   well signed but unusable (no data,   -> 200 with `unprocessed`, kept in `unprocessed()` for ops:
 *   a customer Stripe does not know)        retrying cannot fix it, and a 500 would have Stripe
 *                                           retry it for three days
 *   a redelivery of an event seen before -> 200, not appended again (dedupe in the log, atomic)
 *   the log or Stripe is unreachable     -> 500, and Stripe retries later (nothing half-done:
 *                                           the dedupe key is set with the append, in one script)
 *
 * Refusals are logged through a throttle (core/log-throttle.ts): a sender of forged events cannot
 * write our log at its own rate.
 */
import Stripe from 'stripe';
import type { EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import { throttledWarn } from '../../core/log-throttle';
import type { WebhookHandler } from '../../core/webhooks';
import { normalizeStripeEvent, type CustomerLink } from './normalize';

export interface StripeWebhookOptions {
  /** The endpoint's signing secret (`whsec_...`). */
  secret: string;
  log: EventLog;
  customerLink: CustomerLink;
  logger: Logger;
  /** How far a signature timestamp may be from now, either way, in seconds (Stripe's own default). Default 300. */
  toleranceSeconds?: number;
  /** Well-signed events Concord could not use, kept for ops (newest last). Default 200. */
  keepUnprocessed?: number;
}

/** A well-signed event Concord could not use: what and why, for ops to look at. */
export interface UnprocessedWebhook {
  eventId: string;
  type: string;
  reason: string;
  receivedAt: string;
}

/** The webhook handler, and the events it acknowledged without being able to use them. */
export interface StripeWebhookHandler extends WebhookHandler {
  unprocessed(): UnprocessedWebhook[];
}

/** The `t=` of a Stripe-Signature header, in seconds; null when there is none. */
function signatureTime(signature: string): number | null {
  const match = /(?:^|,)\s*t=(\d{1,12})(?:,|$)/.exec(signature);
  return match ? Number(match[1]) : null;
}

/**
 * Failures that retrying the delivery cannot fix: Stripe answering 4xx about the event's objects
 * (a customer it does not know), or an event whose shape the normaliser cannot read. A connection
 * failure or a Stripe 5xx is not among them: Stripe should retry those.
 */
function unusable(error: unknown): string | null {
  if (error instanceof Stripe.errors.StripeInvalidRequestError) return `stripe refused a lookup (${error.statusCode ?? 400}${error.code ? ` ${error.code}` : ''})`;
  if (error instanceof TypeError) return 'the event does not have the expected shape';
  return null;
}

export function createStripeWebhookHandler(options: StripeWebhookOptions): StripeWebhookHandler {
  const { secret, log, customerLink, logger, toleranceSeconds = 300, keepUnprocessed = 200 } = options;
  const warn = throttledWarn(logger);
  const kept: UnprocessedWebhook[] = [];
  const refuse = (reason: string) => {
    warn(`refused:${reason}`, { reason }, 'stripe webhook refused: signature verification failed');
    return { status: 400, body: { error: 'signature verification failed' } };
  };
  const unprocessed = (event: Stripe.Event, reason: string) => {
    kept.push({ eventId: String(event.id), type: String(event.type), reason, receivedAt: new Date().toISOString() });
    if (kept.length > keepUnprocessed) kept.shift();
    warn(`unprocessed:${reason}`, { stripeEvent: event.id, type: event.type, reason }, 'stripe webhook acknowledged but not usable; kept for ops');
    return { status: 200, body: { received: true, unprocessed: reason } };
  };
  const handler = async ({ body, headers }: Parameters<WebhookHandler>[0]) => {
    const header = headers['stripe-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!signature) return { status: 400, body: { error: 'missing Stripe-Signature header' } };
    // Two-sided: the SDK checks only that the timestamp is not too old.
    const t = signatureTime(signature);
    if (t !== null && t > Date.now() / 1000 + toleranceSeconds) return refuse('timestamp in the future');
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(body, signature, secret, toleranceSeconds);
    } catch (error) {
      // Forged, tampered or replayed late: refused without a hint of which.
      return refuse((error as Error).message.slice(0, 80));
    }
    if (!event || typeof event !== 'object' || typeof event.type !== 'string' || typeof event.id !== 'string') {
      return { status: 400, body: { error: 'not a Stripe event' } };
    }
    const object = (event as { data?: { object?: unknown } }).data?.object;
    if (!object || typeof object !== 'object') return unprocessed(event, 'the event has no data.object');
    let normalized: Awaited<ReturnType<typeof normalizeStripeEvent>>;
    try {
      normalized = await normalizeStripeEvent(event, customerLink);
    } catch (error) {
      const reason = unusable(error);
      if (reason === null) throw error;
      return unprocessed(event, reason);
    }
    if (!normalized) return { status: 200, body: { received: true, ignored: event.type } };
    const appended = await log.append({ ...normalized, dedupeKey: `stripe:${event.id}` });
    logger.info({ stripeEvent: event.id, type: event.type, eventId: appended?.id ?? null, duplicate: appended === null }, 'stripe webhook ingested');
    return { status: 200, body: { received: true, duplicate: appended === null, ...(appended ? { id: appended.id } : {}) } };
  };
  return Object.assign(handler, { unprocessed: () => [...kept] });
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
