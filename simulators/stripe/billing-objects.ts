/**
 * Wire shapes of the billing objects (subscriptions, their items, invoices and invoice lines) for
 * API version 2026-10-28.endive, typed against stripe-node's declarations like objects.ts.
 *
 * In this version an invoice's subscription is under `parent.subscription_details.subscription`,
 * its taxes under `total_taxes`, and billing periods live on subscription items
 * (`current_period_start/end`), not on the subscription.
 */
import type Stripe from 'stripe';
import {
  planFromPrice,
  type CustomerObject,
  type InvoiceObject,
  type LineItemObject,
  type PriceObject,
  type SubscriptionItemObject,
  type SubscriptionObject,
  type TaxRateObject,
} from './objects';

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
  /** True for a proration line (Stripe marks them in `parent.*_details.proration`). Default false. */
  proration?: boolean;
}): LineItemObject {
  const proration = input.proration ?? false;
  const parent: LineItemObject['parent'] = input.subscriptionItem
    ? {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: null,
          proration,
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
          proration,
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
