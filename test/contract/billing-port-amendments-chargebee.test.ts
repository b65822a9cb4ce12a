/**
 * The BillingPort's amendment, bulk-read and duplicate-search methods over the Chargebee adapter and
 * the Chargebee simulator: an increase prorated onto a pending invoice of its own (found again by
 * its PO number, once however often resent), a decrease refused before any write (Chargebee credits
 * decreases on a credit note: capabilities.prorationCredits false), withdrawals by Chargebee's
 * rules, plan swaps, end dates, and paged bulk lists.
 */
import { ConcordError } from '../../core/errors';
import { buildSeed, type Seed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { createChargebeeSimulator } from '../../simulators/chargebee/server';
import type { BillingPort } from '../../subgraphs/billing/port';
import { createChargebeeAdapter } from '../../vendors/chargebee/adapter';
import { createChargebeeClient } from '../../vendors/chargebee/client';

const seed: Seed = buildSeed();
const key = (label: string) => `${label}-${Math.random().toString(36).slice(2, 10)}`;
const write = (label: string) => ({ idempotencyKey: key(label), correlationId: `corr-${label}` });
const activeWith = (code: string, skip = 0) => seed.contracts.filter((c) => c.status === 'active' && c.items.some((i) => i.productCode === code))[skip];

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConcordError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('BillingPort amendments and bulk reads: chargebee (simulator)', () => {
  let sim: SimServer;
  let port: BillingPort;
  const state = async () => (await (await fetch(`${sim.url}/__sim/state`)).json()) as { invoices: any[]; subscriptions: any[]; customers: any[] };
  const posts = () => Object.entries(sim.stats().byRoute).filter(([route]) => route.startsWith('POST')).reduce((n, [, c]) => n + c, 0);

  beforeAll(async () => {
    sim = await createChargebeeSimulator({ seed }).listen(0, '127.0.0.1');
    port = createChargebeeAdapter({ client: createChargebeeClient({ site: 'concord-test', apiKey: 'test_amendment_contract_key', baseUrl: sim.url }) });
  });
  afterAll(() => sim.close());

  test('states what Chargebee does differently from Stripe', () => {
    expect(port.capabilities).toEqual({ pinnedProrationDate: false, prorationCredits: false, consistentBulkReads: true });
  });

  test('an increase makes one pending proration invoice, found by its amendment id; a resend makes no second', async () => {
    const contract = activeWith('SEAT');
    const seats = contract.items.find((i) => i.productCode === 'SEAT')!.quantity;
    const options = write('up');
    const input = { contractId: contract.id, items: [{ productCode: 'SEAT', quantity: seats + 4 }], proration: 'invoice' as const, amendmentId: 'run-up-1' };
    const first = await port.amendContract(input, options);
    expect(first.contract.items.find((i) => i.productCode === 'SEAT')!.quantity).toBe(seats + 4);
    expect(first.invoice).toMatchObject({ status: 'DRAFT', contractId: contract.id, customerId: seed.customers[contract.customerIndex].crmId });
    expect(Number(first.invoice!.subtotal.amount)).toBeGreaterThan(0);
    expect(Number(first.invoice!.subtotal.amount)).toBeLessThanOrEqual(4 * 25);
    expect(first.invoice!.tax.amount).toBe((Math.round(Number(first.invoice!.subtotal.amount) * 8) / 100).toFixed(2));
    const again = await port.amendContract(input, options);
    expect(again.invoice?.id).toBe(first.invoice!.id);
    expect((await state()).invoices.filter((i) => i.subscription_id === contract.id && i.po_number === 'concord-amendment:run-up-1')).toHaveLength(1);
    expect((await port.findAmendmentInvoice(contract.id, 'run-up-1'))?.id).toBe(first.invoice!.id);
    expect(await port.findAmendmentInvoice(contract.id, 'run-never')).toBeNull();

    // Withdrawn while pending: closed and voided; a paid one that charged is refused.
    expect((await port.withdrawInvoice(first.invoice!.id, write('withdraw'))).status).toBe('VOID');
    expect((await port.withdrawInvoice(first.invoice!.id, write('withdraw-again'))).status).toBe('VOID');
    const paid = seed.invoices.find((i) => i.status === 'paid' && i.total > 0)!;
    expect(await rejection(port.withdrawInvoice(paid.id, write('withdraw-paid')))).toMatchObject({ code: 'VALIDATION_FAILED', system: 'BILLING' });
  });

  test('a prorated decrease is refused before any write; without proration it is applied', async () => {
    const contract = activeWith('SEAT', 1);
    const seats = contract.items.find((i) => i.productCode === 'SEAT')!.quantity;
    const before = posts();
    const refused = await rejection(port.amendContract({ contractId: contract.id, items: [{ productCode: 'SEAT', quantity: 0 }], proration: 'invoice', amendmentId: 'run-down' }, write('down')));
    expect(refused).toMatchObject({ code: 'VALIDATION_FAILED', system: 'BILLING', retryable: false });
    expect(posts()).toBe(before);
    expect((await state()).subscriptions.find((s) => s.id === contract.id).subscription_items.find((i: any) => i.item_price_id === 'SEAT-USD-Monthly').quantity).toBe(seats);
    // Putting a contract back as it was (an undone amendment) prorates nothing and is allowed.
    const reverted = await port.amendContract({ contractId: contract.id, items: [{ productCode: 'SEAT', quantity: Math.max(1, seats - 1) }], proration: 'none', amendmentId: 'run-down:undone' }, write('revert'));
    expect(reverted.invoice).toBeNull();
    expect(reverted.contract.items.find((i) => i.productCode === 'SEAT')!.quantity).toBe(Math.max(1, seats - 1));
  });

  test('a plan swap replaces the plan item; an end date is scheduled and removed; an ended contract is refused', async () => {
    const contract = seed.contracts.find((c) => c.status === 'active' && c.items[0].productCode === 'CONCORD-BASIC')!;
    const swapped = await port.amendContract(
      { contractId: contract.id, items: [{ productCode: 'CONCORD-PRO', quantity: 1, replacesProductCode: 'CONCORD-BASIC' }], proration: 'invoice', amendmentId: 'run-swap' },
      write('swap'),
    );
    expect(swapped.contract.items.map((i) => i.productCode)).toContain('CONCORD-PRO');
    expect(swapped.contract.items.map((i) => i.productCode)).not.toContain('CONCORD-BASIC');
    expect(swapped.invoice?.lines.length).toBeGreaterThan(0);
    const end = new Date(Date.now() + 60 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, '.000Z');
    const ending = await port.amendContract({ contractId: contract.id, items: [], endDate: end, proration: 'none', amendmentId: 'run-end' }, write('end'));
    expect(ending.contract).toMatchObject({ status: 'ACTIVE', endDate: end });
    const kept = await port.amendContract({ contractId: contract.id, items: [], endDate: null, proration: 'none', amendmentId: 'run-keep' }, write('keep'));
    expect(kept.contract.endDate).toBeNull();
    const ended = seed.contracts.find((c) => c.status === 'canceled')!;
    expect(await rejection(port.amendContract({ contractId: ended.id, items: [{ productCode: 'SEAT', quantity: 2 }], proration: 'invoice', amendmentId: 'run-x' }, write('ended')))).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await rejection(port.amendContract({ contractId: contract.id, items: [{ productCode: 'NOPE', quantity: 2 }], proration: 'invoice', amendmentId: 'run-y' }, write('nope')))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  test('bulk lists page through every customer, contract and invoice; duplicate candidates by name token', async () => {
    const all = async <T>(list: (page: { first: number; after?: string | null }) => Promise<{ items: T[]; hasNextPage: boolean; endCursor: string | null }>) => {
      const items: T[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const page = await list({ first: 40, after });
        items.push(...page.items);
        after = page.hasNextPage ? page.endCursor : null;
        pages++;
      } while (after);
      return { items, pages };
    };
    const held = await state();
    const customers = await all((p) => port.listCustomers(p));
    expect(customers.items).toHaveLength(held.customers.length);
    expect(customers.pages).toBe(Math.ceil(held.customers.length / 40));
    expect((await all((p) => port.listContracts(p))).items.map((c) => c.id).sort()).toEqual(held.subscriptions.map((s) => s.id).sort());
    expect((await all((p) => port.listInvoices(p))).items).toHaveLength(held.invoices.filter((i) => !i.deleted).length);
    expect(await rejection(port.listCustomers({ first: 500 }))).toMatchObject({ code: 'BAD_USER_INPUT' });

    const acme = seed.customers.find((c) => c.name.startsWith('Acme'))!;
    const candidates = await port.findCustomerCandidates({ nameTokens: ['Acme'], emailDomain: null });
    expect(candidates.map((c) => c.id)).toContain(acme.billingId);
    expect(candidates.every((c) => (c.name ?? '').toLowerCase().startsWith('acme'))).toBe(true);
  });
});
