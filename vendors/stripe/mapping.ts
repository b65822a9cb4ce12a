/**
 * Stripe objects -> canonical billing records (core/canonical.ts). Amounts arrive in integer minor
 * units and leave as decimal strings; times arrive as unix seconds and leave as ISO strings.
 * The canonical customer id comes from the link Concord keeps in Stripe's own `metadata`
 * (`concord_customer_id`), on the subscription or on the billing customer.
 */
import type Stripe from 'stripe';
import type {
  BillingContract,
  BillingCustomer,
  BillingInvoice,
  ContractStatus,
  InvoiceStatus,
} from '../../core/canonical';
import { fromMinorUnits } from '../../core/money';

/** Metadata keys Concord writes on Stripe objects. */
export const META = {
  customerId: 'concord_customer_id',
  opportunityId: 'concord_opportunity_id',
  correlationId: 'concord_correlation_id',
} as const;

export const isoFromUnix = (seconds: number | null | undefined): string | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000).toISOString();

type Expandable<T extends { id: string }> = string | T | { id: string; deleted?: true } | null;

export const idOf = <T extends { id: string }>(value: Expandable<T> | undefined): string | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : value.id;

/** The canonical id linked to an (expanded) Stripe customer, if the link is there. */
export function linkedCustomerId(customer: Expandable<Stripe.Customer> | undefined): string | null {
  if (!customer || typeof customer === 'string' || 'deleted' in customer) return null;
  return (customer as Stripe.Customer).metadata?.[META.customerId] ?? null;
}

export function contractStatus(subscription: Stripe.Subscription): ContractStatus {
  switch (subscription.status) {
    case 'incomplete':
      return 'DRAFT';
    case 'active':
    case 'trialing':
      return 'ACTIVE';
    case 'past_due':
    case 'unpaid':
      return 'PAST_DUE';
    case 'incomplete_expired':
      return 'ENDED';
    case 'canceled': {
      // Ran to its scheduled end (cancel_at) = ended; stopped before it = canceled.
      const { cancel_at: cancelAt, ended_at: endedAt } = subscription;
      return cancelAt !== null && endedAt !== null && endedAt >= cancelAt ? 'ENDED' : 'CANCELED';
    }
    default:
      // 'paused' (a trial ended without a payment method) and statuses Stripe may add later: nothing
      // is being billed, which is closest to a contract not yet in force.
      return 'DRAFT';
  }
}

export function invoiceStatus(status: Stripe.Invoice.Status | null): InvoiceStatus {
  switch (status) {
    case 'open':
      return 'OPEN';
    case 'paid':
      return 'PAID';
    case 'void':
      return 'VOID';
    case 'uncollectible':
      return 'UNCOLLECTIBLE';
    default:
      return 'DRAFT';
  }
}

export function toBillingCustomer(customer: Stripe.Customer, customerId?: string): BillingCustomer {
  return {
    id: customer.id,
    customerId: customerId ?? customer.metadata?.[META.customerId] ?? '',
    name: customer.name ?? null,
    email: customer.email,
    currency: customer.currency ? customer.currency.toUpperCase() : null,
  };
}

/** `fallbackCustomerId`: the canonical id when the subscription itself carries no link. */
export function toContract(subscription: Stripe.Subscription, fallbackCustomerId?: string | null): BillingContract {
  return {
    id: subscription.id,
    customerId: subscription.metadata?.[META.customerId] ?? linkedCustomerId(subscription.customer) ?? fallbackCustomerId ?? '',
    billingCustomerId: idOf(subscription.customer) ?? '',
    status: contractStatus(subscription),
    startDate: isoFromUnix(subscription.start_date),
    endDate: isoFromUnix(subscription.ended_at ?? subscription.cancel_at),
    items: subscription.items.data.map((item) => ({
      id: item.id,
      productCode: item.price.lookup_key,
      description: item.price.nickname,
      quantity: item.quantity ?? 1,
      unitPrice: fromMinorUnits(item.price.unit_amount ?? 0, item.price.currency),
    })),
    opportunityId: subscription.metadata?.[META.opportunityId] ?? null,
  };
}

export function toInvoice(invoice: Stripe.Invoice, fallbackCustomerId?: string | null): BillingInvoice {
  const money = (minor: number) => fromMinorUnits(minor, invoice.currency);
  const details = invoice.parent?.subscription_details ?? null;
  const tax = (invoice.total_taxes ?? []).reduce((sum, t) => sum + t.amount, 0);
  return {
    id: invoice.id,
    number: invoice.number,
    customerId: details?.metadata?.[META.customerId] ?? linkedCustomerId(invoice.customer) ?? fallbackCustomerId ?? '',
    billingCustomerId: idOf(invoice.customer) ?? '',
    contractId: details ? idOf(details.subscription) : null,
    status: invoiceStatus(invoice.status),
    subtotal: money(invoice.subtotal),
    tax: money(tax),
    total: money(invoice.total),
    // What is owed now, as a portal reads it: Stripe keeps amount_due at the billed figure after the
    // invoice is paid or voided, and amount_remaining is what is left of it (Stripe API reference,
    // "The Invoice object"). The billed figure stays available as billedAmountDue.
    amountDue: money(invoice.status === 'paid' || invoice.status === 'void' ? 0 : invoice.amount_remaining),
    billedAmountDue: money(invoice.amount_due),
    amountPaid: money(invoice.amount_paid),
    amountRemaining: money(invoice.amount_remaining),
    issuedAt: isoFromUnix(invoice.status_transitions.finalized_at),
    dueAt: isoFromUnix(invoice.due_date),
    lines: invoice.lines.data.map((line) => ({
      id: line.id,
      description: line.description,
      quantity: line.quantity,
      amount: fromMinorUnits(line.amount, line.currency),
    })),
  };
}
