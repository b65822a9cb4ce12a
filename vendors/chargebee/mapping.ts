/**
 * Chargebee objects (API v2, Product Catalog 2.0) -> canonical billing records. Amounts arrive in
 * integer minor units and leave as decimal strings; times arrive as unix seconds and leave as ISO.
 *
 * Cross-system links live in Chargebee's own fields: the canonical customer id in the customer's
 * custom field `cf_concord_customer_id` (a custom field, unlike meta_data, can be filtered on in
 * GET /customers, so the link is a batched read), and on subscriptions in `meta_data`
 * (`concord_customer_id`, `concord_opportunity_id`, `concord_correlation_id`,
 * `concord_amendment_id`). Invoices carry no metadata in Chargebee: an amendment's proration invoice
 * is found by the PO number Concord puts on it (`concord-amendment:<run id>`).
 */
import type { Customer, Invoice, Subscription } from 'chargebee';
import type { BillingContract, BillingCustomer, BillingInvoice, ContractStatus, InvoiceStatus } from '../../core/canonical';
import { fromMinorUnits } from '../../core/money';

/** The custom field holding the canonical customer id (created once per site, see docs/vendors.md). */
export const LINK_FIELD = 'cf_concord_customer_id';

export const META = {
  customerId: 'concord_customer_id',
  opportunityId: 'concord_opportunity_id',
  correlationId: 'concord_correlation_id',
  amendmentId: 'concord_amendment_id',
} as const;

/** PO number of an amendment's proration invoice. */
export const amendmentPoNumber = (amendmentId: string) => `concord-amendment:${amendmentId}`.slice(0, 100);

export const isoFromUnix = (seconds: number | null | undefined): string | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000).toISOString();

export const linkOf = (customer: Customer | null | undefined): string => {
  const value = customer ? (customer as unknown as Record<string, unknown>)[LINK_FIELD] : undefined;
  return typeof value === 'string' ? value : '';
};

export const metaOf = (subscription: Subscription): Record<string, string> => {
  const meta = subscription.meta_data as unknown;
  if (!meta) return {};
  if (typeof meta === 'string') {
    try {
      return JSON.parse(meta) as Record<string, string>;
    } catch {
      return {};
    }
  }
  return meta as Record<string, string>;
};

export function contractStatus(subscription: Subscription): ContractStatus {
  switch (subscription.status) {
    case 'future':
    case 'paused':
      return 'DRAFT';
    case 'in_trial':
    case 'active':
    case 'non_renewing':
      return (subscription.due_invoices_count ?? 0) > 0 ? 'PAST_DUE' : 'ACTIVE';
    case 'cancelled': {
      // Ran to its scheduled end = ended; stopped before the end of its term = canceled.
      const { cancelled_at: cancelledAt, current_term_end: termEnd } = subscription;
      return cancelledAt !== undefined && termEnd !== undefined && cancelledAt >= termEnd ? 'ENDED' : 'CANCELED';
    }
    default:
      return 'DRAFT';
  }
}

export function invoiceStatus(status: Invoice['status']): InvoiceStatus {
  switch (status) {
    case 'posted':
    case 'payment_due':
      return 'OPEN';
    case 'paid':
      return 'PAID';
    case 'voided':
      return 'VOID';
    case 'not_paid':
      return 'UNCOLLECTIBLE';
    default:
      return 'DRAFT'; // pending: still open to changes until closed
  }
}

export function toBillingCustomer(customer: Customer): BillingCustomer {
  return {
    id: customer.id,
    customerId: linkOf(customer),
    name: customer.company ?? ([customer.first_name, customer.last_name].filter(Boolean).join(' ') || null),
    email: customer.email ?? null,
    currency: customer.preferred_currency_code ? customer.preferred_currency_code.toUpperCase() : null,
  };
}

/** `productOf`: the catalog's item id (the product code) of an item price id. */
export function toContract(subscription: Subscription, productOf: (itemPriceId: string) => string | null, customer?: Customer | null): BillingContract {
  const meta = metaOf(subscription);
  const currency = subscription.currency_code ?? 'USD';
  const ends = subscription.status === 'cancelled' || subscription.status === 'non_renewing';
  return {
    id: subscription.id,
    customerId: meta[META.customerId] ?? linkOf(customer),
    billingCustomerId: subscription.customer_id,
    status: contractStatus(subscription),
    startDate: isoFromUnix(subscription.started_at ?? subscription.start_date ?? subscription.created_at),
    endDate: ends ? isoFromUnix(subscription.cancelled_at) : null,
    items: (subscription.subscription_items ?? []).map((item) => ({
      // Chargebee's subscription items have no id of their own: the item price identifies one.
      id: item.item_price_id,
      productCode: productOf(item.item_price_id),
      description: null,
      quantity: item.quantity ?? 1,
      unitPrice: fromMinorUnits(item.unit_price ?? 0, currency),
    })),
    opportunityId: meta[META.opportunityId] ?? null,
  };
}

export function toInvoice(invoice: Invoice, customerId: string): BillingInvoice {
  const money = (minor: number | undefined) => fromMinorUnits(minor ?? 0, invoice.currency_code);
  const status = invoiceStatus(invoice.status);
  const total = invoice.total ?? 0;
  return {
    id: invoice.id,
    // Chargebee's invoice id is its number, given when the invoice is generated.
    number: status === 'DRAFT' ? null : invoice.id,
    customerId,
    billingCustomerId: invoice.customer_id,
    contractId: invoice.subscription_id ?? null,
    status,
    subtotal: money(invoice.sub_total),
    tax: money(invoice.tax),
    total: money(total),
    amountDue: money(status === 'PAID' || status === 'VOID' ? 0 : (invoice.amount_due ?? total)),
    // What the invoice asks for as billed: its total less credits applied; a voided one asks for nothing.
    billedAmountDue: money(status === 'VOID' ? 0 : total - (invoice.credits_applied ?? 0)),
    amountPaid: money(invoice.amount_paid),
    amountRemaining: money(status === 'VOID' ? 0 : (invoice.amount_due ?? 0)),
    issuedAt: status === 'DRAFT' ? null : isoFromUnix(invoice.generated_at ?? invoice.date),
    dueAt: isoFromUnix(invoice.due_date),
    lines: (invoice.line_items ?? []).map((line) => ({
      id: line.id ?? `${invoice.id}:${line.entity_id ?? ''}`,
      description: line.description ?? null,
      quantity: line.quantity ?? null,
      amount: money(line.amount),
    })),
  };
}
