/**
 * Deterministic seed data shared by the three simulators, in vendor-neutral terms. Each simulator
 * maps it to its own wire shape, so the three systems agree: the same customers, the same links
 * (Stripe metadata `concord_customer_id` and NetSuite `externalId` hold the Salesforce Account Id,
 * the Account holds the Stripe and NetSuite ids), the same amounts.
 *
 * Amounts are integer cents. Dates are fixed (no clock), so every run sees the same data.
 */
import { createRandom } from './random';

export interface SeedOptions {
  /** Number of customers. Default 50. */
  customers?: number;
  /** PRNG seed. Default 42. */
  seed?: number;
}

export interface SeedProduct {
  /** Shared product code: Salesforce ProductCode, Stripe price lookup_key, NetSuite item name. */
  code: string;
  name: string;
  /** Price per unit per month, in cents. */
  unitAmount: number;
  stripeProductId: string;
  stripePriceId: string;
  /** NetSuite item internal id. */
  erpItemId: string;
}

export interface SeedCustomer {
  index: number;
  /** Salesforce Account Id (18 characters): the canonical customer id. */
  crmId: string;
  name: string;
  domain: string;
  email: string;
  parentIndex: number | null;
  /** Stripe customer id. */
  billingId: string;
  /** NetSuite customer internal id. */
  erpId: string;
  /** NetSuite entityId. */
  customerNumber: string;
  /** Credit limit in whole currency units. */
  creditLimit: number;
  creditHold: boolean;
  taxRegistration: string;
  currency: 'usd';
  createdAt: string;
}

export interface SeedContractItem {
  id: string;
  productCode: string;
  quantity: number;
}

export type SeedContractStatus = 'incomplete' | 'active' | 'past_due' | 'canceled' | 'ended';

export interface SeedContract {
  /** Stripe subscription id. */
  id: string;
  customerIndex: number;
  /** 'ended' = canceled at its scheduled end (cancel_at set); 'canceled' = canceled early. */
  status: SeedContractStatus;
  items: SeedContractItem[];
  startDate: string;
  endDate: string | null;
  opportunityIndex: number | null;
}

export type SeedInvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

export interface SeedInvoiceLine {
  id: string;
  productCode: string;
  description: string;
  quantity: number;
  unitAmount: number;
  amount: number;
}

export interface SeedPosting {
  /** NetSuite invoice internal id. */
  erpId: string;
  /** NetSuite tranId (document number). */
  tranId: string;
  /** Accounting period YYYY-MM. */
  period: string;
  postedAt: string;
  /** NetSuite customerPayment internal id, when the invoice is paid. */
  paymentErpId: string | null;
}

export interface SeedInvoice {
  /** Stripe invoice id. */
  id: string;
  /** Stripe invoice number (null while draft). */
  number: string | null;
  customerIndex: number;
  contractId: string;
  status: SeedInvoiceStatus;
  lines: SeedInvoiceLine[];
  subtotal: number;
  tax: number;
  total: number;
  amountDue: number;
  amountPaid: number;
  amountRemaining: number;
  createdAt: string;
  finalizedAt: string | null;
  dueDate: string | null;
  paidAt: string | null;
  periodStart: string;
  periodEnd: string;
  /** The ERP posting, null when not (or not yet) posted. */
  posting: SeedPosting | null;
}

export interface SeedOpportunityLine {
  /** Salesforce OpportunityLineItem Id. */
  id: string;
  productCode: string;
  quantity: number;
  unitPrice: number;
}

export interface SeedOpportunity {
  index: number;
  /** Salesforce Opportunity Id. */
  crmId: string;
  customerIndex: number;
  name: string;
  stage: 'Prospecting' | 'Qualification' | 'Negotiation/Review' | 'Closed Won' | 'Closed Lost';
  isWon: boolean;
  isClosed: boolean;
  /** Sum of the lines, in cents. */
  amount: number;
  closeDate: string;
  lines: SeedOpportunityLine[];
  /** Set when the deal is already billed (a contract exists for it). */
  contractId: string | null;
  invoiceId: string | null;
}

export interface Seed {
  products: SeedProduct[];
  customers: SeedCustomer[];
  contracts: SeedContract[];
  invoices: SeedInvoice[];
  opportunities: SeedOpportunity[];
  /** Sales tax rate applied by billing, in percent. */
  taxPercent: number;
}

export const TAX_PERCENT = 8;

/** Stripe tax rate id used for every seeded and simulated invoice. */
export const STRIPE_TAX_RATE_ID = 'txr_1ConcordSalesTax8';

const PRODUCTS: Omit<SeedProduct, 'stripeProductId' | 'stripePriceId' | 'erpItemId'>[] = [
  { code: 'CONCORD-BASIC', name: 'Concord Basic plan', unitAmount: 50_000 },
  { code: 'CONCORD-PRO', name: 'Concord Pro plan', unitAmount: 120_000 },
  { code: 'CONCORD-ENT', name: 'Concord Enterprise plan', unitAmount: 400_000 },
  { code: 'SUPPORT-PREMIUM', name: 'Premium support', unitAmount: 30_000 },
  { code: 'SEAT', name: 'Additional seat', unitAmount: 2_500 },
];

const NAME_FIRST = [
  'Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli', 'Vandelay', 'Soylent', 'Cyberdyne',
  'Tyrell', 'Wonka', 'Oscorp', 'Aperture', 'Monarch', 'Duff', 'Nakatomi', 'Wernham', 'Dunder', 'Sterling',
  'Prestige', 'Bluth', 'Gekko', 'Krusty', 'Pawnee', 'Massive', 'Virtucon', 'Zorg', 'Weyland', 'Gringotts',
];
const NAME_SECOND = ['Corp', 'Industries', 'Systems', 'Labs', 'Holdings', 'Group', 'Partners'];

/** Salesforce key prefixes of the objects we simulate. */
export const SF_PREFIX = { Account: '001', Opportunity: '006', OpportunityLineItem: '00k', Contract: '800' } as const;

/** Salesforce 15 -> 18 character id: a 3-character suffix encoding which characters are upper case. */
export function salesforceId18(id15: string): string {
  const map = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15[chunk * 5 + i];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += map[bits];
  }
  return id15 + suffix;
}

/** Deterministic Salesforce id: prefix + pod-like infix + zero-padded number, with the real suffix. */
export function salesforceId(prefix: string, n: number): string {
  return salesforceId18(`${prefix}Dn${String(n).padStart(10, '0')}`);
}

function isoDate(year: number, month: number, day: number): string {
  return new Date(Date.UTC(year, month - 1, day)).toISOString();
}

function addMonths(iso: string, months: number): string {
  const d = new Date(iso);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString();
}

function addDays(iso: string, days: number): string {
  return new Date(new Date(iso).getTime() + days * 86_400_000).toISOString();
}

export function buildSeed(options: SeedOptions = {}): Seed {
  const { customers: customerCount = 50, seed = 42 } = options;
  const rnd = createRandom(seed);

  const products: SeedProduct[] = PRODUCTS.map((p, i) => ({
    ...p,
    stripeProductId: `prod_Concord${p.code.replace(/[^A-Z]/g, '')}`,
    stripePriceId: `price_1Concord${p.code.replace(/[^A-Z]/g, '')}`,
    erpItemId: String(500 + i),
  }));
  const productByCode = new Map(products.map((p) => [p.code, p]));

  const customers: SeedCustomer[] = [];
  for (let i = 0; i < customerCount; i++) {
    const base = `${NAME_FIRST[i % NAME_FIRST.length]} ${NAME_SECOND[Math.floor(i / NAME_FIRST.length) % NAME_SECOND.length]}`;
    const cycle = Math.floor(i / (NAME_FIRST.length * NAME_SECOND.length));
    const name = cycle === 0 ? base : `${base} ${cycle + 1}`;
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    customers.push({
      index: i,
      crmId: salesforceId(SF_PREFIX.Account, i + 1),
      name,
      domain: `${slug}.example.com`,
      email: `billing@${slug}.example.com`,
      parentIndex: i % 10 === 5 && i >= 5 ? i - 5 : null,
      billingId: `cus_${rnd.alnum(14)}`,
      erpId: String(1000 + i),
      customerNumber: `CUST-${String(i + 1).padStart(5, '0')}`,
      creditLimit: [25_000, 50_000, 100_000, 250_000][i % 4],
      // Customers with a past-due contract are on credit hold in the ERP.
      creditHold: i % 10 === 9,
      taxRegistration: `US-EIN-${String(100000000 + i * 7919).slice(0, 9)}`,
      currency: 'usd',
      createdAt: isoDate(2025, 1 + (i % 12), 1 + (i % 27)),
    });
  }

  const contracts: SeedContract[] = [];
  const invoices: SeedInvoice[] = [];
  const opportunities: SeedOpportunity[] = [];
  let invoiceNumber = 0;
  let erpInvoiceId = 5000;
  let erpPaymentId = 9000;
  let lineNumber = 0;

  const newOpportunity = (
    customer: SeedCustomer,
    stage: SeedOpportunity['stage'],
    lines: { productCode: string; quantity: number }[],
    closeDate: string,
    label: string,
  ): SeedOpportunity => {
    const index = opportunities.length;
    const oppLines = lines.map((line) => ({
      id: salesforceId(SF_PREFIX.OpportunityLineItem, ++lineNumber),
      productCode: line.productCode,
      quantity: line.quantity,
      unitPrice: productByCode.get(line.productCode)!.unitAmount,
    }));
    const opportunity: SeedOpportunity = {
      index,
      crmId: salesforceId(SF_PREFIX.Opportunity, index + 1),
      customerIndex: customer.index,
      name: `${customer.name} - ${label}`,
      stage,
      isWon: stage === 'Closed Won',
      isClosed: stage === 'Closed Won' || stage === 'Closed Lost',
      amount: oppLines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0),
      closeDate,
      lines: oppLines,
      contractId: null,
      invoiceId: null,
    };
    opportunities.push(opportunity);
    return opportunity;
  };

  const invoiceFor = (
    customer: SeedCustomer,
    contract: SeedContract,
    periodStart: string,
    status: SeedInvoiceStatus,
  ): SeedInvoice => {
    const lines: SeedInvoiceLine[] = contract.items.map((item) => {
      const product = productByCode.get(item.productCode)!;
      return {
        id: `il_${rnd.alnum(14)}`,
        productCode: item.productCode,
        description: `${item.quantity} × ${product.name}`,
        quantity: item.quantity,
        unitAmount: product.unitAmount,
        amount: item.quantity * product.unitAmount,
      };
    });
    const subtotal = lines.reduce((sum, l) => sum + l.amount, 0);
    const tax = Math.round((subtotal * TAX_PERCENT) / 100);
    const total = subtotal + tax;
    const finalized = status !== 'draft';
    const paid = status === 'paid';
    const periodEnd = addMonths(periodStart, 1);
    const invoice: SeedInvoice = {
      id: `in_${rnd.alnum(14)}`,
      number: finalized ? `CNCD-${String(++invoiceNumber).padStart(5, '0')}` : null,
      customerIndex: customer.index,
      contractId: contract.id,
      status,
      lines,
      subtotal,
      tax,
      total,
      amountDue: status === 'void' ? 0 : total,
      amountPaid: paid ? total : 0,
      amountRemaining: status === 'open' || status === 'uncollectible' || status === 'draft' ? total : 0,
      createdAt: periodStart,
      finalizedAt: finalized ? addDays(periodStart, 1) : null,
      dueDate: finalized ? addDays(periodStart, 31) : null,
      paidAt: paid ? addDays(periodStart, 10) : null,
      periodStart,
      periodEnd,
      posting: null,
    };
    // Finalized, non-void invoices are posted to the ERP in the period of their date.
    if (finalized && status !== 'void') {
      invoice.posting = {
        erpId: String(++erpInvoiceId),
        tranId: `INV${String(erpInvoiceId).padStart(6, '0')}`,
        period: periodStart.slice(0, 7),
        postedAt: addDays(periodStart, 1),
        paymentErpId: paid ? String(++erpPaymentId) : null,
      };
    }
    invoices.push(invoice);
    return invoice;
  };

  for (const customer of customers) {
    const i = customer.index;
    const plan = ['CONCORD-BASIC', 'CONCORD-PRO', 'CONCORD-ENT'][i % 3];
    const items: { productCode: string; quantity: number }[] = [{ productCode: plan, quantity: 1 }];
    if (i % 2 === 0) items.push({ productCode: 'SEAT', quantity: 5 + (i % 20) });
    if (i % 4 === 1) items.push({ productCode: 'SUPPORT-PREMIUM', quantity: 1 });

    // The deal that created the main contract.
    const start = isoDate(2026, 8 + (i % 2), 1);
    const won = newOpportunity(customer, 'Closed Won', items, addDays(start, -3), 'Initial subscription');

    const mainStatus: SeedContractStatus =
      i % 25 === 3 ? 'incomplete' : i % 10 === 9 ? 'past_due' : i % 10 === 8 ? 'canceled' : 'active';
    const main: SeedContract = {
      id: `sub_${rnd.alnum(14)}`,
      customerIndex: i,
      status: mainStatus,
      items: items.map((item) => ({ id: `si_${rnd.alnum(14)}`, ...item })),
      startDate: start,
      endDate: mainStatus === 'canceled' ? isoDate(2026, 10, 15) : null,
      opportunityIndex: won.index,
    };
    contracts.push(main);
    won.contractId = main.id;

    // Monthly invoices from the start up to November 2026.
    const months = start.startsWith('2026-08') ? 4 : 3;
    for (let m = 0; m < months; m++) {
      const periodStart = addMonths(start, m);
      const last = m === months - 1;
      let status: SeedInvoiceStatus = 'paid';
      if (mainStatus === 'incomplete') status = last ? 'draft' : 'paid';
      else if (mainStatus === 'past_due' && last) status = i % 20 === 19 ? 'uncollectible' : 'open';
      else if (mainStatus === 'canceled' && last) status = 'void';
      else if (last) status = i % 7 === 0 ? 'draft' : 'open';
      if (mainStatus === 'incomplete' && m < months - 1) continue;
      const invoice = invoiceFor(customer, main, periodStart, status);
      if (m === 0) won.invoiceId = invoice.id;
    }

    // Some customers also have a contract that ran its course.
    if (i % 10 === 7) {
      const endedStart = isoDate(2025, 9, 1);
      const ended: SeedContract = {
        id: `sub_${rnd.alnum(14)}`,
        customerIndex: i,
        status: 'ended',
        items: [{ id: `si_${rnd.alnum(14)}`, productCode: 'SUPPORT-PREMIUM', quantity: 1 }],
        startDate: endedStart,
        endDate: isoDate(2026, 9, 1),
        opportunityIndex: null,
      };
      contracts.push(ended);
      invoiceFor(customer, ended, isoDate(2026, 8, 1), 'paid');
    }

    // Pipeline: closed-won deals not yet billed (ready for order-to-cash), open and lost ones.
    if (i < Math.max(12, Math.ceil(customerCount / 4))) {
      newOpportunity(
        customer,
        'Closed Won',
        [
          { productCode: i % 2 === 0 ? 'SEAT' : 'SUPPORT-PREMIUM', quantity: i % 2 === 0 ? 10 : 1 },
          { productCode: 'CONCORD-PRO', quantity: 1 },
        ],
        isoDate(2026, 11, 20 + (i % 6)),
        'Expansion',
      );
    } else if (i % 3 === 0) {
      newOpportunity(customer, 'Negotiation/Review', [{ productCode: 'CONCORD-ENT', quantity: 1 }], isoDate(2026, 12, 15), 'Upgrade');
    } else if (i % 3 === 1) {
      newOpportunity(customer, 'Closed Lost', [{ productCode: 'SEAT', quantity: 20 }], isoDate(2026, 10, 30), 'Seats');
    } else {
      newOpportunity(customer, 'Prospecting', [{ productCode: 'SUPPORT-PREMIUM', quantity: 1 }], isoDate(2027, 1, 31), 'Support');
    }
  }

  return { products, customers, contracts, invoices, opportunities, taxPercent: TAX_PERCENT };
}
