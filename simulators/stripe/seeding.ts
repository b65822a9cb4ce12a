/**
 * The seed (simulators/common/seed.ts) in Stripe's shapes, so that Stripe agrees with the Salesforce
 * and NetSuite simulators: the same customers, links in `metadata`, amounts and statuses. Seeding
 * makes no events, as data that predates a webhook endpoint would not.
 */
import type Stripe from 'stripe';
import { STRIPE_TAX_RATE_ID, type Seed, type SeedContractStatus, type SeedInvoice } from '../common/seed';
import { recompute } from './billing';
import { invoiceObject, lineItemObject, subscriptionItemObject, subscriptionObject } from './billing-objects';
import {
  addMonth,
  customerObject,
  priceObject,
  productObject,
  taxRateObject,
  toUnix,
  type InvoiceObject,
  type PriceObject,
} from './objects';
import { emptyStore, track, type Store } from './store';

const CATALOG_CREATED = toUnix('2025-01-01T00:00:00.000Z');

function mapStatus(status: SeedContractStatus): Stripe.Subscription.Status {
  return status === 'ended' ? 'canceled' : status;
}

/** Build the store from the seed, in Stripe's shapes. */
export function createSeededStore(seed: Seed): Store {
  const store = emptyStore();
  const put = <T extends { id: string }>(map: Map<string, T>, object: T) => {
    map.set(object.id, object);
    track(store, object.id);
  };

  const taxRate = taxRateObject({ id: STRIPE_TAX_RATE_ID, percentage: seed.taxPercent, created: CATALOG_CREATED });
  put(store.taxRates, taxRate);
  const priceByCode = new Map<string, PriceObject>();
  for (const product of seed.products) {
    put(store.products, productObject({ id: product.stripeProductId, name: product.name, created: CATALOG_CREATED, defaultPrice: product.stripePriceId }));
    const price = priceObject({
      id: product.stripePriceId,
      product: product.stripeProductId,
      lookupKey: product.code,
      nickname: product.name,
      unitAmount: product.unitAmount,
      created: CATALOG_CREATED,
    });
    put(store.prices, price);
    priceByCode.set(product.code, price);
  }

  for (const c of seed.customers) {
    put(
      store.customers,
      customerObject({
        id: c.billingId,
        created: toUnix(c.createdAt),
        name: c.name,
        email: c.email,
        currency: c.currency,
        metadata: { concord_customer_id: c.crmId, erp_customer_id: c.erpId },
        invoicePrefix: c.billingId.slice(4, 12).toUpperCase(),
      }),
    );
  }

  const invoicesByContract = new Map<string, SeedInvoice[]>();
  for (const invoice of seed.invoices) {
    const list = invoicesByContract.get(invoice.contractId) ?? [];
    list.push(invoice);
    invoicesByContract.set(invoice.contractId, list);
  }

  for (const contract of seed.contracts) {
    const customer = seed.customers[contract.customerIndex];
    const start = toUnix(contract.startDate);
    const invoices = invoicesByContract.get(contract.id) ?? [];
    const last = invoices[invoices.length - 1];
    const periodStart = last ? toUnix(last.periodStart) : start;
    const metadata: Record<string, string> = { concord_customer_id: customer.crmId };
    if (contract.opportunityIndex !== null) metadata.concord_opportunity_id = seed.opportunities[contract.opportunityIndex].crmId;
    const subscription = subscriptionObject({
      id: contract.id,
      customer: customer.billingId,
      created: start,
      startDate: start,
      status: mapStatus(contract.status),
      collectionMethod: 'send_invoice',
      daysUntilDue: 30,
      metadata,
      defaultTaxRates: [taxRate],
      items: contract.items.map((item) =>
        subscriptionItemObject({
          id: item.id,
          subscription: contract.id,
          price: priceByCode.get(item.productCode)!,
          quantity: item.quantity,
          created: start,
          periodStart,
          periodEnd: addMonth(periodStart),
        }),
      ),
    });
    if (contract.endDate && (contract.status === 'canceled' || contract.status === 'ended')) {
      const end = toUnix(contract.endDate);
      subscription.canceled_at = end;
      subscription.ended_at = end;
      subscription.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: 'cancellation_requested' };
      // 'ended' ran to a scheduled end (cancel_at); 'canceled' was stopped early.
      if (contract.status === 'ended') subscription.cancel_at = end;
    }
    subscription.latest_invoice = last?.id ?? null;
    put(store.subscriptions, subscription);
    if (contract.status === 'past_due') store.customers.get(customer.billingId)!.delinquent = true;

    invoices.forEach((seeded, i) => {
      const invoice = invoiceObject({
        id: seeded.id,
        customer: store.customers.get(customer.billingId)!,
        created: toUnix(seeded.createdAt),
        collectionMethod: 'send_invoice',
        // Seeded drafts are held (auto_advance off), else Stripe would long since have finalized them.
        autoAdvance: false,
        billingReason: i === 0 ? 'subscription_create' : 'subscription_cycle',
        subscription,
        defaultTaxRates: [],
        metadata: {},
        periodStart: toUnix(seeded.periodStart),
        periodEnd: toUnix(seeded.periodEnd),
      });
      invoice.lines.data = seeded.lines.map((line) => {
        const item = contract.items.find((it) => it.productCode === line.productCode);
        return lineItemObject({
          id: line.id,
          invoice: seeded.id,
          amount: line.amount,
          quantity: line.quantity,
          unitAmount: line.unitAmount,
          description: line.description,
          price: priceByCode.get(line.productCode)!,
          periodStart: toUnix(seeded.periodStart),
          periodEnd: toUnix(seeded.periodEnd),
          subscription: contract.id,
          subscriptionItem: item?.id ?? null,
          invoiceItem: null,
          taxRates: [STRIPE_TAX_RATE_ID],
        });
      });
      recompute(store, invoice);
      applySeededStatus(invoice, seeded);
      store.daysUntilDue.set(invoice.id, 30);
      put(store.invoices, invoice);
    });
  }

  for (const invoice of seed.invoices) {
    const n = invoice.number ? Number(/(\d+)$/.exec(invoice.number)?.[1] ?? 0) : 0;
    store.lastInvoiceNumber = Math.max(store.lastInvoiceNumber, n);
  }
  // Counted in one pass: a scan of every invoice per customer is quadratic at 10,000 customers.
  const finalized = new Map<string, number>();
  for (const invoice of store.invoices.values()) {
    if (invoice.number !== null) finalized.set(invoice.customer as string, (finalized.get(invoice.customer as string) ?? 0) + 1);
  }
  for (const customer of store.customers.values()) customer.next_invoice_sequence = (finalized.get(customer.id) ?? 0) + 1;
  return store;
}

/** The seed's status, dates and amounts are authoritative (they are shared with the ERP simulator). */
function applySeededStatus(invoice: InvoiceObject, seeded: SeedInvoice): void {
  const finalizedAt = seeded.finalizedAt ? toUnix(seeded.finalizedAt) : null;
  invoice.status = seeded.status;
  invoice.number = seeded.number;
  invoice.subtotal = seeded.subtotal;
  invoice.subtotal_excluding_tax = seeded.subtotal;
  invoice.total_excluding_tax = seeded.subtotal;
  invoice.total = seeded.total;
  if (invoice.total_taxes?.[0]) invoice.total_taxes[0].amount = seeded.tax;
  invoice.amount_due = seeded.amountDue;
  invoice.amount_paid = seeded.amountPaid;
  invoice.amount_remaining = seeded.amountRemaining;
  invoice.due_date = seeded.dueDate ? toUnix(seeded.dueDate) : null;
  invoice.effective_at = finalizedAt;
  invoice.ending_balance = finalizedAt === null ? null : 0;
  invoice.attempted = seeded.status === 'paid';
  invoice.attempt_count = seeded.status === 'paid' ? 1 : 0;
  invoice.webhooks_delivered_at = invoice.created;
  invoice.status_transitions = {
    finalized_at: finalizedAt,
    paid_at: seeded.paidAt ? toUnix(seeded.paidAt) : null,
    voided_at: seeded.status === 'void' && finalizedAt !== null ? finalizedAt + 2 * 86_400 : null,
    marked_uncollectible_at: seeded.status === 'uncollectible' && invoice.due_date !== null ? invoice.due_date + 86_400 : null,
  };
}
