/**
 * The BillingPort's amendment, bulk-read and duplicate-search methods (added for customer master,
 * amendments and reconciliation), run against the Stripe adapter over the Stripe simulator. The
 * proration figures are Stripe's arithmetic worked by hand: credit the unused time of what was
 * billed, charge the remaining time of what replaces it, each rounded, taxed per line at 8%.
 */
import type { BillingInvoice } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { STRIPE_TAX_RATE_ID, buildSeed, type Seed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { startStripeSimulator } from '../../simulators/stripe/server';
import type { BillingPort } from '../../subgraphs/billing/port';
import { createStripeAdapter } from '../../vendors/stripe/adapter';

const seed: Seed = buildSeed();
/** 16 Nov 2026 00:00 UTC: half of the seeded November period (1 Nov - 1 Dec) remains. */
const HALF_NOVEMBER = Date.UTC(2026, 10, 16) / 1000;
const key = (label: string) => `${label}-${Math.random().toString(36).slice(2, 10)}`;
const write = (label: string) => ({ idempotencyKey: key(label), correlationId: `corr-${label}` });

/** A seeded active contract with a SEAT item (even customer index, not canceled, past due or draft). */
function seatContract(skip = 0) {
  const contracts = seed.contracts.filter((c) => c.status === 'active' && c.items.some((i) => i.productCode === 'SEAT'));
  return contracts[skip];
}

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConcordError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('BillingPort amendments and bulk reads: stripe (simulator)', () => {
  let sim: SimServer;
  let port: BillingPort;
  const state = async () => (await (await fetch(`${sim.url}/__sim/state`)).json()) as { invoices: any[]; subscriptions: any[]; invoiceitems: any[] };

  beforeAll(async () => {
    sim = await startStripeSimulator({ seed });
    port = createStripeAdapter({ apiKey: 'sk_test_amendments', baseUrl: sim.url, taxRateId: STRIPE_TAX_RATE_ID });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  test('a quantity increase mid-period makes one draft proration invoice with Stripe-computed figures; a resend makes no second', async () => {
    const contract = seatContract(0);
    const seats = contract.items.find((i) => i.productCode === 'SEAT')!.quantity;
    const amendment = { contractId: contract.id, items: [{ productCode: 'SEAT', quantity: seats + 2 }], proration: 'invoice' as const, prorationDate: HALF_NOVEMBER, amendmentId: 'amend-1' };
    const options = write('amend-up');
    const { contract: after, invoice } = await port.amendContract(amendment, options);
    expect(after.items.find((i) => i.productCode === 'SEAT')!.quantity).toBe(seats + 2);
    expect(invoice).not.toBeNull();
    const credit = -Math.round(2500 * seats * 0.5);
    const charge = Math.round(2500 * (seats + 2) * 0.5);
    const tax = Math.round((credit * 8) / 100) + Math.round((charge * 8) / 100);
    expect(invoice!).toMatchObject({ status: 'DRAFT', contractId: contract.id, customerId: seed.customers[contract.customerIndex].crmId });
    expect(invoice!.lines.map((l) => [l.quantity, l.amount.amount])).toEqual([
      [seats, (credit / 100).toFixed(2)],
      [seats + 2, (charge / 100).toFixed(2)],
    ]);
    expect(invoice!.tax.amount).toBe((tax / 100).toFixed(2));
    expect(invoice!.total.amount).toBe(((credit + charge + tax) / 100).toFixed(2));

    // The same request again (a retry after a lost answer): Stripe replays it, nothing new is billed.
    const again = await port.amendContract(amendment, options);
    expect(again.invoice!.id).toBe(invoice!.id);
    const held = (await state()).invoices.filter((i: any) => i.parent?.subscription_details?.subscription === contract.id && i.billing_reason === 'subscription_update');
    expect(held).toHaveLength(1);
    // Held as a draft (auto_advance off) until the ERP has the adjustment.
    expect(held[0]).toMatchObject({ status: 'draft', auto_advance: false });
    expect((await port.findAmendmentInvoice(contract.id, 'amend-1'))!.id).toBe(invoice!.id);
    expect(await port.findAmendmentInvoice(contract.id, 'no-such-amendment')).toBeNull();
  });

  test('a decrease credits: the draft total is negative, and withdrawing it zeroes it and finalizes it', async () => {
    const contract = seatContract(1);
    const seats = contract.items.find((i) => i.productCode === 'SEAT')!.quantity;
    const { invoice } = await port.amendContract(
      { contractId: contract.id, items: [{ productCode: 'SEAT', quantity: seats - 2 }], proration: 'invoice', prorationDate: HALF_NOVEMBER, amendmentId: 'amend-down' },
      write('amend-down'),
    );
    expect(Number(invoice!.total.amount)).toBeLessThan(0);
    const withdrawn = await port.withdrawInvoice(invoice!.id, write('withdraw-down'));
    expect(withdrawn).toMatchObject({ status: 'PAID', total: { amount: '0.00' } });
    // Withdrawing again is done already.
    expect((await port.withdrawInvoice(invoice!.id, write('withdraw-down-2'))).status).toBe('PAID');
  });

  test('withdrawing a draft that charges voids it; a paid one that charged is refused', async () => {
    const contract = seatContract(2);
    const { invoice } = await port.amendContract(
      { contractId: contract.id, items: [{ productCode: 'SEAT', quantity: 40 }], proration: 'invoice', prorationDate: HALF_NOVEMBER, amendmentId: 'amend-void' },
      write('amend-void'),
    );
    expect((await port.withdrawInvoice(invoice!.id, write('withdraw'))).status).toBe('VOID');
    const paid = seed.invoices.find((i) => i.status === 'paid' && i.total > 0)!;
    expect(await rejection(port.withdrawInvoice(paid.id, write('withdraw-paid')))).toMatchObject({ code: 'VALIDATION_FAILED', system: 'BILLING' });
  });

  test('a plan swap replaces the item in place; proration none bills nothing; an end date is scheduled', async () => {
    const contract = seed.contracts.find((c) => c.status === 'active' && c.items[0].productCode === 'CONCORD-BASIC')!;
    const { contract: swapped, invoice } = await port.amendContract(
      { contractId: contract.id, items: [{ productCode: 'CONCORD-PRO', quantity: 1, replacesProductCode: 'CONCORD-BASIC' }], proration: 'invoice', prorationDate: HALF_NOVEMBER, amendmentId: 'amend-swap' },
      write('amend-swap'),
    );
    expect(swapped.items.map((i) => i.productCode)).toContain('CONCORD-PRO');
    expect(swapped.items.map((i) => i.productCode)).not.toContain('CONCORD-BASIC');
    // (1200 - 500) x half a month, plus 8% tax.
    expect(invoice!.subtotal.amount).toBe('350.00');

    const before = (await state()).invoices.length;
    const { invoice: none } = await port.amendContract(
      { contractId: contract.id, items: [{ productCode: 'CONCORD-BASIC', quantity: 1, replacesProductCode: 'CONCORD-PRO' }], proration: 'none', amendmentId: 'amend-back' },
      write('amend-back'),
    );
    expect(none).toBeNull();
    expect((await state()).invoices.length).toBe(before);

    const end = '2027-06-30T00:00:00.000Z';
    const { contract: ending } = await port.amendContract({ contractId: contract.id, items: [], endDate: end, proration: 'none', amendmentId: 'amend-end' }, write('amend-end'));
    expect(ending).toMatchObject({ status: 'ACTIVE', endDate: end });
  });

  test('a canceled contract cannot be amended; a product without a price is refused before any write', async () => {
    const canceled = seed.contracts.find((c) => c.status === 'canceled')!;
    expect(await rejection(port.amendContract({ contractId: canceled.id, items: [{ productCode: 'SEAT', quantity: 3 }], proration: 'invoice', amendmentId: 'x' }, write('x')))).toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    const contract = seatContract(3);
    expect(await rejection(port.amendContract({ contractId: contract.id, items: [{ productCode: 'NO-SUCH-PRODUCT', quantity: 1 }], proration: 'invoice', amendmentId: 'y' }, write('y')))).toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(sim.stats().byRoute['POST /v1/subscriptions/:id'] ?? 0).toBe(0);
  });

  test('bulk lists page through every customer, contract and invoice, one call per page of 100', async () => {
    const small = await startStripeSimulator({ seed: buildSeed({ customers: 120 }) });
    const bulk = createStripeAdapter({ apiKey: 'sk_test_bulk', baseUrl: small.url, taxRateId: STRIPE_TAX_RATE_ID });
    try {
      const all = async <T>(read: (page: { first: number; after?: string | null }) => Promise<{ items: T[]; hasNextPage: boolean; endCursor: string | null }>) => {
        const items: T[] = [];
        let after: string | null = null;
        let pages = 0;
        do {
          const page = await read({ first: 100, after });
          items.push(...page.items);
          pages += 1;
          after = page.hasNextPage ? page.endCursor : null;
        } while (after);
        return { items, pages };
      };
      const big = buildSeed({ customers: 120 });
      const customers = await all((p) => bulk.listCustomers(p));
      const contracts = await all((p) => bulk.listContracts(p));
      const invoices = await all((p) => bulk.listInvoices(p));
      expect(customers.items.map((c) => c.customerId).sort()).toEqual(big.customers.map((c) => c.crmId).sort());
      expect(contracts.items).toHaveLength(big.contracts.length);
      expect(new Set(contracts.items.map((c) => c.status))).toEqual(new Set(['ACTIVE', 'PAST_DUE', 'CANCELED', 'ENDED', 'DRAFT']));
      expect(invoices.items).toHaveLength(big.invoices.length);
      const byId = new Map<string, BillingInvoice>(invoices.items.map((i) => [i.id, i]));
      for (const seeded of big.invoices.slice(0, 50)) expect(byId.get(seeded.id)!.total.amount).toBe((seeded.total / 100).toFixed(2));
      const pages = customers.pages + contracts.pages + invoices.pages;
      expect(pages).toBe(Math.ceil(120 / 100) + Math.ceil(big.contracts.length / 100) + Math.ceil(big.invoices.length / 100));
      expect(small.stats().requests).toBe(pages);
    } finally {
      await small.close();
    }
  });

  test('duplicate candidates by name token and email domain, in one search (plus one list of what search may not show yet)', async () => {
    const found = await port.findCustomerCandidates({ nameTokens: ['acme'], emailDomain: 'globex-corp.example.com' });
    expect(found.map((c) => c.name).sort()).toEqual(['Acme Corp', 'Acme Industries', 'Globex Corp']);
    expect(sim.stats().requests).toBeLessThanOrEqual(2);
    expect(await port.findCustomerCandidates({ nameTokens: ['ab'], emailDomain: null })).toEqual([]);
  });
});
