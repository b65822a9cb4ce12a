/**
 * Stripe objects in the wire shape of the API version that stripe-node 23.1.0 pins
 * (`2026-10-28.endive`). Each builder is typed against the SDK's own declaration of the object, so the
 * compiler checks that every field the SDK expects is here with the right type; `Wire<T>` only swaps
 * the SDK's Decimal class for the decimal string that travels on the wire.
 *
 * Shapes worth knowing in this version: an invoice's subscription is under
 * `parent.subscription_details.subscription` and its taxes under `total_taxes`; billing periods live
 * on subscription items (`current_period_start/end`), not on the subscription.
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

export function subscriptionItemObject(input: {
  id: string;
  subscription: string;
  price: PriceObject;
  quantity: number;
  created: number;
  periodStart: number;
  periodEnd: number;
}): SubscriptionItemObject {
  return {
    id: input.id,
    object: 'subscription_item',
    billing_thresholds: null,
    created: input.created,
    current_period_end: input.periodEnd,
    current_period_start: input.periodStart,
    current_trial: null,
    discounts: [],
    metadata: {},
    plan: planFromPrice(input.price),
    price: input.price,
    quantity: input.quantity,
    subscription: input.subscription,
    tax_rates: [],
  };
}

export function subscriptionObject(input: {
  id: string;
  customer: string;
  created: number;
  startDate: number;
  status: Stripe.Subscription.Status;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  daysUntilDue: number | null;
  metadata: Record<string, string>;
  defaultTaxRates: TaxRateObject[];
  items: SubscriptionItemObject[];
  description?: string | null;
}): SubscriptionObject {
  return {
    id: input.id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: input.startDate,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: input.collectionMethod,
    created: input.created,
    currency: 'usd',
    customer: input.customer,
    customer_account: null,
    days_until_due: input.collectionMethod === 'send_invoice' ? input.daysUntilDue : null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: input.defaultTaxRates,
    description: input.description ?? null,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
    items: { object: 'list', data: input.items, has_more: false, url: `/v1/subscription_items?subscription=${input.id}` },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: input.startDate,
    status: input.status,
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: 'create_invoice' } },
    trial_start: null,
  };
}

/** One invoice line, before taxes are worked out (see billing.ts `recompute`). */
export function lineItemObject(input: {
  id: string;
  invoice: string;
  amount: number;
  quantity: number;
  unitAmount: number;
  description: string;
  price: PriceObject | null;
  periodStart: number;
  periodEnd: number;
  subscription: string | null;
  subscriptionItem: string | null;
  invoiceItem: string | null;
  taxRates: string[];
}): LineItemObject {
  const parent: LineItemObject['parent'] = input.subscriptionItem
    ? {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: null,
          proration: false,
          proration_details: { credited_items: null },
          subscription: input.subscription,
          subscription_item: input.subscriptionItem,
        },
      }
    : {
        type: 'invoice_item_details',
        subscription_item_details: null,
        invoice_item_details: {
          invoice_item: input.invoiceItem ?? '',
          proration: false,
          proration_details: { credited_items: null },
          subscription: input.subscription,
        },
      };
  return {
    id: input.id,
    object: 'line_item',
    amount: input.amount,
    currency: 'usd',
    description: input.description,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: input.invoice,
    livemode: false,
    metadata: {},
    parent,
    period: { start: input.periodStart, end: input.periodEnd },
    pretax_credit_amounts: [],
    pricing: {
      type: 'price_details',
      price_details: input.price
        ? { price: input.price.id, product: typeof input.price.product === 'string' ? input.price.product : input.price.product.id }
        : undefined,
      unit_amount_decimal: String(input.unitAmount),
    },
    quantity: input.quantity,
    quantity_decimal: String(input.quantity),
    subscription: input.subscription,
    subtotal: input.amount,
    // Filled by recompute() from the applicable tax rates; kept here so the wire shape is complete.
    taxes: input.taxRates.map((taxRate) => ({
      amount: 0,
      tax_behavior: 'exclusive',
      tax_rate_details: { tax_rate: taxRate },
      taxability_reason: 'standard_rated',
      taxable_amount: input.amount,
      type: 'tax_rate_details',
    })),
  };
}

export function invoiceObject(input: {
  id: string;
  customer: CustomerObject;
  created: number;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  autoAdvance: boolean;
  billingReason: Stripe.Invoice.BillingReason;
  subscription: SubscriptionObject | null;
  defaultTaxRates: TaxRateObject[];
  metadata: Record<string, string>;
  periodStart: number;
  periodEnd: number;
  description?: string | null;
}): InvoiceObject {
  return {
    id: input.id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Concord Simulated Billing',
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_paid_off_stripe: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: input.autoAdvance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    // Stripe finalizes a subscription's draft about an hour after creating it (send_invoice).
    automatically_finalizes_at: input.autoAdvance ? input.created + 3600 : null,
    billing_reason: input.billingReason,
    collection_method: input.collectionMethod,
    created: input.created,
    currency: 'usd',
    custom_fields: null,
    customer: input.customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: input.customer.email,
    customer_name: input.customer.name ?? null,
    customer_phone: null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: input.defaultTaxRates,
    description: input.description ?? null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${input.id}/lines` },
    livemode: false,
    metadata: input.metadata,
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: input.subscription
      ? {
          type: 'subscription_details',
          quote_details: null,
          subscription_details: { metadata: { ...input.subscription.metadata }, subscription: input.subscription.id },
        }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: input.periodEnd,
    period_start: input.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
}
