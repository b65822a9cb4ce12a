/**
 * The ErpPort's reconciliation, customer-master and credit-memo methods, as a contract every ERP
 * adapter runs (`erpPortBulkContract` with a harness): keyset-paged reads (one vendor call per
 * 1000 rows), closed periods, case-insensitive duplicate search, tax registration on the customer
 * master, and credit memos keyed by the billing invoice id (a replay updates, never duplicates).
 * Run here for NetSuite over the NetSuite simulator and Business Central over its simulator.
 */
import { ConcordError } from '../../core/errors';
import { buildSeed, type Seed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { startNetSuiteSimulator } from '../../simulators/netsuite/server';
import { businessCentralSeed } from '../../simulators/businesscentral/seed';
import { startBusinessCentralSimulator } from '../../simulators/businesscentral/server';
import { createBusinessCentralAdapter } from '../../vendors/businesscentral/adapter';
import { toCode } from '../../vendors/businesscentral/mapping';
import { createNetSuiteAdapter } from '../../vendors/netsuite/adapter';
import type { ErpPort } from '../../subgraphs/erp/port';

/** The port, the seed its vendor started with, and the levers the bulk contract needs. */
export interface ErpBulkHarness {
  port: ErpPort;
  seed: Seed;
  vendorCalls(): number;
  resetCalls(): void;
  setClosedPeriods(periods: string[]): Promise<void>;
  /** Credit memos in the ledger for this billing invoice id. */
  countCreditMemos(invoiceId: string): Promise<number>;
  close(): Promise<void>;
}

const usd = (amount: string) => ({ amount, currency: 'USD' });

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConcordError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

async function control(sim: SimServer, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${sim.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return (await response.json()) as any;
}

export function erpPortBulkContract(name: string, makeHarness: () => Promise<ErpBulkHarness>): void {
describe(`ErpPort bulk reads, search and credit memos: ${name}`, () => {
  let h: ErpBulkHarness;
  let port: ErpPort;
  let seed: Seed;
  const control = {
    setClosedPeriods: (periods: string[]) => h.setClosedPeriods(periods),
  };

  beforeAll(async () => {
    h = await makeHarness();
    port = h.port;
    seed = h.seed;
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.resetCalls();
  });

  test('every customer and AR transaction in pages of 1000, one SuiteQL call per page', async () => {
    const customers = [];
    let after: string | null = null;
    do {
      const page = await port.listCustomers({ first: 100, after });
      customers.push(...page.items);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(customers.map((c) => c.customerId).sort()).toEqual(seed.customers.map((c) => c.crmId).sort());
    expect(customers[0]).toMatchObject({ email: seed.customers[0].email, taxRegistration: seed.customers[0].taxRegistration });
    expect(h.vendorCalls()).toBe(3);

    h.resetCalls();
    const transactions = [];
    after = null;
    do {
      const page = await port.listTransactions({ first: 1000, after });
      transactions.push(...page.items);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    const posted = seed.invoices.filter((i) => i.posting);
    expect(transactions).toHaveLength(posted.length);
    expect(h.vendorCalls()).toBe(Math.ceil(posted.length / 1000));
    const byInvoice = new Map(transactions.map((t) => [t.invoiceId, t]));
    for (const invoice of posted.slice(0, 100)) {
      expect(byInvoice.get(invoice.id)).toMatchObject({
        type: 'INVOICE',
        total: usd((invoice.total / 100).toFixed(2)),
        status: invoice.status === 'paid' ? 'PAID' : 'OPEN',
        period: invoice.posting!.period,
        customerInternalId: seed.customers[invoice.customerIndex].erpId,
      });
    }
    await expect(port.listTransactions({ first: 10, after: "1 OR 1=1" })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  test('closed periods, as /__sim/periods sets them', async () => {
    expect(await port.closedPeriods()).toEqual([]);
    await control.setClosedPeriods(['2026-09', '2026-08']);
    try {
      expect(await port.closedPeriods()).toEqual(['2026-08', '2026-09']);
    } finally {
      await control.setClosedPeriods([]);
    }
  });

  test('duplicate candidates by name (any case), tax registration or email domain, in one call', async () => {
    const target = seed.customers[7];
    const found = await port.findCustomerCandidates({ nameTokens: ['acme'], taxRegistration: target.taxRegistration.toLowerCase(), emailDomain: 'globex-corp.example.com' });
    expect(h.vendorCalls()).toBe(1);
    const names = found.map((c) => c.companyName);
    expect(names).toEqual(expect.arrayContaining(['Acme Corp', 'Acme Industries', 'Globex Corp', target.name]));
    expect(names.every((n) => /acme|globex/i.test(n) || n === target.name)).toBe(true);
    // Quotes never reach the query text.
    expect(await port.findCustomerCandidates({ nameTokens: ["x' OR '1'='1"], taxRegistration: null, emailDomain: null })).toEqual([]);
  });

  test('the customer master carries the tax registration', async () => {
    const profile = await port.upsertCustomer({ customerId: 'CM-TAX-1', companyName: 'Taxed Co', email: 'ap@taxed.example', taxRegistration: 'DE123456789' }, { correlationId: 'c' });
    expect(profile).toMatchObject({ customerId: 'CM-TAX-1', taxRegistration: 'DE123456789' });
    // Leaving it out leaves it as it is.
    expect((await port.upsertCustomer({ customerId: 'CM-TAX-1', companyName: 'Taxed Co' }, { correlationId: 'c' })).taxRegistration).toBe('DE123456789');
  });

  test('a credit memo is upserted by the billing invoice id: a replay updates it; it reads back as a credit; it can be reversed', async () => {
    const customer = seed.customers[2];
    const today = new Date().toISOString().slice(0, 10);
    const input = {
      invoiceId: 'in_credit_contract_1',
      customerId: customer.crmId,
      documentDate: today,
      lines: [{ description: 'Unused time on 7 × Additional seat', quantity: 7, amount: usd('87.50') }],
      tax: usd('7.00'),
      total: usd('94.50'),
    };
    const posted = await port.postCreditMemo(input, { correlationId: 'corr-cm' });
    expect(posted).toMatchObject({ invoiceId: input.invoiceId, status: 'POSTED', total: usd('94.50'), period: today.slice(0, 7) });
    await port.postCreditMemo(input, { correlationId: 'corr-cm' });
    expect(await h.countCreditMemos(input.invoiceId)).toBe(1);

    const all = [];
    let after: string | null = null;
    do {
      const page = await port.listTransactions({ first: 1000, after });
      all.push(...page.items);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(all.find((t) => t.invoiceId === input.invoiceId)).toMatchObject({ type: 'CREDIT_MEMO', total: usd('94.50'), customerInternalId: customer.erpId });
    // The credit lowers the customer's balance.
    const profile = (await port.getCustomerProfiles([customer.crmId])).get(customer.crmId)!;
    const owed = seed.invoices
      .filter((i) => i.customerIndex === customer.index && i.posting && (i.status === 'open' || i.status === 'uncollectible'))
      .reduce((sum, i) => sum + i.amountRemaining, 0);
    expect(profile.arBalance.amount).toBe(((owed - 9450) / 100).toFixed(2));

    await control.setClosedPeriods([today.slice(0, 7)]);
    try {
      expect(await rejection(port.postCreditMemo({ ...input, invoiceId: 'in_credit_contract_2' }, { correlationId: 'c' }))).toMatchObject({ code: 'PERIOD_CLOSED', retryable: false });
    } finally {
      await control.setClosedPeriods([]);
    }
    await port.reverseCreditMemo(input.invoiceId, { correlationId: 'c' });
    await port.reverseCreditMemo(input.invoiceId, { correlationId: 'c' });
    expect(await h.countCreditMemos(input.invoiceId)).toBe(0);
  });
});
}

erpPortBulkContract('netsuite (simulator)', async () => {
  const seed = buildSeed({ customers: 300 });
  const sim = await startNetSuiteSimulator({ seed });
  let calls = 0;
  const port = createNetSuiteAdapter({
    baseUrl: sim.url,
    accountId: 'TSTDRV1234567',
    consumerKey: 'ck',
    consumerSecret: 'cs',
    tokenId: 'tk',
    tokenSecret: 'ts',
    onCall: () => {
      calls += 1;
    },
  });
  return {
    port,
    seed,
    vendorCalls: () => calls,
    resetCalls: () => {
      calls = 0;
    },
    setClosedPeriods: async (closed) => {
      await control(sim, 'POST', '/__sim/periods', { closed });
    },
    countCreditMemos: async (id) => (await control(sim, 'GET', '/__sim/state')).creditMemo.filter((c: any) => c.externalId === id).length,
    close: () => sim.close(),
  };
});

erpPortBulkContract('businesscentral (simulator)', async () => {
  const seed = businessCentralSeed(buildSeed({ customers: 300 }));
  const sim = await startBusinessCentralSimulator({ seed, tenant: 'bulk-tenant' });
  let calls = 0;
  const port = createBusinessCentralAdapter({
    baseUrl: sim.url,
    tokenUrl: `${sim.url}/bulk-tenant/oauth2/v2.0/token`,
    tenant: 'bulk-tenant',
    environment: 'production',
    clientId: 'bulk-client',
    clientSecret: 'bulk-secret',
    onCall: (call) => {
      if (call.operation !== 'oauth.token') calls += 1;
    },
  });
  await port.ping();
  return {
    port,
    seed,
    vendorCalls: () => calls,
    resetCalls: () => {
      calls = 0;
    },
    setClosedPeriods: async (closed) => {
      await control(sim, 'POST', '/__sim/periods', { closed });
    },
    countCreditMemos: async (id) =>
      (await control(sim, 'GET', '/__sim/state')).salesCreditMemos.filter((c: any) => c.externalDocumentNumber === toCode(id, 35, 'id') && c.status !== 'Canceled').length,
    close: () => sim.close(),
  };
});
