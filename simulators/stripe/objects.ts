/**
 * Stripe objects in the wire shape of the API version that stripe-node 23.1.0 pins
 * (`2026-10-28.endive`). Each builder is typed against the SDK's own declaration of the object, so the
 * compiler checks that every field the SDK expects is here with the right type; `Wire<T>` only swaps
 * the SDK's Decimal class for the decimal string that travels on the wire. Customers and the
 * catalog are here; subscriptions and invoices in billing-objects.ts.
 */
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';

/** The API version served and echoed in `Stripe-Version` (stripe-node 23.1.0's `Stripe.API_VERSION`). */
export const API_VERSION = '2026-10-28.endive';

export type Wire<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends Stripe.Decimal
    ? string
    : T extends (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export type CustomerObject = Wire<Stripe.Customer>;
export type ProductObject = Wire<Stripe.Product>;
export type PriceObject = Wire<Stripe.Price>;
export type TaxRateObject = Wire<Stripe.TaxRate>;
export type SubscriptionObject = Wire<Stripe.Subscription>;
export type SubscriptionItemObject = Wire<Stripe.SubscriptionItem>;
export type InvoiceObject = Wire<Stripe.Invoice>;
export type LineItemObject = Wire<Stripe.InvoiceLineItem>;
export type InvoiceItemObject = Wire<Stripe.InvoiceItem>;
export type EventObject = Wire<Stripe.Event>;

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A Stripe-looking id: `cus_` + 14 characters, newer objects `sub_1` + 23. */
export function newId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[bytes[i] % ALNUM.length];
  return `${prefix}_${length >= 24 ? '1' + out.slice(1) : out}`;
}

export const toUnix = (iso: string): number => Math.floor(new Date(iso).getTime() / 1000);

/** One month later, calendar-aware, as Stripe bills monthly prices. */
export function addMonth(unix: number, months = 1): number {
  const d = new Date(unix * 1000);
  d.setUTCMonth(d.getUTCMonth() + months);
  return Math.floor(d.getTime() / 1000);
}

export function customerObject(input: {
  id: string;
  created: number;
  name: string | null;
  email: string | null;
  description?: string | null;
  phone?: string | null;
  currency?: string | null;
  metadata: Record<string, string>;
  defaultPaymentMethod?: string | null;
  invoicePrefix: string;
}): CustomerObject {
  return {
    id: input.id,
    object: 'customer',
    address: null,
    balance: 0,
    created: input.created,
    currency: input.currency ?? null,
    default_source: null,
    delinquent: false,
    description: input.description ?? null,
    discount: null,
    email: input.email,
    invoice_prefix: input.invoicePrefix,
    invoice_settings: {
      custom_fields: null,
      default_payment_method: input.defaultPaymentMethod ?? null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: input.metadata,
    name: input.name,
    next_invoice_sequence: 1,
    phone: input.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export function productObject(input: { id: string; name: string; created: number; defaultPrice: string }): ProductObject {
  return {
    id: input.id,
    object: 'product',
    active: true,
    created: input.created,
    default_price: input.defaultPrice,
    description: null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: {},
    name: input.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: 'service',
    unit_label: null,
    updated: input.created,
    url: null,
  };
}

export function priceObject(input: {
  id: string;
  product: string;
  lookupKey: string;
  nickname: string;
  unitAmount: number;
  created: number;
}): PriceObject {
  return {
    id: input.id,
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: input.created,
    currency: 'usd',
    custom_unit_amount: null,
    livemode: false,
    lookup_key: input.lookupKey,
    metadata: {},
    nickname: input.nickname,
    product: input.product,
    recurring: { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' },
    tax_behavior: 'exclusive',
    tiers_mode: null,
    transform_quantity: null,
    type: 'recurring',
    unit_amount: input.unitAmount,
    unit_amount_decimal: String(input.unitAmount),
  };
}

/** The legacy `plan` mirror of a recurring price that subscription items still carry. */
export function planFromPrice(price: PriceObject): Wire<Stripe.Plan> {
  return {
    id: price.id,
    object: 'plan',
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: 'per_unit',
    created: price.created,
    currency: price.currency,
    interval: 'month',
    interval_count: 1,
    livemode: false,
    metadata: {},
    meter: null,
    nickname: price.nickname,
    product: typeof price.product === 'string' ? price.product : price.product.id,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: 'licensed',
  };
}

export function taxRateObject(input: { id: string; percentage: number; created: number }): TaxRateObject {
  return {
    id: input.id,
    object: 'tax_rate',
    active: true,
    country: 'US',
    created: input.created,
    description: 'Sales tax',
    display_name: 'Sales Tax',
    effective_percentage: input.percentage,
    flat_amount: null,
    inclusive: false,
    jurisdiction: 'US',
    jurisdiction_level: 'country',
    livemode: false,
    metadata: {},
    percentage: input.percentage,
    rate_type: 'percentage',
    state: null,
    tax_type: 'sales_tax',
  };
}
