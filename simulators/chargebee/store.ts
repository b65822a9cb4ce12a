/**
 * What the Chargebee simulator holds, in Chargebee API v2's own wire shapes (Product Catalog 2.0):
 * items and item prices, customers, subscriptions with subscription_items, invoices and events.
 * Seeded from the shared seed (simulators/common/seed.ts) so that all systems agree: the seed's
 * billing customer, subscription and invoice ids are the Chargebee ids (Chargebee takes caller-chosen
 * ids for customers and subscriptions, and invoice ids are the invoice numbers, with a site prefix);
 * the CRM account id is in the customer's `cf_concord_customer_id` custom field, as Concord writes it.
 *
 * Shapes follow the chargebee-node SDK's types (types/resources/Customer.d.ts, Subscription.d.ts,
 * Invoice.d.ts, ItemPrice.d.ts, Event.d.ts), generated from Chargebee's API specification.
 */
import type { Seed } from '../common/seed';
import { createRandom } from '../common/random';

export type Json = Record<string, unknown>;

export interface CbItemPrice extends Json {
  id: string;
  item_id: string;
  name: string;
  price: number;
  currency_code: string;
  status: 'active' | 'archived';
}

export interface CbCustomer extends Json {
  id: string;
  company?: string;
  email?: string;
  created_at: number;
  updated_at: number;
  resource_version: number;
  deleted: boolean;
}

export interface CbSubscriptionItem extends Json {
  item_price_id: string;
  item_type: 'plan' | 'addon';
  quantity: number;
  unit_price: number;
  amount: number;
}

export interface CbSubscription extends Json {
  id: string;
  customer_id: string;
  status: 'future' | 'in_trial' | 'active' | 'non_renewing' | 'paused' | 'cancelled';
  subscription_items: CbSubscriptionItem[];
  meta_data?: Record<string, string>;
  created_at: number;
  updated_at: number;
  resource_version: number;
  current_term_start?: number;
  current_term_end?: number;
  cancelled_at?: number;
  started_at?: number;
  deleted: boolean;
}

export interface CbLineItem extends Json {
  id: string;
  description: string;
  quantity: number;
  unit_amount: number;
  amount: number;
  tax_amount: number;
  entity_type: string;
  entity_id?: string;
}

export interface CbInvoice extends Json {
  id: string;
  customer_id: string;
  subscription_id?: string;
  status: 'paid' | 'posted' | 'payment_due' | 'not_paid' | 'voided' | 'pending';
  currency_code: string;
  sub_total: number;
  tax: number;
  total: number;
  amount_due: number;
  amount_paid: number;
  date?: number;
  due_date?: number;
  line_items: CbLineItem[];
  created_at?: number;
  updated_at: number;
  resource_version: number;
  deleted: boolean;
}

export interface CbEvent extends Json {
  id: string;
  occurred_at: number;
  event_type: string;
  content: Json;
}

export const TEST_SITE = 'concord-test';

const unix = (iso: string | null | undefined) => (iso ? Math.floor(Date.parse(iso) / 1000) : undefined);

/** Chargebee's item price id convention: `<item id>-<currency>-<period>`. */
export const itemPriceIdOf = (code: string) => `${code}-USD-Monthly`;

export interface ChargebeeStore {
  itemPrices: Map<string, CbItemPrice>;
  customers: Map<string, CbCustomer>;
  subscriptions: Map<string, CbSubscription>;
  invoices: Map<string, CbInvoice>;
  events: CbEvent[];
  taxPercent: number;
  now(): number;
  newId(prefix: string): string;
  nextInvoiceId(): string;
  /** Append an event (delivered by webhooks.ts). */
  emit(type: string, content: Json): CbEvent;
  onEvent?: (event: CbEvent) => void;
}

export function createChargebeeStore(seed: Seed): ChargebeeStore {
  const rnd = createRandom(4242);
  const itemPrices = new Map<string, CbItemPrice>();
  const customers = new Map<string, CbCustomer>();
  const subscriptions = new Map<string, CbSubscription>();
  const invoices = new Map<string, CbInvoice>();
  const events: CbEvent[] = [];
  let invoiceSequence = 1000;
  const products = new Map(seed.products.map((p) => [p.code, p]));

  for (const product of seed.products) {
    const id = itemPriceIdOf(product.code);
    itemPrices.set(id, {
      id, item_id: product.code, name: `${product.name} USD Monthly`, external_name: product.name, pricing_model: 'per_unit',
      price: product.unitAmount, period: 1, period_unit: 'month', currency_code: 'USD', status: 'active', item_type: product.code === 'SEAT' || product.code === 'SUPPORT-PREMIUM' ? 'addon' : 'plan',
      is_taxable: true, created_at: 1735689600, updated_at: 1735689600, resource_version: 1, object: 'item_price',
    });
  }
  for (const c of seed.customers) {
    const created = unix(c.createdAt)!;
    customers.set(c.billingId, {
      id: c.billingId, company: c.name, email: c.email, first_name: c.name.split(' ')[0], last_name: 'Accounts', preferred_currency_code: 'USD',
      auto_collection: 'off', net_term_days: 30, taxability: 'taxable', allow_direct_debit: false, pii_cleared: 'active', channel: 'web',
      cf_concord_customer_id: c.crmId, created_at: created, updated_at: created, resource_version: created * 1000, deleted: false, object: 'customer',
      card_status: 'no_card', promotional_credits: 0, refundable_credits: 0, excess_payments: 0, unbilled_charges: 0,
    });
  }
  const customerOf = (index: number) => seed.customers[index];
  for (const s of seed.contracts) {
    const start = unix(s.startDate)!;
    const end = unix(s.endDate);
    const items: CbSubscriptionItem[] = s.items.map((item, i) => {
      const price = products.get(item.productCode)!.unitAmount;
      return { item_price_id: itemPriceIdOf(item.productCode), item_type: i === 0 ? 'plan' : 'addon', quantity: item.quantity, unit_price: price, amount: price * item.quantity, object: 'subscription_item' };
    });
    const opportunity = s.opportunityIndex === null ? null : seed.opportunities[s.opportunityIndex];
    const cancelled = s.status === 'canceled' || s.status === 'ended';
    const termEnd = cancelled ? end : (end ?? start + 30 * 86_400);
    subscriptions.set(s.id, {
      id: s.id, customer_id: customerOf(s.customerIndex).billingId, currency_code: 'USD', billing_period: 1, billing_period_unit: 'month',
      status: s.status === 'incomplete' ? 'future' : cancelled ? 'cancelled' : 'active',
      subscription_items: items, started_at: start, activated_at: start, current_term_start: start, current_term_end: termEnd,
      ...(cancelled ? { cancelled_at: s.status === 'ended' ? end : (end ?? start) - 86_400, cancel_reason_code: s.status === 'ended' ? 'Contract ended' : 'Canceled early' } : {}),
      ...(s.status === 'past_due' ? { due_invoices_count: 1, due_since: start + 30 * 86_400, total_dues: items.reduce((a, i) => a + i.amount, 0) } : { due_invoices_count: 0 }),
      meta_data: { concord_customer_id: customerOf(s.customerIndex).crmId, ...(opportunity ? { concord_opportunity_id: opportunity.crmId } : {}) },
      auto_collection: 'off', net_term_days: 30, has_scheduled_changes: false, create_pending_invoices: true, auto_close_invoices: false,
      created_at: start, updated_at: start, resource_version: start * 1000, deleted: false, object: 'subscription', channel: 'web', mrr: 0,
    });
  }
  const invoiceStatus = { draft: 'pending', open: 'payment_due', paid: 'paid', void: 'voided', uncollectible: 'not_paid' } as const;
  for (const i of seed.invoices) {
    const created = unix(i.createdAt)!;
    const status = invoiceStatus[i.status];
    invoices.set(i.id, {
      id: i.id, customer_id: customerOf(i.customerIndex).billingId, subscription_id: i.contractId, recurring: true, status, price_type: 'tax_exclusive',
      date: unix(i.finalizedAt) ?? created, due_date: unix(i.dueDate), net_term_days: 30, currency_code: 'USD',
      sub_total: i.subtotal, tax: i.tax, total: i.total, amount_paid: i.amountPaid, amount_adjusted: 0, write_off_amount: 0, credits_applied: 0,
      amount_due: status === 'voided' ? 0 : i.amountRemaining, paid_at: unix(i.paidAt), ...(status === 'voided' ? { voided_at: unix(i.finalizedAt) ?? created } : {}),
      line_items: i.lines.map((l) => ({
        id: `li_${l.id.slice(3)}`, date_from: unix(i.periodStart), date_to: unix(i.periodEnd), unit_amount: l.unitAmount, quantity: l.quantity, amount: l.amount,
        pricing_model: 'per_unit', is_taxed: true, tax_amount: Math.round((l.amount * seed.taxPercent) / 100), tax_rate: seed.taxPercent,
        description: l.description, entity_type: 'plan_item_price', entity_id: itemPriceIdOf(l.productCode), subscription_id: i.contractId, customer_id: customerOf(i.customerIndex).billingId, object: 'line_item',
      })),
      taxes: [{ object: 'tax', name: 'Sales tax', amount: i.tax }], term_finalized: true, is_gifted: false, first_invoice: false, has_advance_charges: false,
      created_at: created, generated_at: unix(i.finalizedAt) ?? created, updated_at: created, resource_version: created * 1000, deleted: false, object: 'invoice',
    });
  }

  const store: ChargebeeStore = {
    itemPrices,
    customers,
    subscriptions,
    invoices,
    events,
    taxPercent: seed.taxPercent,
    now: () => Math.floor(Date.now() / 1000),
    // Chargebee's generated ids: 16-17 characters of [0-9A-Za-z], for example 'AzZlGJSX7gEOd1Yc'.
    newId: (prefix) => `${prefix}${rnd.alnum(16)}`,
    // Invoice ids are the site's invoice number sequence, with the configured prefix.
    nextInvoiceId: () => `CB-${++invoiceSequence}`,
    emit(type, content) {
      const event: CbEvent = {
        id: `ev_${rnd.alnum(16)}`, occurred_at: store.now(), source: 'api', object: 'event', api_version: 'v2', event_type: type,
        webhook_status: 'scheduled', content: JSON.parse(JSON.stringify(content)) as Json,
      };
      events.push(event);
      store.onEvent?.(event);
      return event;
    },
  };
  return store;
}
