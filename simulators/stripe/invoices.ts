/**
 * Invoices and invoice items (https://docs.stripe.com/api/invoices): manual invoices built from
 * invoice items, and the finalize / pay / void / mark_uncollectible transitions (billing.ts holds
 * the rules). Lists read the store directly, so they are read-after-write safe; search is fresh
 * here too, though on Stripe it lags.
 */
import {
  finalizeInvoice,
  markUncollectible,
  payInvoice,
  recompute,
  voidInvoice,
  type Change,
} from './billing';
import { findCustomer, mergeMetadata } from './customers';
import { StripeApiError } from './errors';
import { endpoint, inRange, list, listFields, metadataField, search, type HandlerContext } from './http';
import { invoiceObject, lineItemObject } from './billing-objects';
import { newId, type InvoiceItemObject, type InvoiceObject } from './objects';
import { p } from './params';
import type { SearchField } from './search';
import { emit, snapshot, track, type Store } from './store';

const change = (ctx: HandlerContext): Change => ({ store: ctx.store, now: ctx.now, cause: ctx });

function findInvoice(ctx: HandlerContext, id: string): InvoiceObject {
  const invoice = ctx.store.invoices.get(id);
  if (!invoice) throw StripeApiError.missing('invoice', id);
  return invoice;
}

const subscriptionIdOf = (invoice: InvoiceObject): string | null => {
  const id = invoice.parent?.subscription_details?.subscription;
  return typeof id === 'string' ? id : (id?.id ?? null);
};

const searchFields: Record<string, SearchField<InvoiceObject>> = {
  customer: { get: (i) => i.customer as string },
  subscription: { get: (i) => subscriptionIdOf(i) },
  status: { get: (i) => i.status },
  metadata: metadataField<InvoiceObject>(),
  number: { get: (i) => i.number },
  total: { get: (i) => i.total, numeric: true },
  currency: { get: (i) => i.currency },
  created: { get: (i) => i.created, numeric: true },
};

/** Turn an invoice item into a line of a draft invoice (also used for proration invoices). */
export function attachInvoiceItem(store: Store, invoice: InvoiceObject, item: InvoiceItemObject): void {
  const priceId = item.pricing?.price_details?.price;
  const price = typeof priceId === 'string' ? store.prices.get(priceId) ?? null : null;
  const rates = (item.tax_rates ?? []).map((r) => r.id);
  item.invoice = invoice.id;
  invoice.lines.data.push(
    lineItemObject({
      id: newId('il'),
      invoice: invoice.id,
      amount: item.amount,
      quantity: item.quantity,
      unitAmount: item.quantity === 0 ? 0 : Math.round(item.amount / item.quantity),
      description: item.description ?? '',
      price,
      periodStart: item.period.start,
      periodEnd: item.period.end,
      subscription: typeof item.parent?.subscription_details?.subscription === 'string' ? item.parent.subscription_details.subscription : null,
      subscriptionItem: null,
      invoiceItem: item.id,
      taxRates: rates.length > 0 ? rates : invoice.default_tax_rates.map((r) => r.id),
      proration: item.proration,
    }),
  );
  recompute(store, invoice);
}

/** Endpoints that move an invoice through its life cycle: `POST /v1/invoices/:id/<action>`. */
function transition(action: string, fields: Parameters<typeof endpoint>[0]['fields'], run: (c: Change, invoice: InvoiceObject, params: Record<string, unknown>) => void) {
  return endpoint({
    method: 'POST',
    pattern: `/v1/invoices/:id/${action}`,
    fields,
    handler: (params, ctx) => {
      const invoice = findInvoice(ctx, ctx.path.id);
      run(change(ctx), invoice, params as Record<string, unknown>);
      return invoice;
    },
  });
}

export const invoiceEndpoints = [
  endpoint({
    method: 'POST',
    pattern: '/v1/invoices',
    fields: {
      customer: p.string({ required: true }),
      subscription: p.string(),
      metadata: p.metadata(),
      auto_advance: p.bool(),
      collection_method: p.string({ values: ['charge_automatically', 'send_invoice'] }),
      days_until_due: p.int({ min: 0, max: 730 }),
      description: p.string(),
      default_tax_rates: p.array(p.string()),
      pending_invoice_items_behavior: p.string({ values: ['exclude', 'include'] }),
    },
    handler: (params, ctx) => {
      const customer = findCustomer(ctx, params.customer!, 'customer');
      const subscription = params.subscription ? ctx.store.subscriptions.get(params.subscription) : null;
      if (params.subscription && !subscription) {
        throw new StripeApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such subscription: '${params.subscription}'`, param: 'subscription' });
      }
      const method = params.collection_method ?? 'charge_automatically';
      if (params.days_until_due !== undefined && method !== 'send_invoice') {
        throw StripeApiError.invalid('days_until_due can only be set when collection_method=send_invoice.', 'days_until_due');
      }
      const rates = (params.default_tax_rates ?? []).map((id) => {
        const rate = ctx.store.taxRates.get(id);
        if (!rate) throw StripeApiError.invalid(`No such tax rate: '${id}'`, 'default_tax_rates', 'resource_missing');
        return rate;
      });
      const invoice = invoiceObject({
        id: newId('in'),
        customer,
        created: ctx.now,
        collectionMethod: method as 'charge_automatically' | 'send_invoice',
        autoAdvance: params.auto_advance ?? false,
        billingReason: 'manual',
        subscription: subscription ?? null,
        defaultTaxRates: rates,
        metadata: mergeMetadata(null, params.metadata),
        periodStart: ctx.now,
        periodEnd: ctx.now,
        description: params.description ?? null,
      });
      if (method === 'send_invoice') ctx.store.daysUntilDue.set(invoice.id, params.days_until_due ?? 30);
      ctx.store.invoices.set(invoice.id, invoice);
      track(ctx.store, invoice.id);
      // Since 2022-08-01 pending items stay pending unless asked for.
      if (params.pending_invoice_items_behavior === 'include') {
        for (const item of ctx.store.invoiceItems.values()) {
          const itemSubscription = item.parent?.subscription_details?.subscription ?? null;
          if (item.invoice === null && item.customer === customer.id && (!subscription || itemSubscription === subscription.id)) {
            attachInvoiceItem(ctx.store, invoice, item);
          }
        }
      }
      recompute(ctx.store, invoice);
      emit(ctx.store, 'invoice.created', invoice, ctx, ctx.now);
      return invoice;
    },
  }),
  endpoint({
    method: 'POST',
    pattern: '/v1/invoiceitems',
    fields: {
      customer: p.string({ required: true }),
      invoice: p.string(),
      subscription: p.string(),
      pricing: p.object({ price: p.string() }),
      amount: p.int(),
      currency: p.string(),
      quantity: p.int({ min: 0 }),
      description: p.string(),
      metadata: p.metadata(),
      tax_rates: p.array(p.string()),
      period: p.object({ start: p.int(), end: p.int() }),
    },
    handler: (params, ctx) => {
      const customer = findCustomer(ctx, params.customer!, 'customer');
      const invoice = params.invoice ? findInvoice(ctx, params.invoice) : null;
      if (invoice && invoice.status !== 'draft') throw StripeApiError.invalid('You can only add invoice items to draft invoices.', 'invoice', 'invoice_not_editable');
      const price = params.pricing?.price ? ctx.store.prices.get(params.pricing.price) : undefined;
      if (params.pricing?.price && !price) throw StripeApiError.invalid(`No such price: '${params.pricing.price}'`, 'pricing[price]', 'resource_missing');
      if (!price && params.amount === undefined) throw StripeApiError.parameterMissing('amount');
      if (!price && !params.currency) throw StripeApiError.parameterMissing('currency');
      const quantity = params.quantity ?? 1;
      const amount = price ? (price.unit_amount ?? 0) * quantity : params.amount!;
      const item: InvoiceItemObject = {
        id: newId('ii'),
        object: 'invoiceitem',
        amount,
        currency: 'usd',
        customer: customer.id,
        customer_account: null,
        date: ctx.now,
        description: params.description ?? price?.nickname ?? null,
        discountable: true,
        discounts: [],
        invoice: null,
        livemode: false,
        metadata: mergeMetadata(null, params.metadata),
        parent: params.subscription ? { type: 'subscription_details', subscription_details: { subscription: params.subscription } } : null,
        period: { start: params.period?.start ?? ctx.now, end: params.period?.end ?? ctx.now },
        pricing: price
          ? { type: 'price_details', price_details: { price: price.id, product: price.product as string }, unit_amount_decimal: price.unit_amount_decimal }
          : { type: 'price_details', unit_amount_decimal: String(quantity === 0 ? 0 : amount / quantity) },
        proration: false,
        quantity,
        quantity_decimal: String(quantity),
        tax_rates: (params.tax_rates ?? []).map((id) => {
          const rate = ctx.store.taxRates.get(id);
          if (!rate) throw StripeApiError.invalid(`No such tax rate: '${id}'`, 'tax_rates', 'resource_missing');
          return rate;
        }),
        test_clock: null,
      };
      ctx.store.invoiceItems.set(item.id, item);
      track(ctx.store, item.id);
      if (invoice) attachInvoiceItem(ctx.store, invoice, item);
      emit(ctx.store, 'invoiceitem.created', item, ctx, ctx.now);
      return item;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/invoices/search',
    fields: { query: p.string({ required: true }), limit: p.int({ min: 1, max: 100 }), page: p.string() },
    handler: (params, ctx) => search(ctx, ctx.store.invoices.values(), params, searchFields, 'invoice', '/v1/invoices/search'),
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/invoices/:id',
    fields: {},
    handler: (_params, ctx) => findInvoice(ctx, ctx.path.id),
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/invoices/:id/lines',
    fields: { limit: listFields.limit, starting_after: listFields.starting_after, ending_before: listFields.ending_before },
    handler: (params, ctx) => {
      const invoice = findInvoice(ctx, ctx.path.id);
      // Lines keep invoice order; list() sorts newest first, so give them a descending pseudo-time.
      const lines = invoice.lines.data.map((line, i) => ({ ...line, created: invoice.lines.data.length - i }));
      const page = list(ctx.store, lines, params, `/v1/invoices/${invoice.id}/lines`, 'line item');
      return { ...page, data: page.data.map(({ created: _created, ...line }) => line) };
    },
  }),
  endpoint({
    method: 'POST',
    pattern: '/v1/invoices/:id',
    fields: {
      metadata: p.metadata(),
      description: p.string(),
      auto_advance: p.bool(),
      days_until_due: p.int({ min: 0, max: 730 }),
      default_tax_rates: p.array(p.string()),
    },
    handler: (params, ctx) => {
      const invoice = findInvoice(ctx, ctx.path.id);
      const before = snapshot(invoice);
      const draftOnly = ['days_until_due', 'default_tax_rates'].filter((k) => k in params);
      if (invoice.status !== 'draft' && draftOnly.length > 0) {
        throw StripeApiError.invalid(`Finalized invoices can't be updated in this way (${draftOnly.join(', ')}).`, draftOnly[0], 'invoice_not_editable');
      }
      invoice.metadata = mergeMetadata(invoice.metadata, params.metadata);
      if (params.description !== undefined) invoice.description = params.description || null;
      if (params.auto_advance !== undefined) invoice.auto_advance = params.auto_advance;
      if (params.days_until_due !== undefined) ctx.store.daysUntilDue.set(invoice.id, params.days_until_due);
      if (params.default_tax_rates) {
        invoice.default_tax_rates = params.default_tax_rates.map((id) => {
          const rate = ctx.store.taxRates.get(id);
          if (!rate) throw StripeApiError.invalid(`No such tax rate: '${id}'`, 'default_tax_rates', 'resource_missing');
          return rate;
        });
      }
      emit(ctx.store, 'invoice.updated', invoice, ctx, ctx.now, before);
      return invoice;
    },
  }),
  endpoint({
    method: 'DELETE',
    pattern: '/v1/invoices/:id',
    fields: {},
    handler: (_params, ctx) => {
      const invoice = findInvoice(ctx, ctx.path.id);
      if (invoice.status !== 'draft') throw StripeApiError.invalid('You can only delete draft invoices.', undefined, 'invoice_not_editable');
      if (subscriptionIdOf(invoice)) {
        throw StripeApiError.invalid('You cannot delete an invoice created by a subscription; void it once finalized instead.', undefined, 'invoice_not_editable');
      }
      ctx.store.invoices.delete(invoice.id);
      emit(ctx.store, 'invoice.deleted', invoice, ctx, ctx.now);
      return { id: invoice.id, object: 'invoice', deleted: true };
    },
  }),
  transition('finalize', { auto_advance: p.bool() }, (c, invoice, params) => finalizeInvoice(c, invoice, params.auto_advance as boolean | undefined)),
  transition(
    'pay',
    { paid_out_of_band: p.bool(), payment_method: p.string(), forgive: p.bool(), off_session: p.bool(), source: p.string() },
    (c, invoice, params) =>
      payInvoice(c, invoice, {
        outOfBand: params.paid_out_of_band as boolean | undefined,
        paymentMethod: (params.payment_method ?? params.source) as string | undefined,
      }),
  ),
  transition('void', {}, (c, invoice) => voidInvoice(c, invoice)),
  transition('mark_uncollectible', {}, (c, invoice) => markUncollectible(c, invoice)),
  transition('send', {}, (c, invoice) => {
    if (invoice.status !== 'open') throw StripeApiError.invalid('You can only send open invoices.', undefined, 'invoice_not_editable');
    emit(c.store, 'invoice.sent', invoice, c.cause, c.now);
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/invoices',
    fields: {
      ...listFields,
      customer: p.string(),
      subscription: p.string(),
      status: p.string({ values: ['draft', 'open', 'paid', 'uncollectible', 'void'] }),
      collection_method: p.string({ values: ['charge_automatically', 'send_invoice'] }),
      due_date: p.range(),
    },
    handler: (params, ctx) => {
      const invoices = [...ctx.store.invoices.values()].filter(
        (i) =>
          (params.customer === undefined || i.customer === params.customer) &&
          (params.subscription === undefined || subscriptionIdOf(i) === params.subscription) &&
          (params.status === undefined || i.status === params.status) &&
          (params.collection_method === undefined || i.collection_method === params.collection_method) &&
          (params.due_date === undefined || (i.due_date !== null && inRange(i.due_date, params.due_date))),
      );
      return list(ctx.store, invoices, params, '/v1/invoices', 'invoice');
    },
  }),
];
