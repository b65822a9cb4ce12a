/**
 * Stripe Billing's invoice and subscription life cycle, as far as an order-to-cash flow meets it:
 *
 *   subscription created -> first invoice (draft for send_invoice, finalized and charged for
 *   charge_automatically) -> finalize -> pay | void | mark_uncollectible
 *
 * Transitions Stripe refuses are refused here with Stripe's error. Each state change appends the
 * event Stripe would send. Totals follow Stripe's arithmetic: exclusive tax rates per line, rounded
 * per line, summed per rate in `total_taxes`.
 */
import { StripeApiError } from './errors';
import { invoiceObject, lineItemObject } from './billing-objects';
import { addMonth, newId, type CustomerObject, type InvoiceObject, type SubscriptionObject } from './objects';
import { emit, snapshot, track, type Cause, type Store } from './store';

/** The store, the clock and who asked: what every state change needs. */
export interface Change {
  store: Store;
  /** Unix seconds. */
  now: number;
  cause: Cause;
}

/** Payment methods Stripe's test mode knows; `pm_card_chargeDeclined` and friends decline. */
export function paymentSucceeds(paymentMethod: string): boolean {
  return !/declined|insufficient|fail/i.test(paymentMethod);
}

/** Work out line taxes and invoice totals from the lines and their tax rates. */
export function recompute(store: Store, invoice: InvoiceObject): void {
  const perRate = new Map<string, { amount: number; taxable: number }>();
  let subtotal = 0;
  for (const line of invoice.lines.data) {
    subtotal += line.amount;
    for (const tax of line.taxes ?? []) {
      const rateId = tax.tax_rate_details?.tax_rate ?? '';
      const rate = store.taxRates.get(rateId);
      tax.taxable_amount = line.amount;
      tax.amount = rate && !rate.inclusive ? Math.round((line.amount * rate.percentage) / 100) : 0;
      const sum = perRate.get(rateId) ?? { amount: 0, taxable: 0 };
      sum.amount += tax.amount;
      sum.taxable += line.amount;
      perRate.set(rateId, sum);
    }
  }
  const tax = [...perRate.values()].reduce((s, r) => s + r.amount, 0);
  invoice.subtotal = subtotal;
  invoice.subtotal_excluding_tax = subtotal;
  invoice.total_excluding_tax = subtotal;
  invoice.total = subtotal + tax;
  invoice.total_taxes = [...perRate.entries()].map(([rateId, sum]) => ({
    amount: sum.amount,
    tax_behavior: 'exclusive',
    tax_rate_details: { tax_rate: rateId },
    taxability_reason: 'standard_rated',
    taxable_amount: sum.taxable,
    type: 'tax_rate_details',
  }));
  if (invoice.status === 'draft') {
    invoice.amount_due = invoice.total;
    invoice.amount_remaining = invoice.total - invoice.amount_paid;
  }
}

/** Subscriptions whose state follows from their latest invoice being paid or failing. */
function subscriptionOf(store: Store, invoice: InvoiceObject): SubscriptionObject | null {
  const id = invoice.parent?.subscription_details?.subscription;
  const subscription = typeof id === 'string' ? store.subscriptions.get(id) : undefined;
  return subscription && subscription.latest_invoice === invoice.id ? subscription : null;
}

function setSubscriptionStatus(change: Change, subscription: SubscriptionObject, status: SubscriptionObject['status']): void {
  if (subscription.status === status || subscription.status === 'canceled') return;
  const before = snapshot(subscription);
  subscription.status = status;
  emit(change.store, 'customer.subscription.updated', subscription, change.cause, change.now, before);
}

/** A subscription's invoice for its current period (the first one on creation). */
export function invoiceSubscription(change: Change, subscription: SubscriptionObject, billingReason: 'subscription_create' | 'subscription_update'): InvoiceObject {
  const { store, now } = change;
  const customer = store.customers.get(subscription.customer as string)!;
  const periodStart = subscription.items.data[0]?.current_period_start ?? now;
  const invoice = invoiceObject({
    id: newId('in'),
    customer,
    created: now,
    collectionMethod: subscription.collection_method === 'send_invoice' ? 'send_invoice' : 'charge_automatically',
    // Stripe finalizes a send_invoice subscription's draft an hour later; charge_automatically at once.
    autoAdvance: true,
    billingReason,
    subscription,
    defaultTaxRates: [],
    metadata: {},
    periodStart,
    periodEnd: addMonth(periodStart),
  });
  const defaultRates = (subscription.default_tax_rates ?? []).map((r) => r.id);
  invoice.lines.data = subscription.items.data.map((item) => {
    const price = item.price;
    const quantity = item.quantity ?? 1;
    const unitAmount = price.unit_amount ?? 0;
    const productName = price.nickname ?? (typeof price.product === 'string' ? price.product : price.product.id);
    const itemRates = (item.tax_rates ?? []).map((r) => r.id);
    return lineItemObject({
      id: newId('il'),
      invoice: invoice.id,
      amount: unitAmount * quantity,
      quantity,
      unitAmount,
      description: `${quantity} × ${productName}`,
      price,
      periodStart: item.current_period_start,
      periodEnd: item.current_period_end,
      subscription: subscription.id,
      subscriptionItem: item.id,
      invoiceItem: null,
      taxRates: itemRates.length > 0 ? itemRates : defaultRates,
    });
  });
  recompute(store, invoice);
  if (subscription.days_until_due !== null) store.daysUntilDue.set(invoice.id, subscription.days_until_due);
  store.invoices.set(invoice.id, invoice);
  track(store, invoice.id);
  subscription.latest_invoice = invoice.id;
  emit(store, 'invoice.created', invoice, change.cause, now);
  return invoice;
}

/**
 * Stripe's `customer.delinquent` follows the latest invoice event: a failed automatic payment sets it,
 * paying an invoice or marking it uncollectible clears it.
 */
function setDelinquent(change: Change, invoice: InvoiceObject, delinquent: boolean): void {
  const customer = change.store.customers.get(invoice.customer as string);
  if (customer) customer.delinquent = delinquent;
}

function markPaid(change: Change, invoice: InvoiceObject, outOfBand: boolean): void {
  const remaining = invoice.amount_remaining;
  setDelinquent(change, invoice, false);
  invoice.status = 'paid';
  invoice.amount_paid += remaining;
  if (outOfBand) invoice.amount_paid_off_stripe = (invoice.amount_paid_off_stripe ?? 0) + remaining;
  invoice.amount_remaining = 0;
  invoice.status_transitions.paid_at = change.now;
  if (!outOfBand) {
    invoice.attempted = true;
    invoice.attempt_count += 1;
    emit(change.store, 'invoice.payment_succeeded', invoice, change.cause, change.now);
  }
  emit(change.store, 'invoice.paid', invoice, change.cause, change.now);
  const subscription = subscriptionOf(change.store, invoice);
  if (subscription && ['incomplete', 'past_due', 'unpaid'].includes(subscription.status)) {
    setSubscriptionStatus(change, subscription, 'active');
  }
}

/** Draft -> open: number, due date, finalized_at; a zero total is paid on the spot, as on Stripe. */
export function finalizeInvoice(change: Change, invoice: InvoiceObject, autoAdvance?: boolean): void {
  if (invoice.status !== 'draft') {
    throw StripeApiError.invalid("This invoice is already finalized, you can't re-finalize a non-draft invoice.", undefined, 'invoice_not_editable');
  }
  const { store, now } = change;
  const customer = store.customers.get(invoice.customer as string);
  recompute(store, invoice);
  store.lastInvoiceNumber += 1;
  invoice.number = `CNCD-${String(store.lastInvoiceNumber).padStart(5, '0')}`;
  invoice.status = 'open';
  invoice.status_transitions.finalized_at = now;
  invoice.effective_at = now;
  // The customer's balance (negative = credit) is applied, and a negative total (a downgrade's
  // proration) is not owed: it becomes credit on the customer's balance, as on Stripe.
  const starting = customer?.balance ?? 0;
  const due = invoice.total + starting;
  invoice.starting_balance = starting;
  invoice.amount_due = Math.max(0, due);
  invoice.amount_remaining = invoice.amount_due - invoice.amount_paid;
  invoice.ending_balance = Math.min(0, due);
  if (customer) customer.balance = invoice.ending_balance;
  invoice.automatically_finalizes_at = null;
  if (autoAdvance !== undefined) invoice.auto_advance = autoAdvance;
  if (invoice.collection_method === 'send_invoice') {
    invoice.due_date = now + (store.daysUntilDue.get(invoice.id) ?? 30) * 86_400;
  }
  if (customer) customer.next_invoice_sequence = (customer.next_invoice_sequence ?? 1) + 1;
  emit(store, 'invoice.finalized', invoice, change.cause, now);
  if (invoice.amount_due === 0) markPaid(change, invoice, true);
}

/**
 * Pay an invoice: out of band (`paid_out_of_band=true`), or by charging a payment method (the
 * `payment_method` given or the customer's default). Stripe finalizes a draft first. A declined
 * charge leaves the invoice open, sends invoice.payment_failed and answers 402.
 */
export function payInvoice(change: Change, invoice: InvoiceObject, options: { outOfBand?: boolean; paymentMethod?: string }): void {
  if (invoice.status === 'paid') throw StripeApiError.invalid('Invoice is already paid', undefined, 'invoice_already_paid');
  if (invoice.status === 'void') throw StripeApiError.invalid('This invoice has been voided and can no longer be paid.', undefined, 'invoice_not_editable');
  if (invoice.status === 'draft') finalizeInvoice(change, invoice);
  if (invoice.status === 'paid') return; // a zero total was paid on finalization
  if (options.outOfBand) return markPaid(change, invoice, true);

  const customer: CustomerObject | undefined = change.store.customers.get(invoice.customer as string);
  const fallback = customer?.invoice_settings.default_payment_method;
  const paymentMethod = options.paymentMethod ?? (typeof fallback === 'string' ? fallback : null);
  if (!paymentMethod) {
    throw StripeApiError.invalid(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.',
    );
  }
  if (paymentSucceeds(paymentMethod)) return markPaid(change, invoice, false);
  recordFailedPayment(change, invoice);
  throw StripeApiError.cardDeclined();
}

/** A declined charge: the attempt is counted, the event sent, a renewing subscription goes past due. */
export function recordFailedPayment(change: Change, invoice: InvoiceObject): void {
  invoice.attempted = true;
  invoice.attempt_count += 1;
  setDelinquent(change, invoice, true);
  emit(change.store, 'invoice.payment_failed', invoice, change.cause, change.now);
  const subscription = subscriptionOf(change.store, invoice);
  if (subscription && subscription.status === 'active') setSubscriptionStatus(change, subscription, 'past_due');
}

/** Open or uncollectible -> void (Stripe voids nothing else; drafts are deleted instead). */
export function voidInvoice(change: Change, invoice: InvoiceObject): void {
  if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
    throw StripeApiError.invalid(
      `You can only void invoices that are open or uncollectible. This invoice is ${invoice.status}.`,
      undefined,
      'invoice_not_editable',
    );
  }
  invoice.status = 'void';
  invoice.amount_due = 0;
  invoice.amount_remaining = 0;
  invoice.status_transitions.voided_at = change.now;
  emit(change.store, 'invoice.voided', invoice, change.cause, change.now);
}

export function markUncollectible(change: Change, invoice: InvoiceObject): void {
  if (invoice.status !== 'open') {
    throw StripeApiError.invalid(
      `You can only mark open invoices as uncollectible. This invoice is ${invoice.status}.`,
      undefined,
      'invoice_not_editable',
    );
  }
  invoice.status = 'uncollectible';
  invoice.status_transitions.marked_uncollectible_at = change.now;
  setDelinquent(change, invoice, false);
  emit(change.store, 'invoice.marked_uncollectible', invoice, change.cause, change.now);
}

/** Cancel now: canceled_at = ended_at = now. Invoices already issued stay as they are. */
export function cancelSubscription(change: Change, subscription: SubscriptionObject, details: { comment?: string; feedback?: string }): void {
  subscription.status = 'canceled';
  subscription.canceled_at = change.now;
  subscription.ended_at = change.now;
  subscription.cancellation_details = {
    comment: details.comment ?? null,
    feedback: (details.feedback as NonNullable<SubscriptionObject['cancellation_details']>['feedback']) ?? null,
    feedback_option: null,
    reason: 'cancellation_requested',
  };
  emit(change.store, 'customer.subscription.deleted', subscription, change.cause, change.now);
}
