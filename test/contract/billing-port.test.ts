/**
 * The BillingPort contract: what the billing subgraph and the order-to-cash saga rely on, whatever
 * billing system sits behind the port. `billingPortContract` runs against any adapter given a harness
 * (its vendor simulator, its call counter and its fault switch): the Stripe adapter over the Stripe
 * simulator, and the Chargebee adapter over the Chargebee simulator. A new billing vendor adds one
 * harness line at the bottom.
 */
import type { BillingContract, BillingInvoice, ContractStatus } from '../../core/canonical';
import { ConcordError, isConcordError } from '../../core/errors';
import { fromMinorUnits } from '../../core/money';
import { withRetries } from '../../core/retry';
import type { VendorCall } from '../../core/vendor-call';
import { STRIPE_TAX_RATE_ID, buildSeed, type Seed, type SeedContractStatus } from '../../simulators/common/seed';
import type { FaultConfig, SimServer } from '../../simulators/common/sim-server';
import { startStripeSimulator } from '../../simulators/stripe/server';
import type { BillingPort } from '../../subgraphs/billing/port';
import { createStripeAdapter } from '../../vendors/stripe/adapter';
import { createChargebeeSimulator } from '../../simulators/chargebee/server';
import { createChargebeeAdapter } from '../../vendors/chargebee/adapter';
import { createChargebeeClient } from '../../vendors/chargebee/client';

/** What the contract needs around an adapter. */
export interface BillingHarness {
  seed: Seed;
  /** An adapter on the vendor; `retries` = its own network retries (default: the adapter's). */
  port(options?: { retries?: number }): BillingPort;
  /** Vendor requests since the last `reset()`. */
  vendorRequests(): Promise<number>;
  /** What the vendor holds, to count effects: contracts and customers linked to a canonical id. */
  contractsOf(customerId: string): Promise<number>;
  customersLinkedTo(customerId: string): Promise<number>;
  faults(config: Partial<FaultConfig>): void;
  /** Faults injected since the last `reset()`. */
  faultsInjected(): number;
  /** Zero the counters, clear faults. */
  reset(): void;
  close(): Promise<void>;
  /** The number the vendor gives a seeded invoice. Default: the seed's (Stripe's own numbering). */
  invoiceNumber?(invoice: Seed['invoices'][number]): string | null;
}

const CONTRACT_STATUS: Record<SeedContractStatus, ContractStatus> = {
  incomplete: 'DRAFT',
  active: 'ACTIVE',
  past_due: 'PAST_DUE',
  canceled: 'CANCELED',
  ended: 'ENDED',
};

const usd = (cents: number) => fromMinorUnits(cents, 'usd');
const key = (label: string) => `${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const write = (label: string) => ({ idempotencyKey: key(label), correlationId: `corr-${label}` });

async function failure(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    if (isConcordError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

export function billingPortContract(name: string, makeHarness: () => Promise<BillingHarness>): void {
  describe(`BillingPort contract: ${name}`, () => {
    let harness: BillingHarness;
    let port: BillingPort;
    let seed: Seed;

    beforeAll(async () => {
      harness = await makeHarness();
      seed = harness.seed;
      port = harness.port();
    });
    afterAll(() => harness.close());
    beforeEach(() => harness.reset());

    // Five batches of ten customers per kind, plus one read per kind of what the vendor's search may not show yet.
    test('batched reads of every seed customer match the seed, in at most 6 + 6 + 6 vendor calls', async () => {
      const ids = seed.customers.map((c) => c.crmId);
      const customers = await port.getCustomersByCustomerId(ids);
      const contracts = await port.getContractsByCustomerId(ids);
      const invoices = await port.getInvoicesByBillingCustomer([...customers.values()]);
      expect(await harness.vendorRequests()).toBeLessThanOrEqual(18);

      expect(customers.size).toBe(seed.customers.length);
      for (const c of seed.customers) {
        expect(customers.get(c.crmId)).toMatchObject({ id: c.billingId, customerId: c.crmId, name: c.name, email: c.email });

        const expectedContracts = seed.contracts.filter((k) => k.customerIndex === c.index);
        const got = contracts.get(c.crmId)!;
        expect(got.map((k) => k.id).sort()).toEqual(expectedContracts.map((k) => k.id).sort());
        for (const k of expectedContracts) {
          const contract = got.find((g) => g.id === k.id)!;
          expect(contract.status).toBe(CONTRACT_STATUS[k.status]);
          expect(contract.customerId).toBe(c.crmId);
          expect(contract.items.map((i) => [i.productCode, i.quantity])).toEqual(k.items.map((i) => [i.productCode, i.quantity]));
          expect(contract.opportunityId).toBe(k.opportunityIndex === null ? null : seed.opportunities[k.opportunityIndex].crmId);
        }

        const expectedInvoices = seed.invoices.filter((i) => i.customerIndex === c.index);
        const gotInvoices = invoices.get(c.crmId)!;
        expect(gotInvoices).toHaveLength(expectedInvoices.length);
        for (const i of expectedInvoices) {
          const invoice = gotInvoices.find((g) => g.id === i.id)!;
          expect(invoice).toMatchObject({
            number: harness.invoiceNumber ? harness.invoiceNumber(i) : i.number,
            customerId: c.crmId,
            contractId: i.contractId,
            status: i.status.toUpperCase(),
            subtotal: usd(i.subtotal),
            tax: usd(i.tax),
            total: usd(i.total),
            // What is owed now (0 once paid or voided); Stripe's own amount_due stays as billedAmountDue.
            amountDue: usd(i.status === 'paid' || i.status === 'void' ? 0 : i.amountRemaining),
            billedAmountDue: usd(i.amountDue),
            amountPaid: usd(i.amountPaid),
            amountRemaining: usd(i.amountRemaining),
          });
          expect(invoice.issuedAt).toBe(i.finalizedAt);
          expect(invoice.dueAt).toBe(i.dueDate);
        }
      }
      // Newest first, as the port promises.
      const sample = invoices.get(seed.customers[0].crmId)!;
      expect(sample.map((i) => i.issuedAt ?? '9999')).toEqual([...sample.map((i) => i.issuedAt ?? '9999')].sort().reverse());
    });

    test('unknown ids read as absent or empty, never as errors; status filters apply', async () => {
      const customers = await port.getCustomersByCustomerId(['001Dn9999999999XXX']);
      expect(customers.size).toBe(0);
      const contracts = await port.getContractsByCustomerId(['001Dn9999999999XXX']);
      expect(contracts.get('001Dn9999999999XXX')).toEqual([]);

      const open = seed.invoices.find((i) => i.status === 'open')!;
      const contract = seed.contracts.find((k) => k.id === open.contractId)!;
      const byId = await port.getInvoices([open.id, 'in_doesnotexist']);
      expect([...byId.keys()]).toEqual([open.id]);
      expect(byId.get(open.id)!.customerId).toBe(seed.customers[open.customerIndex].crmId);
      const contractsById = await port.getContracts([contract.id, 'sub_doesnotexist']);
      expect(contractsById.get(contract.id)!.customerId).toBe(seed.customers[contract.customerIndex].crmId);
      expect(contractsById.has('sub_doesnotexist')).toBe(false);

      const owner = seed.customers[open.customerIndex];
      const billing = (await port.getCustomersByCustomerId([owner.crmId])).get(owner.crmId)!;
      const onlyOpen = await port.getInvoicesByBillingCustomer([billing], { status: 'OPEN' });
      expect(onlyOpen.get(owner.crmId)!.map((i) => i.id)).toEqual(
        seed.invoices.filter((i) => i.customerIndex === owner.index && i.status === 'open').map((i) => i.id),
      );
    });

    test('upsertCustomer finds the linked customer, and twice with one key creates exactly one', async () => {
      const existing = seed.customers[2];
      const found = await port.upsertCustomer({ customerId: existing.crmId, name: existing.name, email: existing.email }, write('existing'));
      expect(found.id).toBe(existing.billingId);
      expect(await harness.customersLinkedTo(existing.crmId)).toBe(1);

      const options = write('new-customer');
      const input = { customerId: '001Dn0000000999NEW', name: 'Newco Ltd', email: 'ap@newco.example' };
      const first = await port.upsertCustomer(input, options);
      const second = await port.upsertCustomer(input, options);
      expect(second.id).toBe(first.id);
      expect(first).toMatchObject({ customerId: input.customerId, name: 'Newco Ltd', email: 'ap@newco.example' });
      expect(await harness.customersLinkedTo(input.customerId)).toBe(1);

      const renamed = await port.upsertCustomer({ ...input, name: 'Newco Limited' }, write('rename'));
      expect(renamed).toMatchObject({ id: first.id, name: 'Newco Limited' });
      expect(await harness.customersLinkedTo(input.customerId)).toBe(1);
    });

    test('order to cash: contract -> its first invoice -> finalize (8% tax) -> void; cancel, all repeatable', async () => {
      const owner = seed.customers[11];
      const items = [
        { productCode: 'CONCORD-PRO', quantity: 1 },
        { productCode: 'SEAT', quantity: 10 },
      ];
      const before = await harness.contractsOf(owner.crmId);
      const contract: BillingContract = await port.createContract(
        { customerId: owner.crmId, billingCustomerId: owner.billingId, items, opportunityId: 'opp-o2c' },
        write('contract'),
      );
      expect(contract).toMatchObject({ customerId: owner.crmId, billingCustomerId: owner.billingId, status: 'ACTIVE', opportunityId: 'opp-o2c' });
      expect(contract.items.map((i) => [i.productCode, i.quantity, i.unitPrice.amount])).toEqual([
        ['CONCORD-PRO', 1, '1200.00'],
        ['SEAT', 10, '25.00'],
      ]);
      expect(await harness.contractsOf(owner.crmId)).toBe(before + 1);

      const [draft] = await port.listInvoicesForContract(contract.id);
      expect(draft).toMatchObject({ status: 'DRAFT', contractId: contract.id, customerId: owner.crmId, subtotal: usd(145_000) });

      const finalizeOptions = write('finalize');
      const open: BillingInvoice = await port.finalizeInvoice(draft.id, finalizeOptions);
      expect(open).toMatchObject({ status: 'OPEN', subtotal: usd(145_000), tax: usd(11_600), total: usd(156_600), amountDue: usd(156_600) });
      expect(open.number).not.toBeNull();
      expect(open.issuedAt).not.toBeNull();
      expect(open.dueAt).not.toBeNull();
      // A retry with the same key, and a redrive with a new one, both find it finalized.
      expect((await port.finalizeInvoice(draft.id, finalizeOptions)).status).toBe('OPEN');
      expect((await port.finalizeInvoice(draft.id, write('finalize-again'))).status).toBe('OPEN');

      const voided = await port.voidInvoice(draft.id, write('void'));
      expect(voided).toMatchObject({ id: draft.id, status: 'VOID', amountRemaining: usd(0) });
      expect((await port.voidInvoice(draft.id, write('void-again'))).status).toBe('VOID');

      const canceled = await port.cancelContract(contract.id, write('cancel'));
      expect(canceled).toMatchObject({ id: contract.id, status: 'CANCELED' });
      expect(canceled.endDate).not.toBeNull();
      expect((await port.cancelContract(contract.id, write('cancel-again'))).status).toBe('CANCELED');
      expect(await harness.contractsOf(owner.crmId)).toBe(before + 1);
    });

    test('voiding a draft invoice finalizes it first, keeping a numbered paper trail', async () => {
      const owner = seed.customers[13];
      const contract = await port.createContract(
        { customerId: owner.crmId, billingCustomerId: owner.billingId, items: [{ productCode: 'CONCORD-BASIC', quantity: 1 }] },
        write('draft-void'),
      );
      const [draft] = await port.listInvoicesForContract(contract.id);
      const voided = await port.voidInvoice(draft.id, write('void-draft'));
      expect(voided.status).toBe('VOID');
      expect(voided.number).not.toBeNull();
    });

    test('findContractForOpportunity finds the contract created for an opportunity right after the create, newest if several', async () => {
      const owner = seed.customers[15];
      const opportunityId = `opp-find-${key('o')}`;
      expect(await port.findContractForOpportunity(owner.billingId, opportunityId)).toBeNull();
      const items = [{ productCode: 'CONCORD-PRO', quantity: 3 }];
      const first = await port.createContract({ customerId: owner.crmId, billingCustomerId: owner.billingId, items, opportunityId }, write('find-1'));
      // Read-after-write: found at once, no waiting for search to catch up.
      const found = await port.findContractForOpportunity(owner.billingId, opportunityId);
      expect(found).toEqual(first);
      expect(found).toMatchObject({ customerId: owner.crmId, billingCustomerId: owner.billingId, opportunityId, status: 'ACTIVE' });

      const second = await port.createContract({ customerId: owner.crmId, billingCustomerId: owner.billingId, items, opportunityId }, write('find-2'));
      expect((await port.findContractForOpportunity(owner.billingId, opportunityId))?.id).toBe(second.id);
    });

    test('findContractForOpportunity answers null for an opportunity without a contract', async () => {
      const owner = seed.customers[15];
      await port.createContract(
        { customerId: owner.crmId, billingCustomerId: owner.billingId, items: [{ productCode: 'CONCORD-BASIC', quantity: 1 }], opportunityId: 'opp-some-other' },
        write('find-other'),
      );
      expect(await port.findContractForOpportunity(owner.billingId, 'opp-never-contracted')).toBeNull();
      // Another customer's contract for the opportunity is not this customer's.
      expect(await port.findContractForOpportunity(seed.customers[14].billingId, 'opp-some-other')).toBeNull();
    });

    test('findContractForOpportunity still finds a canceled contract', async () => {
      const owner = seed.customers[12];
      const opportunityId = `opp-canceled-${key('o')}`;
      const contract = await port.createContract(
        { customerId: owner.crmId, billingCustomerId: owner.billingId, items: [{ productCode: 'CONCORD-BASIC', quantity: 1 }], opportunityId },
        write('find-canceled'),
      );
      await port.cancelContract(contract.id, write('find-cancel'));
      expect(await port.findContractForOpportunity(owner.billingId, opportunityId)).toMatchObject({ id: contract.id, status: 'CANCELED', opportunityId });
    });

    test('unknown product codes and unknown ids are refused with stable codes', async () => {
      const owner = seed.customers[14];
      const invalid = await failure(
        port.createContract({ customerId: owner.crmId, billingCustomerId: owner.billingId, items: [{ productCode: 'NOPE', quantity: 1 }] }, write('bad')),
      );
      expect(invalid).toMatchObject({ code: 'VALIDATION_FAILED', system: 'BILLING', retryable: false });
      const missing = await failure(port.finalizeInvoice('in_doesnotexist', write('missing')));
      expect(missing).toMatchObject({ code: 'NOT_FOUND', system: 'BILLING', retryable: false });
    });

    test('vendor outages and rate limits become retryable ConcordErrors with system BILLING', async () => {
      const bare = harness.port({ retries: 0 });
      harness.faults({ rate: 1, kinds: ['503'] });
      const down = await failure(bare.getCustomersByCustomerId([seed.customers[0].crmId]));
      expect(down).toBeInstanceOf(ConcordError);
      expect(down).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'BILLING', retryable: true, status: 503 });
      expect(down.message).not.toMatch(/sk_test/);

      harness.faults({ rate: 1, kinds: ['429'] });
      const limited = await failure(bare.getInvoices([seed.invoices[0].id]));
      expect(limited).toMatchObject({ code: 'VENDOR_RATE_LIMITED', system: 'BILLING', retryable: true, status: 429 });
      expect(limited.toExtensions()).toMatchObject({ code: 'VENDOR_RATE_LIMITED', system: 'BILLING', retryable: true });

      harness.reset();
      await expect(bare.ping()).resolves.toBeUndefined();
    });

    test('with 30% of calls failing (500, reset) retried createContracts still make exactly one contract each', async () => {
      const owners = seed.customers.slice(16, 22);
      const bare = harness.port({ retries: 0 });
      const before = await Promise.all(owners.map((o) => harness.contractsOf(o.crmId)));
      harness.faults({ rate: 0.3, kinds: ['500', 'reset'], seed: 7 });
      const created: BillingContract[] = [];
      for (const owner of owners) {
        const options = write(`flaky-${owner.index}`);
        const input = { customerId: owner.crmId, billingCustomerId: owner.billingId, items: [{ productCode: 'CONCORD-ENT', quantity: 2 }] };
        // The orchestrator's policy: retry what is retryable, always with the same idempotency key.
        created.push(await withRetries(() => bare.createContract(input, options), { retries: 30, baseDelayMs: 1, maxDelayMs: 5 }));
      }
      const injected = harness.faultsInjected();
      harness.reset();
      expect(injected).toBeGreaterThan(0);
      const after = await Promise.all(owners.map((o) => harness.contractsOf(o.crmId)));
      expect(after).toEqual(before.map((n) => n + 1));
      const read = await port.getContracts(created.map((c) => c.id));
      expect(read.size).toBe(owners.length);
    });
  });
}

/** The Stripe adapter over the Stripe simulator. */
async function stripeHarness(): Promise<BillingHarness> {
  const seed = buildSeed();
  const sim: SimServer = await startStripeSimulator({ seed });
  const state = async () => (await (await fetch(`${sim.url}/__sim/state`)).json()) as { customers: any[]; subscriptions: any[] };
  return {
    seed,
    port: ({ retries } = {}) =>
      createStripeAdapter({ apiKey: 'sk_test_billing_contract', baseUrl: sim.url, taxRateId: STRIPE_TAX_RATE_ID, ...(retries === undefined ? {} : { readRetries: retries }) }),
    vendorRequests: async () => sim.stats().requests,
    contractsOf: async (customerId) => (await state()).subscriptions.filter((s) => s.metadata?.concord_customer_id === customerId).length,
    customersLinkedTo: async (customerId) => (await state()).customers.filter((c) => c.metadata?.concord_customer_id === customerId).length,
    faults: (config) => sim.setFaults(config),
    faultsInjected: () => Object.values(sim.stats().faults).reduce((sum, n) => sum + n, 0),
    reset: () => sim.reset(),
    close: () => sim.close(),
  };
}

billingPortContract('stripe (simulator)', stripeHarness);

/** The Chargebee adapter over the Chargebee simulator (the official SDK pointed at it). */
async function chargebeeHarness(): Promise<BillingHarness> {
  const seed = buildSeed();
  const sim: SimServer = await createChargebeeSimulator({ seed }).listen(0, '127.0.0.1');
  const state = async () => (await (await fetch(`${sim.url}/__sim/state`)).json()) as { customers: any[]; subscriptions: any[] };
  const settings = { site: 'concord-test', apiKey: 'test_billing_contract_key', baseUrl: sim.url };
  return {
    seed,
    port: ({ retries } = {}) => createChargebeeAdapter({ client: createChargebeeClient(settings), ...(retries === undefined ? {} : { readRetries: retries }) }),
    vendorRequests: async () => sim.stats().requests,
    contractsOf: async (customerId) => (await state()).subscriptions.filter((s) => s.meta_data?.concord_customer_id === customerId).length,
    customersLinkedTo: async (customerId) => (await state()).customers.filter((c) => c.cf_concord_customer_id === customerId).length,
    faults: (config) => sim.setFaults(config),
    faultsInjected: () => Object.values(sim.stats().faults).reduce((sum, n) => sum + n, 0),
    reset: () => sim.reset(),
    close: () => sim.close(),
    // A Chargebee invoice's id is its number, given when it is generated (closed).
    invoiceNumber: (invoice) => (invoice.number === null ? null : invoice.id),
  };
}

billingPortContract('chargebee (simulator)', chargebeeHarness);

describe('Stripe adapter specifics', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await startStripeSimulator({ seed: buildSeed({ customers: 5 }) });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.reset());

  test('reports every HTTP attempt to onCall, the ones the SDK retries included', async () => {
    const calls: VendorCall[] = [];
    const port = createStripeAdapter({ apiKey: 'sk_test_calls', baseUrl: sim.url, readRetries: 1, onCall: (c) => calls.push(c) });
    await port.getContracts(['sub_doesnotexist']);
    expect(calls).toEqual([expect.objectContaining({ system: 'BILLING', vendor: 'stripe', operation: 'subscriptions.retrieve', status: 404 })]);

    calls.length = 0;
    sim.reset();
    sim.setFaults({ rate: 1, kinds: ['503'] });
    await expect(port.getCustomersByCustomerId(['001Dn0000000001IAA'])).rejects.toMatchObject({ code: 'VENDOR_UNAVAILABLE' });
    // The search and the list of customers created within the search lag, each tried twice.
    expect(calls.map((c) => [c.operation, c.status]).sort()).toEqual([
      ['customers.list', 503],
      ['customers.list', 503],
      ['customers.search', 503],
      ['customers.search', 503],
    ]);
    expect(sim.stats().requests).toBe(4);
  });

  test('tax is the account\'s setting: the configured rate on new subscriptions, none without one', async () => {
    const seed = buildSeed({ customers: 5 });
    const owner = seed.customers[0];
    const input = { customerId: owner.crmId, billingCustomerId: owner.billingId, items: [{ productCode: 'CONCORD-PRO', quantity: 1 }] };
    const taxed = await createStripeAdapter({ apiKey: 'sk_test_tax', baseUrl: sim.url, taxRateId: STRIPE_TAX_RATE_ID }).createContract(input, { idempotencyKey: 'tax-on', correlationId: 'tax-on' });
    const untaxed = await createStripeAdapter({ apiKey: 'sk_test_tax', baseUrl: sim.url }).createContract(input, { idempotencyKey: 'tax-off', correlationId: 'tax-off' });
    const state = (await (await fetch(`${sim.url}/__sim/state`)).json()) as { subscriptions: { id: string; default_tax_rates: { id: string }[] }[] };
    const rates = (id: string) => state.subscriptions.find((s) => s.id === id)!.default_tax_rates.map((r) => r.id);
    expect(rates(taxed.id)).toEqual([STRIPE_TAX_RATE_ID]);
    expect(rates(untaxed.id)).toEqual([]);
  });

  test('a refused key is a non-retryable VENDOR_UNAVAILABLE that names no key', async () => {
    const port = createStripeAdapter({ apiKey: 'sk_live_definitely_not_accepted', baseUrl: sim.url });
    const refused = await failure(port.ping());
    expect(refused).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'BILLING', retryable: false, status: 401 });
    expect(refused.message).not.toMatch(/sk_live|accepted/);
  });
});
