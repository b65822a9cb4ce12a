/**
 * Stripe events -> canonical BusinessEvents. Only what Concord's events stand for is mapped; any
 * other type is acknowledged and ignored by the caller (null here).
 *
 *   invoice.created / finalized / paid / payment_failed / voided  -> INVOICE_CREATED / _FINALIZED /
 *                                                                    _PAID, PAYMENT_FAILED, INVOICE_VOIDED
 *   customer.subscription.created (active) / updated to active    -> CONTRACT_ACTIVATED
 *   customer.subscription.updated with other items or quantities  -> CONTRACT_AMENDED
 *
 * The canonical customer id comes from the link Concord keeps in Stripe metadata
 * (`concord_customer_id`): on the subscription (copied onto its invoices' subscription_details), or
 * else on the Stripe customer, looked up through `customerLink`.
 */
import type Stripe from 'stripe';
import type { NewBusinessEvent } from '../../core/events/event-log';

const META_CUSTOMER = 'concord_customer_id';
const META_CORRELATION = 'concord_correlation_id';
/** Set by Concord's amendments (vendors/stripe/amendments.ts). */
const META_AMENDMENT = 'concord_amendment_id';

/** Canonical customer id of a Stripe customer id, or null when the customer carries no link. */
export type CustomerLink = (stripeCustomerId: string) => Promise<string | null>;

const INVOICE_TYPES: Record<string, NewBusinessEvent['type']> = {
  'invoice.created': 'INVOICE_CREATED',
  'invoice.finalized': 'INVOICE_FINALIZED',
  'invoice.paid': 'INVOICE_PAID',
  'invoice.payment_failed': 'PAYMENT_FAILED',
  'invoice.voided': 'INVOICE_VOIDED',
};

const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : value.id;

async function customerOf(metadata: Stripe.Metadata | null | undefined, stripeCustomer: string | null, link: CustomerLink): Promise<string | null> {
  const linked = metadata?.[META_CUSTOMER];
  if (linked) return linked;
  return stripeCustomer ? link(stripeCustomer) : null;
}

function base(event: Stripe.Event) {
  return {
    occurredAt: new Date(event.created * 1000).toISOString(),
    source: 'BILLING' as const,
    runId: null,
  };
}

async function invoiceEvent(event: Stripe.Event, type: NewBusinessEvent['type'], link: CustomerLink): Promise<NewBusinessEvent> {
  const invoice = event.data.object as Stripe.Invoice;
  const details = invoice.parent?.subscription_details ?? null;
  return {
    ...base(event),
    type,
    correlationId: details?.metadata?.[META_CORRELATION] ?? invoice.metadata?.[META_CORRELATION] ?? null,
    customerId: await customerOf(details?.metadata ?? invoice.metadata, idOf(invoice.customer), link),
    contractId: idOf(details?.subscription),
    invoiceId: invoice.id ?? null,
    data: {
      stripeEvent: event.id,
      number: invoice.number ?? null,
      status: invoice.status ?? null,
      ...(type === 'PAYMENT_FAILED' ? { attemptCount: invoice.attempt_count } : {}),
    },
  };
}

async function subscriptionEvent(event: Stripe.Event, link: CustomerLink): Promise<NewBusinessEvent | null> {
  const subscription = event.data.object as Stripe.Subscription;
  const previous = (event.data.previous_attributes ?? {}) as Partial<Stripe.Subscription>;
  let type: NewBusinessEvent['type'];
  if (event.type === 'customer.subscription.created') {
    if (subscription.status !== 'active') return null;
    type = 'CONTRACT_ACTIVATED';
  } else if (previous.status !== undefined && previous.status !== subscription.status && subscription.status === 'active') {
    type = 'CONTRACT_ACTIVATED';
  } else if (previous.items !== undefined) {
    // An amendment Concord made stamps its run id (concord_amendment_id) on the subscription: the
    // orchestrator announces it once the ERP has the adjustment (and not at all if it is undone), so
    // Stripe's echo of that change is not a second CONTRACT_AMENDED.
    if (previous.metadata !== undefined && subscription.metadata?.[META_AMENDMENT] !== previous.metadata?.[META_AMENDMENT]) return null;
    type = 'CONTRACT_AMENDED';
  } else {
    return null; // past_due and the like follow invoice events, which say more
  }
  return {
    ...base(event),
    type,
    correlationId: subscription.metadata?.[META_CORRELATION] ?? null,
    customerId: await customerOf(subscription.metadata, idOf(subscription.customer), link),
    contractId: subscription.id,
    invoiceId: idOf(subscription.latest_invoice),
    data: { stripeEvent: event.id, status: subscription.status },
  };
}

/** The canonical event of a Stripe event, or null for a type Concord does not follow. */
export async function normalizeStripeEvent(event: Stripe.Event, link: CustomerLink): Promise<NewBusinessEvent | null> {
  const invoiceType = INVOICE_TYPES[event.type];
  if (invoiceType) return invoiceEvent(event, invoiceType, link);
  if (event.type === 'customer.subscription.created' || event.type === 'customer.subscription.updated') return subscriptionEvent(event, link);
  return null;
}
