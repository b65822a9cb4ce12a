/**
 * The catalog Concord reads: products, their monthly prices (lookup_key = the shared product code)
 * and the sales tax rate. Seeded, read-only: Concord never edits the catalog.
 */
import { StripeApiError } from './errors';
import { endpoint, list, listFields } from './http';
import { p } from './params';

export const catalogEndpoints = [
  endpoint({
    method: 'GET',
    pattern: '/v1/products/:id',
    fields: {},
    handler: (_params, ctx) => {
      const product = ctx.store.products.get(ctx.path.id);
      if (!product) throw StripeApiError.missing('product', ctx.path.id);
      return product;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/products',
    fields: { ...listFields, active: p.bool(), ids: p.array(p.string()) },
    handler: (params, ctx) => {
      const products = [...ctx.store.products.values()].filter(
        (product) =>
          (params.active === undefined || product.active === params.active) &&
          (params.ids === undefined || params.ids.includes(product.id)),
      );
      return list(ctx.store, products, params, '/v1/products', 'product');
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/prices/:id',
    fields: {},
    handler: (_params, ctx) => {
      const price = ctx.store.prices.get(ctx.path.id);
      if (!price) throw StripeApiError.missing('price', ctx.path.id);
      return price;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/prices',
    fields: {
      ...listFields,
      active: p.bool(),
      currency: p.string(),
      // Stripe accepts at most 10 lookup keys per request.
      lookup_keys: p.array(p.string()),
      product: p.string(),
      type: p.string({ values: ['one_time', 'recurring'] }),
    },
    handler: (params, ctx) => {
      if (params.lookup_keys && params.lookup_keys.length > 10) {
        throw StripeApiError.invalid('You may only specify up to 10 lookup keys.', 'lookup_keys');
      }
      const prices = [...ctx.store.prices.values()].filter(
        (price) =>
          (params.active === undefined || price.active === params.active) &&
          (params.currency === undefined || price.currency === params.currency.toLowerCase()) &&
          (params.lookup_keys === undefined || (price.lookup_key !== null && params.lookup_keys.includes(price.lookup_key))) &&
          (params.product === undefined || price.product === params.product) &&
          (params.type === undefined || price.type === params.type),
      );
      return list(ctx.store, prices, params, '/v1/prices', 'price');
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/tax_rates/:id',
    fields: {},
    handler: (_params, ctx) => {
      const rate = ctx.store.taxRates.get(ctx.path.id);
      if (!rate) throw StripeApiError.missing('tax_rate', ctx.path.id);
      return rate;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/tax_rates',
    fields: { ...listFields, active: p.bool(), inclusive: p.bool() },
    handler: (params, ctx) => {
      const rates = [...ctx.store.taxRates.values()].filter(
        (rate) =>
          (params.active === undefined || rate.active === params.active) &&
          (params.inclusive === undefined || rate.inclusive === params.inclusive),
      );
      return list(ctx.store, rates, params, '/v1/tax_rates', 'tax_rate');
    },
  }),
];
