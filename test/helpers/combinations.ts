/**
 * Vendor combinations the end-to-end suites run on, and a vendor-neutral reading of the chosen
 * vendors' simulators (issue 16: "the order-to-cash, live-events and reconciliation suites run on at
 * least three combinations").
 *
 * A combination is only configuration: CONCORD_CRM / CONCORD_BILLING / CONCORD_ERP (core/config.ts),
 * so Concord's schema, sagas, events and reconciliation are the same code on each. What differs is
 * how a test reads a vendor's own state to count effects, and how it acts in a vendor behind
 * Concord's back: that is the lens of each vendor below (`vendorsOf`). Adding a combination is one
 * line in COMBINATIONS; adding a vendor is one lens here (its simulator's state read as the
 * neutral shapes) and then its line.
 */
import Chargebee from 'chargebee';
import { toCode } from '../../vendors/businesscentral/mapping';
import { simCall, type TestSystem } from './system';

export interface Combination {
  /** `crm+billing+erp`, as the suites name their describe blocks. */
  name: string;
  /** The environment that chooses it (docs/configuration.md). */
  env: Record<string, string>;
}

const combination = (crm: string, billing: string, erp: string): Combination => ({
  name: `${crm}+${billing}+${erp}`,
  env: { CONCORD_CRM: crm, CONCORD_BILLING: billing, CONCORD_ERP: erp },
});

/** Today's combination first; the suites run their full depth on it and the proofs on the others. */
export const COMBINATIONS: Combination[] = [
  combination('salesforce', 'stripe', 'netsuite'),
  combination('salesforce', 'chargebee', 'businesscentral'),
  combination('salesforce', 'stripe', 'businesscentral'),
  // combination('hubspot', 'chargebee', 'businesscentral'),  <- once vendors/hubspot and its lens exist
];

export const [DEFAULT_COMBINATION] = COMBINATIONS;
/** Every combination but today's: what the suites add on top of their existing depth. */
export const OTHER_COMBINATIONS = COMBINATIONS.slice(1);

// ---------------------------------------------------------------------------------------------
// Neutral shapes of what a test counts in a vendor.

export type ContractStatus = 'active' | 'canceled' | 'other';
export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'other';

export interface BillingContract {
  id: string;
  status: ContractStatus;
  opportunityId: string | null;
  correlationId: string | null;
}
export interface BillingInvoice {
  id: string;
  /** The vendor's customer id. */
  vendorCustomerId: string;
  /** The CRM id the vendor's customer is linked to, if any. */
  customerId: string | null;
  contractId: string | null;
  status: InvoiceStatus;
  /** Minor units (cents). */
  total: number;
  /** Unix seconds, or null when none. */
  dueDate: number | null;
}
export interface ErpCustomer {
  id: string;
  creditHold: boolean;
  /** The hold follows the ERP's own rule (not set by hand): what the payment-failure reaction may change. */
  holdIsAutomatic: boolean;
  /** The record's version as the vendor keeps it (last modified, etag): unchanged means nothing wrote it. */
  version: string;
}
export interface ErpPosting {
  id: string;
  /** Major units (dollars), tax included. */
  total: number;
  open: boolean;
  /** Where Concord writes its correlation id (memo, comment lines). */
  text: string;
}

export interface BillingView {
  customersLinkedTo(crmId: string): { id: string }[];
  /** CRM ids the vendor's customers are linked to, one per vendor customer (for duplicates). */
  linkedCustomerIds(): string[];
  contractsOfOpportunity(opportunityId: string): BillingContract[];
  invoicesOfContract(contractId: string): BillingInvoice[];
  invoices(): BillingInvoice[];
  /** Kinds of compensation events of these objects in the order the vendor recorded them. */
  compensationOrder(contractId: string, invoiceId: string): ('invoice.voided' | 'contract.canceled')[];
}
export interface ErpView {
  customersLinkedTo(crmId: string): ErpCustomer[];
  postingsOf(billingInvoiceId: string): ErpPosting[];
  /** Link keys of every customer and posting (for duplicates). */
  customerLinks(): string[];
  postingLinks(): string[];
}

export interface BillingLens {
  vendor: string;
  url: string;
  read(): Promise<BillingView>;
  /** A customer's payment of this invoice fails, as the vendor reports it (webhook). */
  failPayment(invoiceId: string): Promise<void>;
  /** The invoice is paid in full in the vendor, not through Concord. */
  pay(invoiceId: string): Promise<void>;
  /** Write requests in a stats answer (reads that POST, like searches, are not counted). */
  writes(stats: any): number;
}
export interface ErpLens {
  vendor: string;
  url: string;
  read(): Promise<ErpView>;
  /** Close (or, with [], reopen) accounting periods `YYYY-MM`. */
  closePeriods(periods: string[]): Promise<void>;
  /** Write requests in a stats answer. */
  writes(stats: any): number;
}
export interface CrmLens {
  vendor: string;
  url: string;
}
export interface VendorLenses {
  crm: CrmLens;
  billing: BillingLens;
  erp: ErpLens;
  all: { vendor: string; url: string }[];
}

const WRITE = /^(POST|PUT|PATCH|DELETE) /;
const countRoutes = (stats: any, keep: (route: string) => boolean) =>
  Object.entries((stats?.byRoute ?? {}) as Record<string, number>).filter(([route]) => keep(route)).reduce((n, [, c]) => n + c, 0);

// ---------------------------------------------------------------------------------------------
// Billing lenses.

function stripeLens(url: string): BillingLens {
  const api = async (path: string, params: Record<string, string>) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_concord_simulator', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    return response.status;
  };
  return {
    vendor: 'stripe',
    url,
    async read() {
      const state = await simCall(url, 'state');
      const linked = new Map<string, string | null>(state.customers.map((c: any) => [c.id, c.metadata?.concord_customer_id ?? null]));
      const invoice = (i: any): BillingInvoice => ({
        id: i.id,
        vendorCustomerId: i.customer,
        customerId: linked.get(i.customer) ?? null,
        contractId: i.parent?.subscription_details?.subscription ?? null,
        status: (['draft', 'open', 'paid', 'void'] as const).find((s) => s === i.status) ?? 'other',
        total: i.total,
        dueDate: i.due_date ?? null,
      });
      const contract = (s: any): BillingContract => ({
        id: s.id,
        status: s.status === 'canceled' ? 'canceled' : s.status === 'active' ? 'active' : 'other',
        opportunityId: s.metadata?.concord_opportunity_id ?? null,
        correlationId: s.metadata?.concord_correlation_id ?? null,
      });
      return {
        customersLinkedTo: (crmId) => state.customers.filter((c: any) => c.metadata?.concord_customer_id === crmId),
        linkedCustomerIds: () => state.customers.map((c: any) => c.metadata?.concord_customer_id).filter(Boolean),
        contractsOfOpportunity: (id) => state.subscriptions.filter((s: any) => s.metadata?.concord_opportunity_id === id).map(contract),
        invoicesOfContract: (id) => state.invoices.filter((i: any) => i.parent?.subscription_details?.subscription === id).map(invoice),
        invoices: () => state.invoices.map(invoice),
        compensationOrder: (contractId, invoiceId) =>
          state.events
            .filter((e: any) => (e.type === 'invoice.voided' && e.data.object.id === invoiceId) || (e.type === 'customer.subscription.deleted' && e.data.object.id === contractId))
            .map((e: any) => (e.type === 'invoice.voided' ? 'invoice.voided' : 'contract.canceled')),
      };
    },
    async failPayment(invoiceId) {
      // A declined card: Stripe answers 402 and sends invoice.payment_failed.
      const status = await api(`/v1/invoices/${invoiceId}/pay`, { payment_method: 'pm_card_chargeDeclined' });
      if (status !== 402) throw new Error(`declined payment of ${invoiceId} answered ${status}`);
    },
    async pay(invoiceId) {
      const status = await api(`/v1/invoices/${invoiceId}/pay`, { payment_method: 'pm_card_visa' });
      if (status !== 200) throw new Error(`payment of ${invoiceId} answered ${status}`);
    },
    writes: (stats) => countRoutes(stats, (route) => WRITE.test(route) && !route.includes('/search')),
  };
}

function chargebeeLens(url: string): BillingLens {
  // Chargebee as any other integration calls it: the official SDK on the site's API key.
  const sdk = () => {
    const at = new URL(url);
    return new Chargebee({ site: at.hostname, hostSuffix: '', protocol: 'http', port: Number(at.port), apiKey: 'test_someone_else_key' });
  };
  const statusOf = (s: string): InvoiceStatus => ({ pending: 'draft', payment_due: 'open', not_paid: 'open', posted: 'open', paid: 'paid', voided: 'void' })[s] as InvoiceStatus ?? 'other';
  return {
    vendor: 'chargebee',
    url,
    async read() {
      const state = await simCall(url, 'state');
      const linked = new Map<string, string | null>(state.customers.map((c: any) => [c.id, c.cf_concord_customer_id ?? null]));
      const live = state.invoices.filter((i: any) => !i.deleted);
      const invoice = (i: any): BillingInvoice => ({
        id: i.id,
        vendorCustomerId: i.customer_id,
        customerId: linked.get(i.customer_id) ?? null,
        contractId: i.subscription_id ?? null,
        status: statusOf(i.status),
        total: i.total,
        dueDate: i.due_date ?? null,
      });
      const contract = (s: any): BillingContract => ({
        id: s.id,
        status: s.status === 'cancelled' ? 'canceled' : s.status === 'active' || s.status === 'non_renewing' ? 'active' : 'other',
        opportunityId: s.meta_data?.concord_opportunity_id ?? null,
        correlationId: s.meta_data?.concord_correlation_id ?? null,
      });
      return {
        customersLinkedTo: (crmId) => state.customers.filter((c: any) => c.cf_concord_customer_id === crmId),
        linkedCustomerIds: () => state.customers.map((c: any) => c.cf_concord_customer_id).filter(Boolean),
        contractsOfOpportunity: (id) => state.subscriptions.filter((s: any) => s.meta_data?.concord_opportunity_id === id).map(contract),
        invoicesOfContract: (id) => live.filter((i: any) => i.subscription_id === id).map(invoice),
        invoices: () => live.map(invoice),
        compensationOrder: (contractId, invoiceId) =>
          state.events
            .filter((e: any) =>
              (e.event_type === 'invoice_updated' && e.content.invoice?.id === invoiceId && e.content.invoice.status === 'voided') ||
              (e.event_type === 'subscription_cancelled' && e.content.subscription?.id === contractId))
            .map((e: any) => (e.event_type === 'invoice_updated' ? 'invoice.voided' : 'contract.canceled')),
      };
    },
    async failPayment(invoiceId) {
      // The simulator's stand-in for a declined card on auto-collection: a payment_failed event.
      await simCall(url, `invoices/${invoiceId}/payment_failed`, {});
    },
    async pay(invoiceId) {
      const state = await simCall(url, 'state');
      const due = state.invoices.find((i: any) => i.id === invoiceId);
      // Recorded as a Chargebee user would (an offline payment); Chargebee sends payment_succeeded.
      await sdk().invoice.recordPayment(invoiceId, { transaction: { amount: due.amount_due, payment_method: 'bank_transfer' } });
    },
    writes: (stats) => countRoutes(stats, (route) => WRITE.test(route)),
  };
}

// ---------------------------------------------------------------------------------------------
// ERP lenses.

function netsuiteLens(url: string): ErpLens {
  return {
    vendor: 'netsuite',
    url,
    async read() {
      const state = await simCall(url, 'state');
      const customer = (c: any): ErpCustomer => {
        const hold = JSON.stringify(c.creditHoldOverride ?? 'AUTO');
        return { id: String(c.id), creditHold: hold.includes('ON'), holdIsAutomatic: hold.includes('AUTO'), version: String(c.lastModifiedDate ?? JSON.stringify(c)) };
      };
      return {
        customersLinkedTo: (crmId) => state.customer.filter((c: any) => c.externalId === crmId).map(customer),
        postingsOf: (invoiceId) => state.invoice.filter((i: any) => i.externalId === invoiceId).map((i: any) => ({ id: String(i.id), total: i.total, open: true, text: i.memo ?? '' })),
        customerLinks: () => state.customer.map((c: any) => c.externalId).filter(Boolean),
        postingLinks: () => state.invoice.map((i: any) => i.externalId).filter(Boolean),
      };
    },
    closePeriods: async (closed) => void (await simCall(url, 'periods', { closed })),
    writes: (stats) => countRoutes(stats, (route) => WRITE.test(route) && !route.includes('suiteql')),
  };
}

function businessCentralLens(url: string): ErpLens {
  return {
    vendor: 'businesscentral',
    url,
    async read() {
      const state = await simCall(url, 'state');
      const customer = (c: any): ErpCustomer => ({ id: c.id, creditHold: c.blocked !== ' ', holdIsAutomatic: true, version: String(c['@odata.etag'] ?? c.lastModifiedDateTime) });
      const codeOf = new Map<string, string>();
      const code = (id: string, max: number) => {
        if (!codeOf.has(`${max}:${id}`)) codeOf.set(`${max}:${id}`, toCode(id, max, 'id'));
        return codeOf.get(`${max}:${id}`)!;
      };
      return {
        // Business Central keeps the CRM id as the customer's No. and the billing invoice id as the
        // document's External Document No. (vendors/businesscentral/mapping.ts toCode).
        customersLinkedTo: (crmId) => state.customers.filter((c: any) => c.number === code(crmId, 20)).map(customer),
        postingsOf: (invoiceId) =>
          state.salesInvoices
            .filter((d: any) => d.externalDocumentNumber === code(invoiceId, 35) && d.status !== 'Draft')
            .map((d: any) => ({ id: d.id, total: d.totalAmountIncludingTax, open: d.status === 'Open' || d.status === 'Paid', text: (d.salesInvoiceLines ?? []).map((l: any) => l.description).join('\n') })),
        customerLinks: () => state.customers.map((c: any) => c.number),
        postingLinks: () => state.salesInvoices.filter((d: any) => d.status !== 'Canceled').map((d: any) => d.externalDocumentNumber).filter(Boolean),
      };
    },
    closePeriods: async (closed) => void (await simCall(url, 'periods', { closed })),
    // $batch carries reads too (the change feed, bulk reads): not counted as a write.
    writes: (stats) => countRoutes(stats, (route) => WRITE.test(route) && !route.includes('$batch') && !route.includes('oauth2')),
  };
}

const BILLING: Record<string, (url: string) => BillingLens> = { stripe: stripeLens, chargebee: chargebeeLens };
const ERP: Record<string, (url: string) => ErpLens> = { netsuite: netsuiteLens, businesscentral: businessCentralLens };

/** The lenses of the vendors a test system runs (its chosen simulators). */
export function vendorsOf(system: Pick<TestSystem, 'simulators' | 'config'>): VendorLenses {
  const { crm, billing, erp } = system.config.vendors;
  const url = (vendor: string) => {
    const sim = (system.simulators as Record<string, { url: string } | undefined>)[vendor];
    if (!sim) throw new Error(`no ${vendor} simulator in this system`);
    return sim.url;
  };
  const lenses = { crm: { vendor: crm, url: url(crm) }, billing: BILLING[billing](url(billing)), erp: ERP[erp](url(erp)) };
  return { ...lenses, all: [lenses.crm, lenses.billing, lenses.erp] };
}

/** Set the same faults on every chosen vendor's simulator (rate 0 lifts them). */
export async function faultEvery(lenses: VendorLenses, faults: Record<string, unknown>): Promise<void> {
  for (const sim of lenses.all) await simCall(sim.url, 'faults', faults);
}
