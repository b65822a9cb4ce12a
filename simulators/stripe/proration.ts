/**
 * Prorations of a subscription update (https://docs.stripe.com/billing/subscriptions/prorations), as
 * Stripe computes them: for every item whose price or quantity changes, a credit for the unused time
 * of what was billed and a charge for the remaining time of what replaces it, each
 * `round(unit_amount x quantity x remaining / period)`, dated from the proration date to the end of
 * the item's current period, taxed at the subscription's tax rates.
 *
 * `proration_behavior`:
 * - `create_prorations` (Stripe's default): the items wait, pending, for the next invoice.
 * - `always_invoice`: Stripe invoices them at once, on an invoice of their own (`billing_reason`
 *   `subscription_update`). For `send_invoice` that invoice is a draft that Stripe finalizes about
 *   an hour later (`auto_advance`), like a subscription's first invoice; `charge_automatically`
 *   finalizes and charges it now.
 * - `none`: no prorations.
 */
import { StripeApiError } from './errors';
import { finalizeInvoice, payInvoice, type Change } from './billing';
import { invoiceObject } from './billing-objects';
import { attachInvoiceItem } from './invoices';
import { addMonth, newId, type InvoiceItemObject, type InvoiceObject, type PriceObject, type SubscriptionObject } from './objects';
import { emit, track } from './store';

export type ProrationBehavior = 'always_invoice' | 'create_prorations' | 'none';

/** One item before and after the update (null = it did not exist / was deleted). */
export interface ItemChange {
  before: { price: PriceObject; quantity: number } | null;
  after: { price: PriceObject; quantity: number } | null;
  periodStart: number;
  periodEnd: number;
}

const DATE = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

function productName(price: PriceObject): string {
  return price.nickname ?? (typeof price.product === 'string' ? price.product : price.product.id);
}

/**
 * The billing period that contains `date`: the item's current one, or, when the date is past it,
 * a later monthly period. (The simulator's clock never renews subscriptions, so without this a
 * seeded subscription could no longer be prorated once its seeded period is over; Stripe would
 * have renewed it.)
 */
export function periodAt(date: number, periodStart: number, periodEnd: number): { start: number; end: number } {
  let start = periodStart;
  let end = periodEnd;
  for (let guard = 0; date > end && guard < 1200; guard++) {
    start = end;
    end = addMonth(end);
  }
  return { start, end };
}

/** The proration date must not be before the current period, as Stripe requires. */
export function checkProrationDate(date: number, changes: readonly { periodStart: number }[]): void {
  for (const change of changes) {
    if (date < change.periodStart) {
      throw StripeApiError.invalid(
        'The proration_date must be within the current billing period of the subscription.',
        'proration_date',
      );
    }
  }
}

/**
 * Make the proration invoice items of `changes` (pending: not yet on an invoice). Items whose price
 * and quantity did not change make none.
 */
export function prorationItems(change: Change, subscription: SubscriptionObject, changes: ItemChange[], prorationDate: number): InvoiceItemObject[] {
  const { store } = change;
  const made: InvoiceItemObject[] = [];
  const rates = subscription.default_tax_rates ?? [];
  const when = DATE.format(new Date(prorationDate * 1000));
  const add = (price: PriceObject, quantity: number, sign: 1 | -1, currentStart: number, currentEnd: number) => {
    const { start: periodStart, end: periodEnd } = periodAt(prorationDate, currentStart, currentEnd);
    const span = periodEnd - periodStart;
    const fraction = span <= 0 ? 0 : Math.max(0, periodEnd - prorationDate) / span;
    const amount = sign * Math.round((price.unit_amount ?? 0) * quantity * fraction);
    if (amount === 0) return;
    const item: InvoiceItemObject = {
      id: newId('ii'),
      object: 'invoiceitem',
      amount,
      currency: price.currency,
      customer: subscription.customer as string,
      customer_account: null,
      date: change.now,
      description: `${sign < 0 ? 'Unused' : 'Remaining'} time on ${quantity} × ${productName(price)} after ${when}`,
      discountable: false,
      discounts: [],
      invoice: null,
      livemode: false,
      metadata: {},
      parent: { type: 'subscription_details', subscription_details: { subscription: subscription.id } },
      period: { start: prorationDate, end: periodEnd },
      pricing: {
        type: 'price_details',
        price_details: { price: price.id, product: typeof price.product === 'string' ? price.product : price.product.id },
        unit_amount_decimal: String(quantity === 0 ? 0 : amount / quantity),
      },
      proration: true,
      quantity,
      quantity_decimal: String(quantity),
      tax_rates: rates,
      test_clock: null,
    };
    store.invoiceItems.set(item.id, item);
    track(store, item.id);
    emit(store, 'invoiceitem.created', item, change.cause, change.now);
    made.push(item);
  };
  for (const c of changes) {
    const same = c.before && c.after && c.before.price.id === c.after.price.id && c.before.quantity === c.after.quantity;
    if (same) continue;
    if (c.before && c.before.quantity > 0) add(c.before.price, c.before.quantity, -1, c.periodStart, c.periodEnd);
    if (c.after && c.after.quantity > 0) add(c.after.price, c.after.quantity, 1, c.periodStart, c.periodEnd);
  }
  return made;
}

/**
 * `always_invoice`: put the proration items on an invoice of their own now. Returns it, or null
 * when nothing was prorated.
 */
export function invoiceProrations(change: Change, subscription: SubscriptionObject, items: InvoiceItemObject[]): InvoiceObject | null {
  if (items.length === 0) return null;
  const { store, now } = change;
  const customer = store.customers.get(subscription.customer as string)!;
  const sendInvoice = subscription.collection_method === 'send_invoice';
  const invoice = invoiceObject({
    id: newId('in'),
    customer,
    created: now,
    collectionMethod: sendInvoice ? 'send_invoice' : 'charge_automatically',
    autoAdvance: true,
    billingReason: 'subscription_update',
    subscription,
    defaultTaxRates: [],
    metadata: {},
    periodStart: Math.min(...items.map((i) => i.period.start)),
    periodEnd: Math.max(...items.map((i) => i.period.end)),
  });
  if (subscription.days_until_due !== null) store.daysUntilDue.set(invoice.id, subscription.days_until_due);
  store.invoices.set(invoice.id, invoice);
  track(store, invoice.id);
  for (const item of items) attachInvoiceItem(store, invoice, item);
  subscription.latest_invoice = invoice.id;
  emit(store, 'invoice.created', invoice, change.cause, now);
  if (!sendInvoice) {
    finalizeInvoice(change, invoice);
    if (invoice.status === 'open') {
      try {
        payInvoice(change, invoice, {});
      } catch {
        // A declined charge leaves the invoice open (payInvoice records it), as on Stripe.
      }
    }
  }
  return invoice;
}
