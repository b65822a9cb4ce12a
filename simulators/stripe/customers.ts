/** Customers: create, retrieve, update, list and search (https://docs.stripe.com/api/customers). */
import { StripeApiError } from './errors';
import { endpoint, list, listFields, metadataField, search, type HandlerContext } from './http';
import { customerObject, newId, type CustomerObject } from './objects';
import { p } from './params';
import type { SearchField } from './search';
import { emit, snapshot, track } from './store';

const writable = {
  name: p.string(),
  email: p.string(),
  description: p.string(),
  phone: p.string(),
  metadata: p.metadata(),
  invoice_settings: p.object({ default_payment_method: p.string() }),
  /** Test-mode payment method to attach, e.g. `pm_card_visa` or `pm_card_chargeDeclined`. */
  payment_method: p.string(),
};

/** Metadata update semantics: merge, `''` removes a key, `metadata=` clears all. */
export function mergeMetadata(current: Record<string, string> | null, update: Record<string, string> | null | undefined): Record<string, string> {
  if (update === undefined) return current ?? {};
  if (update === null) return {};
  const merged = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export function findCustomer(ctx: HandlerContext, id: string, param = 'id'): CustomerObject {
  const customer = ctx.store.customers.get(id);
  if (!customer) throw StripeApiError.missing('customer', id, param);
  return customer;
}

const searchFields: Record<string, SearchField<CustomerObject>> = {
  metadata: metadataField<CustomerObject>(),
  email: { get: (c) => c.email },
  name: { get: (c) => c.name },
  phone: { get: (c) => c.phone },
  created: { get: (c) => c.created, numeric: true },
};

export const customerEndpoints = [
  endpoint({
    method: 'POST',
    pattern: '/v1/customers',
    fields: writable,
    handler: (params, ctx) => {
      const id = newId('cus', 14);
      const customer = customerObject({
        id,
        created: ctx.now,
        name: params.name ?? null,
        email: params.email ?? null,
        description: params.description ?? null,
        phone: params.phone ?? null,
        metadata: mergeMetadata(null, params.metadata),
        defaultPaymentMethod: params.invoice_settings?.default_payment_method ?? params.payment_method ?? null,
        invoicePrefix: id.slice(4, 12).toUpperCase(),
      });
      ctx.store.customers.set(id, customer);
      track(ctx.store, id);
      emit(ctx.store, 'customer.created', customer, ctx, ctx.now);
      return customer;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/customers/search',
    fields: { query: p.string({ required: true }), limit: p.int({ min: 1, max: 100 }), page: p.string() },
    handler: (params, ctx) => search(ctx, ctx.store.customers.values(), params, searchFields, 'customer', '/v1/customers/search'),
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/customers/:id',
    fields: {},
    handler: (_params, ctx) => findCustomer(ctx, ctx.path.id),
  }),
  endpoint({
    method: 'POST',
    pattern: '/v1/customers/:id',
    fields: writable,
    handler: (params, ctx) => {
      const customer = findCustomer(ctx, ctx.path.id);
      const before = snapshot(customer);
      if (params.name !== undefined) customer.name = params.name || null;
      if (params.email !== undefined) customer.email = params.email || null;
      if (params.description !== undefined) customer.description = params.description || null;
      if (params.phone !== undefined) customer.phone = params.phone || null;
      const paymentMethod = params.invoice_settings?.default_payment_method ?? params.payment_method;
      if (paymentMethod !== undefined) customer.invoice_settings.default_payment_method = paymentMethod || null;
      customer.metadata = mergeMetadata(customer.metadata, params.metadata);
      emit(ctx.store, 'customer.updated', customer, ctx, ctx.now, before);
      return customer;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/customers',
    fields: { ...listFields, email: p.string() },
    handler: (params, ctx) => {
      const all = [...ctx.store.customers.values()];
      // Stripe matches the email filter exactly and case-sensitively.
      const matching = params.email === undefined ? all : all.filter((c) => c.email === params.email);
      return list(ctx.store, matching, params, '/v1/customers', 'customer');
    },
  }),
];
