/**
 * The ErpPort contract: what every ERP adapter must do, in canonical terms. `erpPortContract` runs
 * against a harness (the port plus a way to look at and disturb the vendor behind it); the NetSuite
 * adapter runs it here against the NetSuite simulator on port 0, the Business Central adapter
 * against the Business Central simulator. Another ERP adapter adds one `erpPortContract(...)` call
 * with its own harness.
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';
import { fromMinorUnits } from '../../core/money';
import type { SimServer } from '../../simulators/common/sim-server';
import { buildSeed, type Seed } from '../../simulators/common/seed';
import { startNetSuiteSimulator } from '../../simulators/netsuite/server';
import { createNetSuiteAdapter } from '../../vendors/netsuite/adapter';
import { businessCentralSeed } from '../../simulators/businesscentral/seed';
import { startBusinessCentralSimulator } from '../../simulators/businesscentral/server';
import { createBusinessCentralAdapter } from '../../vendors/businesscentral/adapter';
import { toCode } from '../../vendors/businesscentral/mapping';
import type { ErpPort } from '../../subgraphs/erp/port';

/** The port under test and the levers a contract needs on the vendor behind it. */
export interface ErpPortHarness {
  port: ErpPort;
  /** The seed the vendor was started with. */
  seed: Seed;
  /** Vendor calls the port made since the last `resetCalls()`. */
  vendorCalls(): number;
  resetCalls(): void;
  /** ERP invoices held for this billing invoice id / customers for this canonical id. */
  countInvoices(invoiceId: string): Promise<number>;
  countCustomers(customerId: string): Promise<number>;
  /** Replace the set of closed accounting periods (YYYY-MM). */
  setClosedPeriods(periods: string[]): Promise<void>;
  /**
   * Make every vendor call fail as `kind`, or stop failing (null). 'reset' drops the connection,
   * sometimes after the call took effect (an uncertain outcome).
   */
  failAll(kind: '429' | '503' | 'reset' | null): Promise<void>;
  close(): Promise<void>;
}

const usd = (amount: string) => ({ amount, currency: 'USD' });

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error('expected the call to fail');
}

export function erpPortContract(name: string, makeHarness: () => Promise<ErpPortHarness>): void {
  describe(`ErpPort contract: ${name}`, () => {
    let h: ErpPortHarness;
    const correlation = { correlationId: 'corr-contract-1' };

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(() => h.close());

    test('profiles for every seed customer in one vendor call, matching the seed', async () => {
      const { customers, invoices } = h.seed;
      h.resetCalls();
      const profiles = await h.port.getCustomerProfiles([...customers.map((c) => c.crmId), 'NO-SUCH-CUSTOMER', "bad'id"]);
      expect(h.vendorCalls()).toBe(1);
      expect(profiles.size).toBe(customers.length);
      for (const c of customers) {
        const owed = invoices
          .filter((i) => i.customerIndex === c.index && i.posting && (i.status === 'open' || i.status === 'uncollectible'))
          .reduce((sum, i) => sum + i.amountRemaining, 0);
        expect(profiles.get(c.crmId)).toEqual({
          internalId: c.erpId,
          customerId: c.crmId,
          customerNumber: c.customerNumber,
          companyName: c.name,
          creditLimit: usd(`${c.creditLimit}.00`),
          creditHold: c.creditHold,
          taxRegistration: c.taxRegistration,
          arBalance: fromMinorUnits(owed, 'usd'),
        });
      }
      expect(customers.some((c) => c.creditHold)).toBe(true);
    });

    test('postings for every seed invoice in one or two calls; absent ones NOT_POSTED', async () => {
      const { invoices } = h.seed;
      h.resetCalls();
      const postings = await h.port.getPostings([...invoices.map((i) => i.id), 'in_NotInTheErp']);
      expect(h.vendorCalls()).toBeLessThanOrEqual(2);
      expect(postings.size).toBe(invoices.length + 1);
      expect(postings.get('in_NotInTheErp')).toMatchObject({ status: 'NOT_POSTED', internalId: null });
      for (const i of invoices) {
        const posting = postings.get(i.id)!;
        if (!i.posting) {
          expect(posting).toMatchObject({ invoiceId: i.id, status: 'NOT_POSTED', documentNumber: null });
          continue;
        }
        expect(posting).toEqual({
          invoiceId: i.id,
          status: 'POSTED',
          internalId: i.posting.erpId,
          documentNumber: i.posting.tranId,
          period: i.posting.period,
          postedAt: `${i.posting.postedAt.slice(0, 10)}T00:00:00.000Z`,
          total: fromMinorUnits(i.total, 'usd'),
          error: null,
        });
      }
      expect(invoices.some((i) => !i.posting)).toBe(true);
    });

    test('upsertCustomer twice -> one ERP customer, updated', async () => {
      const first = await h.port.upsertCustomer({ customerId: 'CONTRACT-CUST-1', companyName: 'Contract Co', email: 'ap@contract.example' }, correlation);
      const second = await h.port.upsertCustomer({ customerId: 'CONTRACT-CUST-1', companyName: 'Contract Co Renamed' }, correlation);
      expect(second.internalId).toBe(first.internalId);
      expect(second).toMatchObject({ customerId: 'CONTRACT-CUST-1', companyName: 'Contract Co Renamed', creditHold: false, arBalance: usd('0.00') });
      expect(await h.countCustomers('CONTRACT-CUST-1')).toBe(1);
      expect((await h.port.getCustomerProfiles(['CONTRACT-CUST-1'])).get('CONTRACT-CUST-1')?.companyName).toBe('Contract Co Renamed');
      await expect(h.port.upsertCustomer({ customerId: "x' OR '1'='1", companyName: 'Injected' }, correlation)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });

    const invoice = (invoiceId: string, documentDate: string) => ({
      invoiceId,
      customerId: h.seed.customers[0].crmId,
      documentDate,
      lines: [
        { description: '1 × Concord Pro plan', quantity: 1, amount: usd('1200.00') },
        { description: '10 × Additional seat', quantity: 10, amount: usd('250.00') },
      ],
      tax: usd('116.00'),
      total: usd('1566.00'),
    });

    test('postInvoice twice -> one ERP invoice (external-id idempotency), same amounts', async () => {
      const first = await h.port.postInvoice(invoice('in_ContractPost1', '2026-12-02'), correlation);
      expect(first).toMatchObject({ invoiceId: 'in_ContractPost1', status: 'POSTED', period: '2026-12', total: usd('1566.00'), error: null });
      expect(first.internalId).toBeTruthy();
      expect(first.documentNumber).toBeTruthy();
      const replay = await h.port.postInvoice(invoice('in_ContractPost1', '2026-12-02'), correlation);
      expect(replay).toEqual(first);
      expect(await h.countInvoices('in_ContractPost1')).toBe(1);
      expect((await h.port.getPostings(['in_ContractPost1'])).get('in_ContractPost1')).toMatchObject({ status: 'POSTED', internalId: first.internalId });
    });

    test('postInvoice in a closed period -> PERIOD_CLOSED, not retryable, nothing written; reopened -> posted', async () => {
      await h.setClosedPeriods(['2027-01']);
      const error = await rejection(h.port.postInvoice(invoice('in_ContractClosed1', '2027-01-05'), correlation));
      expect(error).toMatchObject({ code: 'PERIOD_CLOSED', system: 'ERP', retryable: false });
      expect(await h.countInvoices('in_ContractClosed1')).toBe(0);

      await h.setClosedPeriods([]);
      expect(await h.port.postInvoice(invoice('in_ContractClosed1', '2027-01-05'), correlation)).toMatchObject({ status: 'POSTED', period: '2027-01' });
    });

    test('replaying a posting after its period closed returns the posting; a changed one is PERIOD_CLOSED', async () => {
      const posted = await h.port.postInvoice(invoice('in_ContractLate1', '2027-02-03'), correlation);
      await h.setClosedPeriods(['2027-02']);
      try {
        expect(await h.port.postInvoice(invoice('in_ContractLate1', '2027-02-03'), correlation)).toEqual(posted);
        const changed = { ...invoice('in_ContractLate1', '2027-02-03'), tax: usd('0.00'), total: usd('1450.00') };
        expect(await rejection(h.port.postInvoice(changed, correlation))).toMatchObject({ code: 'PERIOD_CLOSED' });
      } finally {
        await h.setClosedPeriods([]);
      }
    });

    test('reverseInvoice removes a posting: NOT_POSTED afterwards and no ERP invoice left', async () => {
      await h.port.postInvoice(invoice('in_ContractReverse1', '2026-12-09'), correlation);
      expect(await h.countInvoices('in_ContractReverse1')).toBe(1);
      await expect(h.port.reverseInvoice('in_ContractReverse1', correlation)).resolves.toBeUndefined();
      expect((await h.port.getPostings(['in_ContractReverse1'])).get('in_ContractReverse1')).toMatchObject({ status: 'NOT_POSTED', internalId: null });
      expect(await h.countInvoices('in_ContractReverse1')).toBe(0);
    });

    test('reverseInvoice twice, or of an invoice never posted, is done without error', async () => {
      await h.port.postInvoice(invoice('in_ContractReverse2', '2026-12-10'), correlation);
      await h.port.reverseInvoice('in_ContractReverse2', correlation);
      await expect(h.port.reverseInvoice('in_ContractReverse2', correlation)).resolves.toBeUndefined();
      await expect(h.port.reverseInvoice('in_NeverPostedAnywhere', correlation)).resolves.toBeUndefined();
      expect(await h.countInvoices('in_ContractReverse2')).toBe(0);
    });

    test('reverseInvoice in a closed period -> PERIOD_CLOSED, not retryable, the invoice stays', async () => {
      await h.port.postInvoice(invoice('in_ContractReverseClosed', '2027-03-04'), correlation);
      await h.setClosedPeriods(['2027-03']);
      try {
        const error = await rejection(h.port.reverseInvoice('in_ContractReverseClosed', correlation));
        expect(error).toMatchObject({ code: 'PERIOD_CLOSED', system: 'ERP', retryable: false });
        expect(await h.countInvoices('in_ContractReverseClosed')).toBe(1);
        expect((await h.port.getPostings(['in_ContractReverseClosed'])).get('in_ContractReverseClosed')).toMatchObject({ status: 'POSTED', period: '2027-03' });
      } finally {
        await h.setClosedPeriods([]);
      }
    });

    test('a reversal whose answer is lost is an uncertain outcome; reversing again ends with no invoice', async () => {
      await h.port.postInvoice(invoice('in_ContractReverseReset', '2026-12-11'), correlation);
      await h.failAll('reset');
      try {
        const error = await rejection(h.port.reverseInvoice('in_ContractReverseReset', correlation));
        expect(error).toBeInstanceOf(UncertainOutcomeError);
        expect(error).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'ERP', retryable: true });
      } finally {
        await h.failAll(null);
      }
      await expect(h.port.reverseInvoice('in_ContractReverseReset', correlation)).resolves.toBeUndefined();
      expect(await h.countInvoices('in_ContractReverseReset')).toBe(0);
    });

    test('setCreditHold round trip', async () => {
      const customer = h.seed.customers.find((c) => !c.creditHold)!;
      expect(await h.port.setCreditHold(customer.crmId, true, correlation)).toMatchObject({ customerId: customer.crmId, creditHold: true });
      expect((await h.port.getCustomerProfiles([customer.crmId])).get(customer.crmId)?.creditHold).toBe(true);
      expect(await h.port.setCreditHold(customer.crmId, false, correlation)).toMatchObject({ creditHold: false });
      expect((await h.port.getCustomerProfiles([customer.crmId])).get(customer.crmId)?.creditHold).toBe(false);
      expect(await rejection(h.port.setCreditHold('NO-SUCH-CUSTOMER', true, correlation))).toMatchObject({ code: 'NOT_FOUND', system: 'ERP' });
    });

    test('vendor 503 -> VENDOR_UNAVAILABLE, system ERP, retryable (reads and writes)', async () => {
      await h.failAll('503');
      try {
        const read = await rejection(h.port.getCustomerProfiles([h.seed.customers[0].crmId]));
        expect(read).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'ERP', retryable: true, status: 503 });
        const write = await rejection(h.port.upsertCustomer({ customerId: 'CONTRACT-CUST-503', companyName: 'x' }, correlation));
        expect(write).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'ERP', retryable: true });
        await expect(h.port.ping()).rejects.toMatchObject({ code: 'VENDOR_UNAVAILABLE' });
      } finally {
        await h.failAll(null);
      }
      await expect(h.port.ping()).resolves.toBeUndefined();
    });

    test('a write whose answer is lost is an uncertain outcome; sending it again leaves one record', async () => {
      await h.failAll('reset');
      try {
        const error = await rejection(h.port.upsertCustomer({ customerId: 'CONTRACT-CUST-RESET', companyName: 'Reset Co' }, correlation));
        expect(error).toBeInstanceOf(UncertainOutcomeError);
        expect(error).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'ERP', retryable: true });
      } finally {
        await h.failAll(null);
      }
      expect(await h.port.upsertCustomer({ customerId: 'CONTRACT-CUST-RESET', companyName: 'Reset Co' }, correlation)).toMatchObject({ companyName: 'Reset Co' });
      expect(await h.countCustomers('CONTRACT-CUST-RESET')).toBe(1);
    });

    test('vendor 429 -> VENDOR_RATE_LIMITED, retryable', async () => {
      await h.failAll('429');
      try {
        const error = await rejection(h.port.getPostings([h.seed.invoices[0].id]));
        expect(error).toMatchObject({ code: 'VENDOR_RATE_LIMITED', system: 'ERP', retryable: true });
        expect(error.message).not.toMatch(/o:errorDetails|secret/i);
      } finally {
        await h.failAll(null);
      }
    });
  });
}

erpPortContract('NetSuite adapter over the NetSuite simulator', async () => {
  const seed = buildSeed();
  const credentials = { consumerKey: 'contract-ck', consumerSecret: 'contract-cs', tokenId: 'contract-tk', tokenSecret: 'contract-ts' };
  const sim: SimServer = await startNetSuiteSimulator({ seed, credentials });
  let calls = 0;
  const port = createNetSuiteAdapter({
    baseUrl: sim.url,
    accountId: 'TSTDRV1234567',
    ...credentials,
    timeoutMs: 5000,
    onCall: () => {
      calls += 1;
    },
  });
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${sim.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
    return (await response.json()) as Record<string, { externalId?: string }[]>;
  };
  return {
    port,
    seed,
    vendorCalls: () => calls,
    resetCalls: () => {
      calls = 0;
    },
    countInvoices: async (id) => (await control('GET', '/__sim/state')).invoice.filter((r) => r.externalId === id).length,
    countCustomers: async (id) => (await control('GET', '/__sim/state')).customer.filter((r) => r.externalId === id).length,
    setClosedPeriods: async (periods) => {
      await control('POST', '/__sim/periods', { closed: periods });
    },
    failAll: async (kind) => {
      await control('POST', '/__sim/faults', kind ? { rate: 1, kinds: [kind] } : { rate: 0, kinds: [] });
    },
    close: () => sim.close(),
  };
});

erpPortContract('Business Central adapter over the Business Central simulator', async () => {
  // The seed as Business Central holds it: GUID ids, the canonical id as the customer number.
  const seed = businessCentralSeed(buildSeed());
  const credentials = { clientId: 'contract-client', clientSecret: 'contract-secret' };
  const sim: SimServer = await startBusinessCentralSimulator({ seed, tenant: 'contract-tenant', environment: 'production', ...credentials });
  let calls = 0;
  const port = createBusinessCentralAdapter({
    baseUrl: sim.url,
    tokenUrl: `${sim.url}/contract-tenant/oauth2/v2.0/token`,
    tenant: 'contract-tenant',
    environment: 'production',
    ...credentials,
    timeoutMs: 5000,
    onCall: (call) => {
      // The token endpoint is Entra ID's, not Business Central's.
      if (call.operation !== 'oauth.token') calls += 1;
    },
  });
  await port.ping(); // the token and the company, once
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${sim.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
    return (await response.json()) as Record<string, { externalDocumentNumber?: string; number?: string; status?: string }[]>;
  };
  // A document still in the ledger (a draft or posted one; a canceled one is not).
  const held = (status: string | undefined) => status !== 'Canceled';
  return {
    port,
    seed,
    vendorCalls: () => calls,
    resetCalls: () => {
      calls = 0;
    },
    countInvoices: async (id) => (await control('GET', '/__sim/state')).salesInvoices.filter((r) => r.externalDocumentNumber === toCode(id, 35, 'id') && held(r.status)).length,
    countCustomers: async (id) => (await control('GET', '/__sim/state')).customers.filter((r) => r.number === id.toUpperCase()).length,
    setClosedPeriods: async (periods) => {
      await control('POST', '/__sim/periods', { closed: periods });
    },
    failAll: async (kind) => {
      await control('POST', '/__sim/faults', kind ? { rate: 1, kinds: [kind] } : { rate: 0, kinds: [] });
    },
    close: () => sim.close(),
  };
});
