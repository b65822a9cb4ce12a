/**
 * Subscriptions (https://docs.stripe.com/api/subscriptions). Creating one creates its first invoice,
 * as Stripe does (https://docs.stripe.com/billing/subscriptions/overview):
 *
 * - `collection_method=send_invoice`: the subscription is `active` at once; its first invoice is a
 *   draft that Stripe would finalize about an hour later (`automatically_finalizes_at`). The caller
 *   may finalize it earlier. The simulator does so when its clock passes that time (clock.ts;
 *   `POST /__sim/clock/advance` moves the clock on).
 * - `charge_automatically`: the first invoice is finalized and charged to the customer's default
 *   payment method; the subscription is `incomplete` until that succeeds. `error_if_incomplete`
 *   answers 402 and creates nothing when the charge fails; `default_incomplete` does not charge.
 *
 * Updates change items, prices, quantities, metadata and a scheduled end (`cancel_at`), with Stripe's
 * prorations (proration.ts): pending items by default, an invoice of their own with
 * `proration_behavior=always_invoice`, none with `none`. Cancelling ends the subscription now;
 * cancelling it again is a 404, as on Stripe.
 */
import { cancelSubscription, finalizeInvoice, invoiceSubscription, paymentSucceeds, recordFailedPayment, payInvoice, type Change } from './billing';
import { findCustomer, mergeMetadata } from './customers';
import { StripeApiError } from './errors';
import { endpoint, list, listFields, metadataField, search, type HandlerContext } from './http';
import { subscriptionItemObject, subscriptionObject } from './billing-objects';
import { addMonth, newId, type SubscriptionObject, type TaxRateObject } from './objects';
import { p } from './params';
import { checkProrationDate, invoiceProrations, prorationItems, type ItemChange, type ProrationBehavior } from './proration';
import type { SearchField } from './search';
import { emit, snapshot, track } from './store';

const itemFields = {
  id: p.string(),
  price: p.string(),
  quantity: p.int({ min: 0 }),
  metadata: p.metadata(),
  tax_rates: p.array(p.string()),
  deleted: p.bool(),
};

const commonFields = {
  metadata: p.metadata(),
  default_tax_rates: p.array(p.string()),
  collection_method: p.string({ values: ['charge_automatically', 'send_invoice'] }),
  days_until_due: p.int({ min: 0, max: 730 }),
  description: p.string(),
  payment_behavior: p.string({ values: ['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] }),
  proration_behavior: p.string({ values: ['always_invoice', 'create_prorations', 'none'] }),
  off_session: p.bool(),
};

const change = (ctx: HandlerContext): Change => ({ store: ctx.store, now: ctx.now, cause: ctx });

function findSubscription(ctx: HandlerContext, id: string): SubscriptionObject {
  const subscription = ctx.store.subscriptions.get(id);
  if (!subscription) throw StripeApiError.missing('subscription', id);
  return subscription;
}

function taxRates(ctx: HandlerContext, ids: string[], param: string): TaxRateObject[] {
  return ids.map((id, i) => {
    const rate = ctx.store.taxRates.get(id);
    if (!rate) throw new StripeApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such tax rate: '${id}'`, param: `${param}[${i}]` });
    return rate;
  });
}

function price(ctx: HandlerContext, id: string | undefined, param: string) {
  if (!id) throw StripeApiError.parameterMissing(param);
  const found = ctx.store.prices.get(id);
  if (!found) throw new StripeApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such price: '${id}'`, param });
  if (!found.active) throw StripeApiError.invalid(`The price specified is inactive. This field only accepts active prices.`, param);
  if (found.type !== 'recurring') {
    throw StripeApiError.invalid(`The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`, param);
  }
  return found;
}

const searchFields: Record<string, SearchField<SubscriptionObject>> = {
  metadata: metadataField<SubscriptionObject>(),
  status: { get: (s) => s.status },
  created: { get: (s) => s.created, numeric: true },
};

export const subscriptionEndpoints = [
  endpoint({
    method: 'POST',
    pattern: '/v1/subscriptions',
    fields: { ...commonFields, customer: p.string({ required: true }), items: p.array(p.object(itemFields)) },
    handler: (params, ctx) => {
      const customer = findCustomer(ctx, params.customer!, 'customer');
      if (!params.items || params.items.length === 0) throw StripeApiError.parameterMissing('items');
      const method = params.collection_method ?? 'charge_automatically';
      if (params.days_until_due !== undefined && method !== 'send_invoice') {
        throw StripeApiError.invalid('days_until_due can only be set when collection_method=send_invoice.', 'days_until_due');
      }
      const id = newId('sub');
      const periodEnd = addMonth(ctx.now);
      const items = params.items.map((item, i) =>
        Object.assign(
          subscriptionItemObject({
            id: newId('si', 14),
            subscription: id,
            price: price(ctx, item.price, `items[${i}][price]`),
            quantity: item.quantity ?? 1,
            created: ctx.now,
            periodStart: ctx.now,
            periodEnd,
          }),
          { metadata: mergeMetadata(null, item.metadata), tax_rates: taxRates(ctx, item.tax_rates ?? [], `items[${i}][tax_rates]`) },
        ),
      );
      const subscription = subscriptionObject({
        id,
        customer: customer.id,
        created: ctx.now,
        startDate: ctx.now,
        status: method === 'send_invoice' ? 'active' : 'incomplete',
        collectionMethod: method as 'send_invoice' | 'charge_automatically',
        // Stripe's default payment terms (Dashboard invoice settings) are 30 days.
        daysUntilDue: params.days_until_due ?? 30,
        metadata: mergeMetadata(null, params.metadata),
        defaultTaxRates: taxRates(ctx, params.default_tax_rates ?? [], 'default_tax_rates'),
        items,
        description: params.description ?? null,
      });

      // A failed charge under error_if_incomplete leaves no trace: remember where we started.
      const eventsBefore = ctx.store.events.length;
      ctx.store.subscriptions.set(id, subscription);
      track(ctx.store, id);
      customer.currency ??= 'usd';
      emit(ctx.store, 'customer.subscription.created', subscription, ctx, ctx.now);
      const invoice = invoiceSubscription(change(ctx), subscription, 'subscription_create');
      if (method === 'send_invoice') return subscription;

      finalizeInvoice(change(ctx), invoice);
      const behavior = params.payment_behavior ?? 'allow_incomplete';
      const fallback = customer.invoice_settings.default_payment_method;
      const paymentMethod = typeof fallback === 'string' ? fallback : null;
      if (invoice.status === 'paid' || behavior === 'default_incomplete') return subscription;
      if (paymentMethod && paymentSucceeds(paymentMethod)) {
        payInvoice(change(ctx), invoice, { paymentMethod });
        return subscription;
      }
      if (behavior === 'error_if_incomplete') {
        ctx.store.subscriptions.delete(id);
        ctx.store.invoices.delete(invoice.id);
        ctx.store.events.length = eventsBefore;
        ctx.store.lastInvoiceNumber -= 1;
        throw paymentMethod ? StripeApiError.cardDeclined() : StripeApiError.invalid('This customer has no attached payment source or default payment method.', 'customer');
      }
      if (paymentMethod) recordFailedPayment(change(ctx), invoice);
      return subscription;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/subscriptions/search',
    fields: { query: p.string({ required: true }), limit: p.int({ min: 1, max: 100 }), page: p.string() },
    // Search covers every status, canceled included (unlike list, which hides canceled by default).
    handler: (params, ctx) => search(ctx, ctx.store.subscriptions.values(), params, searchFields, 'subscription', '/v1/subscriptions/search'),
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/subscriptions/:id',
    fields: {},
    handler: (_params, ctx) => findSubscription(ctx, ctx.path.id),
  }),
  endpoint({
    method: 'POST',
    pattern: '/v1/subscriptions/:id',
    fields: {
      ...commonFields,
      items: p.array(p.object(itemFields)),
      cancel_at_period_end: p.bool(),
      // A unix time, or '' to remove a scheduled cancellation.
      cancel_at: p.string(),
      proration_date: p.int({ min: 0 }),
      cancellation_details: p.object({ comment: p.string(), feedback: p.string() }),
    },
    handler: (params, ctx) => {
      const subscription = findSubscription(ctx, ctx.path.id);
      const before = snapshot(subscription);
      const onlyAllowedWhenCanceled = Object.keys(params).every((k) => ['metadata', 'cancellation_details', 'expand'].includes(k));
      if (subscription.status === 'canceled' && !onlyAllowedWhenCanceled) {
        throw StripeApiError.invalid('A canceled subscription can only update its cancellation_details and metadata.');
      }
      const cancelAt = params.cancel_at === undefined ? undefined : params.cancel_at === '' ? null : Number(params.cancel_at);
      if (cancelAt !== undefined && cancelAt !== null && (!Number.isInteger(cancelAt) || cancelAt <= ctx.now)) {
        throw StripeApiError.invalid('cancel_at must be a unix timestamp in the future.', 'cancel_at');
      }
      // Validate everything before changing anything: a refused update leaves the subscription as it was.
      const priced = (params.items ?? []).map((update, i) => {
        const existing = update.id ? subscription.items.data.find((it) => it.id === update.id) : undefined;
        if (update.id && !existing) throw StripeApiError.invalid(`No such subscription item: '${update.id}'`, `items[${i}][id]`, 'resource_missing');
        const newPrice = update.price || !existing ? price(ctx, update.price, `items[${i}][price]`) : existing.price;
        return { update, existing, newPrice, rates: update.tax_rates ? taxRates(ctx, update.tax_rates, `items[${i}][tax_rates]`) : null };
      });
      const behavior = (params.proration_behavior ?? 'create_prorations') as ProrationBehavior;
      const prorationDate = params.proration_date ?? ctx.now;
      const first = subscription.items.data[0];
      if (behavior !== 'none' && priced.length > 0) {
        // Checked before anything changes: a refused date leaves the subscription as it was.
        const periods = priced.map(({ existing }) => ({ periodStart: (existing ?? first)?.current_period_start ?? ctx.now }));
        checkProrationDate(prorationDate, periods);
      }
      const changes: ItemChange[] = [];
      for (const { update, existing, newPrice, rates } of priced) {
        if (existing && update.deleted) {
          subscription.items.data = subscription.items.data.filter((it) => it !== existing);
          changes.push({ before: { price: existing.price, quantity: existing.quantity ?? 1 }, after: null, periodStart: existing.current_period_start, periodEnd: existing.current_period_end });
        } else if (existing) {
          const was = { price: existing.price, quantity: existing.quantity ?? 1 };
          Object.assign(existing, { price: newPrice });
          if (update.quantity !== undefined) existing.quantity = update.quantity;
          existing.metadata = mergeMetadata(existing.metadata, update.metadata);
          if (rates) existing.tax_rates = rates;
          changes.push({ before: was, after: { price: existing.price, quantity: existing.quantity ?? 1 }, periodStart: existing.current_period_start, periodEnd: existing.current_period_end });
        } else {
          const added = subscriptionItemObject({
            id: newId('si', 14),
            subscription: subscription.id,
            price: newPrice,
            quantity: update.quantity ?? 1,
            created: ctx.now,
            periodStart: first?.current_period_start ?? ctx.now,
            periodEnd: first?.current_period_end ?? addMonth(ctx.now),
          });
          subscription.items.data.push(added);
          changes.push({ before: null, after: { price: newPrice, quantity: added.quantity ?? 1 }, periodStart: added.current_period_start, periodEnd: added.current_period_end });
        }
      }
      if (subscription.items.data.length === 0) throw StripeApiError.invalid('A subscription must have at least one active plan.', 'items');
      if (cancelAt !== undefined) {
        subscription.cancel_at = cancelAt;
        subscription.cancel_at_period_end = false;
      }
      subscription.metadata = mergeMetadata(subscription.metadata, params.metadata);
      if (params.default_tax_rates) subscription.default_tax_rates = taxRates(ctx, params.default_tax_rates, 'default_tax_rates');
      if (params.description !== undefined) subscription.description = params.description || null;
      if (params.collection_method) subscription.collection_method = params.collection_method;
      if (params.days_until_due !== undefined) subscription.days_until_due = params.days_until_due;
      if (params.cancel_at_period_end !== undefined) {
        subscription.cancel_at_period_end = params.cancel_at_period_end;
        subscription.cancel_at = params.cancel_at_period_end ? subscription.items.data[0]?.current_period_end ?? null : null;
      }
      if (params.cancellation_details && subscription.cancellation_details) {
        subscription.cancellation_details.comment = params.cancellation_details.comment ?? subscription.cancellation_details.comment;
      }
      emit(ctx.store, 'customer.subscription.updated', subscription, ctx, ctx.now, before);
      if (behavior !== 'none' && changes.length > 0) {
        const items = prorationItems(change(ctx), subscription, changes, prorationDate);
        if (behavior === 'always_invoice') invoiceProrations(change(ctx), subscription, items);
      }
      return subscription;
    },
  }),
  endpoint({
    method: 'DELETE',
    pattern: '/v1/subscriptions/:id',
    // invoice_now / prorate are accepted; no final invoice or proration is made.
    fields: { invoice_now: p.bool(), prorate: p.bool(), cancellation_details: p.object({ comment: p.string(), feedback: p.string() }) },
    handler: (params, ctx) => {
      const subscription = findSubscription(ctx, ctx.path.id);
      // Stripe treats a canceled subscription as gone for cancellation.
      if (subscription.status === 'canceled') throw StripeApiError.missing('subscription', subscription.id);
      cancelSubscription(change(ctx), subscription, params.cancellation_details ?? {});
      return subscription;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/subscriptions',
    fields: {
      ...listFields,
      customer: p.string(),
      price: p.string(),
      collection_method: p.string({ values: ['charge_automatically', 'send_invoice'] }),
      status: p.string({
        values: ['active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid'],
      }),
    },
    handler: (params, ctx) => {
      const wanted = (s: SubscriptionObject) => {
        switch (params.status) {
          case undefined:
            return s.status !== 'canceled' && s.status !== 'incomplete_expired'; // Stripe hides ended ones by default
          case 'all':
            return true;
          case 'ended':
            return s.status === 'canceled' || s.status === 'incomplete_expired';
          default:
            return s.status === params.status;
        }
      };
      const subscriptions = [...ctx.store.subscriptions.values()].filter(
        (s) =>
          wanted(s) &&
          (params.customer === undefined || s.customer === params.customer) &&
          (params.collection_method === undefined || s.collection_method === params.collection_method) &&
          (params.price === undefined || s.items.data.some((item) => item.price.id === params.price)),
      );
      return list(ctx.store, subscriptions, params, '/v1/subscriptions', 'subscription');
    },
  }),
];
