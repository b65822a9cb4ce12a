/**
 * The CrmPort contract, run against every CRM adapter over its vendor simulator (STYLE.md 2):
 * paging, batched reads in one vendor call, write-backs, and the error contract under faults and
 * API limits. Expected values come from the shared seed, so another CRM adapter can run the same
 * suite by adding a fixture at the bottom. Salesforce-only behaviour follows the contract; HubSpot
 * runs the same suite (its simulator, the @hubspot/api-client adapter).
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';
import type { VendorCall, VendorCallListener } from '../../core/vendor-call';
import { buildSeed, salesforceId } from '../../simulators/common/seed';
import type { FaultConfig } from '../../simulators/common/sim-server';
import type { CrmPort } from '../../subgraphs/crm/port';
import { createSalesforceAdapter } from '../../vendors/salesforce/adapter';
import { soqlString } from '../../vendors/salesforce/mapping';
import { hubspotSeed } from '../../simulators/hubspot/seed';
import { createHubSpotSimulator } from '../../simulators/hubspot/server';
import { createHubSpotAdapter } from '../../vendors/hubspot/adapter';
import { TOKEN, connect, simControl, simStats, startSim } from './helpers-salesforce';

const seed = buildSeed();

interface PortOptions {
  retries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  requestTimeoutMs?: number;
  onCall?: VendorCallListener;
}

/** One CRM adapter over its simulator holding `buildSeed()`. */
interface CrmPortFixture {
  /** The vendor's id of each seed customer's account, by seed index. */
  accountIds: string[];
  /** The vendor's id of each seed opportunity, by seed index. */
  opportunityIds: string[];
  /** An id of the vendor's form that no record has. */
  missingId: string;
  /**
   * Vendor calls of the batched reads, as few as the vendor allows: Salesforce joins a relation in
   * one SOQL query; HubSpot reads the associations (v4 batch) and then the records (v3 batch).
   */
  calls: { opportunitiesByAccount: number; opportunitiesAndLines: number };
  makePort(options?: PortOptions): CrmPort;
  /** Requests the simulator received since the last reset (GET /__sim/stats). */
  vendorRequests(): Promise<number>;
  /** Faults the simulator injected since the last reset. */
  faultsInjected(): Promise<number>;
  reset(): Promise<void>;
  setFaults(faults: Partial<FaultConfig>): Promise<void>;
  close(): Promise<void>;
}

type StartFixture = (options?: { apiLimit?: number }) => Promise<CrmPortFixture>;

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  const outcome = await promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof ConcordError)) throw outcome;
  return outcome;
}

const usd = (cents: number) => ({ amount: (cents / 100).toFixed(2), currency: 'USD' });

function crmPortContract(name: string, start: StartFixture): void {
  describe(`CrmPort contract: ${name}`, () => {
    let fx: CrmPortFixture;
    let port: CrmPort;

    beforeAll(async () => {
      fx = await start();
      port = fx.makePort({ baseDelayMs: 1, maxDelayMs: 5 });
    });
    afterAll(() => fx.close());
    beforeEach(() => fx.reset());

    it('lists every account in id order across pages, one vendor call per page', async () => {
      const pages = [];
      let after: string | null = null;
      do {
        const page = await port.listAccounts({ first: 20, after });
        pages.push(page);
        after = page.hasNextPage ? page.endCursor : null;
        expect(page.endCursor).toBe(page.items.at(-1)?.id ?? null);
      } while (after);
      expect(pages.map((p) => p.items.length)).toEqual([20, 20, 10]);
      expect(await fx.vendorRequests()).toBe(3);
      const ids = pages.flatMap((p) => p.items.map((a) => a.id));
      expect(ids).toEqual([...fx.accountIds].sort());

      const accounts = new Map(pages.flatMap((p) => p.items).map((a) => [a.id, a]));
      const child = seed.customers[5];
      expect(accounts.get(fx.accountIds[5])).toEqual({
        id: fx.accountIds[5],
        name: child.name,
        domain: child.domain,
        parentId: fx.accountIds[child.parentIndex!],
        billingCustomerId: child.billingId,
        erpCustomerId: child.erpId,
        status: 'Active',
      });
      const held = seed.customers.find((c) => c.creditHold)!;
      expect(accounts.get(fx.accountIds[held.index])?.status).toBe('Credit Hold');
      expect(accounts.get(fx.accountIds[0])?.parentId).toBeNull();
    });

    it('reads 50 accounts in one vendor call and leaves out unknown ids', async () => {
      const accounts = await port.getAccounts([...fx.accountIds, fx.missingId]);
      expect(await fx.vendorRequests()).toBe(1);
      expect(accounts.size).toBe(50);
      expect(accounts.has(fx.missingId)).toBe(false);
      expect(accounts.get(fx.accountIds[7])?.name).toBe(seed.customers[7].name);
    });

    it("reads every account's opportunities in a fixed number of vendor calls (one for Salesforce)", async () => {
      const byAccount = await port.getOpportunitiesByAccount([...fx.accountIds, fx.missingId]);
      expect(await fx.vendorRequests()).toBe(fx.calls.opportunitiesByAccount);
      expect(byAccount.get(fx.missingId)).toEqual([]);
      for (const customer of seed.customers) {
        const expected = seed.opportunities.filter((o) => o.customerIndex === customer.index).map((o) => fx.opportunityIds[o.index]);
        expect(byAccount.get(fx.accountIds[customer.index])!.map((o) => o.id).sort()).toEqual(expected.sort());
      }
      const billed = seed.opportunities.find((o) => o.invoiceId && o.customerIndex === 1)!;
      const invoice = seed.invoices.find((i) => i.id === billed.invoiceId)!;
      const opportunity = byAccount.get(fx.accountIds[1])!.find((o) => o.id === fx.opportunityIds[billed.index]);
      expect(opportunity).toEqual({
        id: fx.opportunityIds[billed.index],
        accountId: fx.accountIds[1],
        name: billed.name,
        stage: 'Closed Won',
        isWon: true,
        isClosed: true,
        amount: usd(billed.amount),
        closeDate: billed.closeDate,
        billingSubscriptionId: billed.contractId,
        billingInvoiceId: billed.invoiceId,
        erpInvoiceId: invoice.posting!.erpId,
        orderStatus: 'Completed',
      });
    });

    it('reads opportunities and their line items in a fixed number of vendor calls (one each for Salesforce)', async () => {
      const opportunities = await port.getOpportunities(fx.opportunityIds);
      expect(opportunities.size).toBe(seed.opportunities.length);
      const lost = seed.opportunities.find((o) => o.stage === 'Closed Lost')!;
      expect(opportunities.get(fx.opportunityIds[lost.index])).toMatchObject({ isWon: false, isClosed: true, orderStatus: null });
      const lines = await port.getOpportunityLines([...fx.opportunityIds, fx.missingId]);
      expect(await fx.vendorRequests()).toBe(fx.calls.opportunitiesAndLines);
      expect(lines.get(fx.missingId)).toEqual([]);
      for (const opp of seed.opportunities) {
        const got = lines.get(fx.opportunityIds[opp.index])!.map((l) => [l.productCode, l.quantity, l.unitPrice, l.totalPrice]);
        const want = opp.lines.map((l) => [l.productCode, l.quantity, usd(l.unitPrice), usd(l.quantity * l.unitPrice)]);
        expect(got.sort()).toEqual(want.sort());
      }
    });

    it('writes order-to-cash results back to an opportunity, leaving other fields alone', async () => {
      const ready = seed.opportunities.find((o) => o.isWon && !o.contractId)!;
      const id = fx.opportunityIds[ready.index];
      const fields = { billingSubscriptionId: 'sub_written', billingInvoiceId: 'in_written', erpInvoiceId: '8001', orderStatus: 'Posted', correlationId: 'corr-1' };
      await port.updateOpportunity(id, fields);
      await port.updateOpportunity(id, fields); // idempotent: same fields, same result
      await port.updateOpportunity(id, { orderStatus: 'Completed' });
      const read = (await port.getOpportunities([id])).get(id);
      expect(read).toMatchObject({
        name: ready.name,
        stage: 'Closed Won',
        billingSubscriptionId: 'sub_written',
        billingInvoiceId: 'in_written',
        erpInvoiceId: '8001',
        orderStatus: 'Completed',
      });
    });

    it('writes links and status back to an account', async () => {
      const id = fx.accountIds[11];
      await port.updateAccount(id, { status: 'Credit Hold', correlationId: 'corr-2' });
      const read = (await port.getAccounts([id])).get(id);
      expect(read).toMatchObject({ status: 'Credit Hold', billingCustomerId: seed.customers[11].billingId });
      const missing = await rejection(port.updateAccount(fx.missingId, { status: 'Active' }));
      expect(missing).toMatchObject({ code: 'NOT_FOUND', system: 'CRM', retryable: false });
    });

    it('rejects malformed ids as BAD_USER_INPUT without calling the vendor', async () => {
      const attempts = [
        port.getAccounts(['not an id!']),
        port.getOpportunityLines(["006' OR Name != '"]),
        port.listAccounts({ first: 5, after: "x' OR Id != '" }),
        port.updateOpportunity('nope', { orderStatus: 'Completed' }),
      ];
      for (const attempt of attempts) expect((await rejection(attempt)).code).toBe('BAD_USER_INPUT');
      expect(await fx.vendorRequests()).toBe(0);
    });

    it('retries an unavailable vendor, then fails as VENDOR_UNAVAILABLE for CRM, retryable', async () => {
      await fx.setFaults({ rate: 1, kinds: ['503'] });
      const error = await rejection(port.getAccounts(fx.accountIds));
      expect(error).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'CRM', retryable: true });
      expect(await fx.vendorRequests()).toBe(3); // the first attempt and 2 retries
      const ping = await rejection(port.ping());
      expect(ping.code).toBe('VENDOR_UNAVAILABLE');
      await fx.reset();
      await expect(port.ping()).resolves.toBeUndefined();
    });

    it('still returns correct results when half the requests fail transiently', async () => {
      await fx.setFaults({ rate: 0.5, kinds: ['503', '500', 'reset'], seed: 7 });
      const patient = fx.makePort({ retries: 8, baseDelayMs: 1, maxDelayMs: 5 });
      const ids: string[] = [];
      let after: string | null = null;
      do {
        const page = await patient.listAccounts({ first: 20, after });
        ids.push(...page.items.map((a) => a.id));
        after = page.hasNextPage ? page.endCursor : null;
      } while (after);
      expect(ids).toEqual([...fx.accountIds].sort());
      const byAccount = await patient.getOpportunitiesByAccount(fx.accountIds);
      expect([...byAccount.values()].flat()).toHaveLength(seed.opportunities.length);
      expect(await fx.faultsInjected()).toBeGreaterThan(0);
    });

    it.each(['timeout', 'reset'] as const)('reports a %s on a read as VENDOR_UNAVAILABLE and on a write as an uncertain outcome', async (kind) => {
      await fx.setFaults({ rate: 1, kinds: [kind], timeoutMs: 400, applyBeforeFail: 0 });
      const hasty = fx.makePort({ retries: 0, requestTimeoutMs: 100 });
      expect(await rejection(hasty.getAccounts([fx.accountIds[0]]))).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'CRM', retryable: true });
      const write = await rejection(hasty.updateOpportunity(fx.opportunityIds[0], { orderStatus: 'Completed' }));
      expect(write).toBeInstanceOf(UncertainOutcomeError);
      expect(write).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'CRM', retryable: true });
    });

    it('reports a write that failed with a server error as an uncertain outcome (it may have applied)', async () => {
      await fx.setFaults({ rate: 1, kinds: ['500'], applyBeforeFail: 1 });
      const once = fx.makePort({ retries: 0 });
      const id = fx.opportunityIds[1];
      expect(await rejection(once.updateOpportunity(id, { erpInvoiceId: 'applied-anyway' }))).toBeInstanceOf(UncertainOutcomeError);
      await fx.reset();
      expect((await port.getOpportunities([id])).get(id)?.erpInvoiceId).toBe('applied-anyway');
    });

    it('reports every vendor call it makes', async () => {
      const calls: VendorCall[] = [];
      const observed = fx.makePort({ onCall: (call) => calls.push(call) });
      await observed.getAccounts(fx.accountIds.slice(0, 3));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ system: 'CRM', vendor: observed.vendor, status: 200 });
      expect(calls[0].durationMs).toBeGreaterThanOrEqual(0);
    });

    describe('under the daily API limit', () => {
      it('turns the limit into VENDOR_RATE_LIMITED, retryable', async () => {
        const limited = await start({ apiLimit: 2 });
        try {
          const p = limited.makePort({ baseDelayMs: 1 });
          await p.getAccounts([limited.accountIds[0]]);
          await p.getAccounts([limited.accountIds[1]]);
          const error = await rejection(p.getAccounts([limited.accountIds[2]]));
          expect(error).toMatchObject({ code: 'VENDOR_RATE_LIMITED', system: 'CRM', retryable: true });
          expect(await limited.vendorRequests()).toBe(3); // no retries into an exhausted budget
        } finally {
          await limited.close();
        }
      });

      it('stops retrying failed reads when 95% of the budget is used', async () => {
        const limited = await start({ apiLimit: 40 });
        try {
          const p = limited.makePort({ baseDelayMs: 1 });
          for (let i = 0; i < 38; i++) await p.getAccounts([limited.accountIds[i % 50]]);
          await limited.setFaults({ rate: 1, kinds: ['503'] });
          const before = await limited.vendorRequests();
          const error = await rejection(p.getAccounts([limited.accountIds[0]]));
          expect(error).toMatchObject({ code: 'VENDOR_RATE_LIMITED', system: 'CRM', retryable: true });
          expect((await limited.vendorRequests()) - before).toBe(1);
        } finally {
          await limited.close();
        }
      });
    });
  });
}

const startSalesforce: StartFixture = async ({ apiLimit } = {}) => {
  const sim = await startSim({ apiLimit });
  return {
    accountIds: seed.customers.map((c) => c.crmId),
    opportunityIds: seed.opportunities.map((o) => o.crmId),
    missingId: salesforceId('001', 999_999),
    calls: { opportunitiesByAccount: 1, opportunitiesAndLines: 2 },
    makePort: (options = {}) => createSalesforceAdapter({ instanceUrl: sim.url, accessToken: TOKEN, ...options }),
    vendorRequests: async () => (await simStats(sim.url)).requests,
    faultsInjected: async () => Object.values((await simStats(sim.url)).faults).reduce((a, b) => a + b, 0),
    reset: async () => void (await simControl(sim.url, 'reset')),
    setFaults: async (faults) => void (await simControl(sim.url, 'faults', faults)),
    close: () => sim.close(),
  };
};

crmPortContract('salesforce', startSalesforce);

const HUBSPOT_TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555';

const startHubSpot: StartFixture = async ({ apiLimit } = {}) => {
  const hs = hubspotSeed(seed);
  // The burst limits are the governor's business (test/integration/hubspot.test.ts); here the daily one only.
  const sim = await createHubSpotSimulator({ seed: hs, requestsPerTenSeconds: null, searchPerSecond: null, dailyLimit: apiLimit ?? null }).listen(0, '127.0.0.1');
  return {
    accountIds: hs.customers.map((c) => c.crmId),
    opportunityIds: hs.opportunities.map((o) => o.crmId),
    missingId: '3199999999',
    // Deals by company: associations (up to 1000 ids a call), then the deals (100 a batch read).
    // Deals with their company: both at once; lines: associations, then the line items (100 a batch).
    calls: {
      opportunitiesByAccount: 1 + Math.ceil(hs.opportunities.length / 100),
      opportunitiesAndLines: 1 + Math.ceil(hs.opportunities.length / 100) + 1 + Math.ceil(hs.opportunities.flatMap((o) => o.lines).length / 100),
    },
    makePort: (options = {}) => createHubSpotAdapter({ baseUrl: sim.url, accessToken: HUBSPOT_TOKEN, ...options }),
    vendorRequests: async () => (await simStats(sim.url)).requests,
    faultsInjected: async () => Object.values((await simStats(sim.url)).faults).reduce((a, b) => a + b, 0),
    reset: async () => void (await simControl(sim.url, 'reset')),
    setFaults: async (faults) => void (await simControl(sim.url, 'faults', faults)),
    close: () => sim.close(),
  };
};

crmPortContract('hubspot', startHubSpot);

describe('Salesforce adapter specifics', () => {
  it('splits more than 200 ids into one SOQL IN query per 200', async () => {
    const sim = await startSim();
    try {
      const port = createSalesforceAdapter({ instanceUrl: sim.url, accessToken: TOKEN });
      const unknown = Array.from({ length: 200 }, (_, i) => salesforceId('001', 10_000 + i));
      const accounts = await port.getAccounts([...seed.customers.map((c) => c.crmId), ...unknown]);
      expect(accounts.size).toBe(50);
      expect((await simStats(sim.url)).byRoute['GET /services/data/v62.0/query']).toBe(2);
    } finally {
      await sim.close();
    }
  });

  it('follows nextRecordsUrl pages and keys results by the ids as given (15 or 18 characters)', async () => {
    const sim = await startSim({ pageSize: 7 });
    try {
      const calls: VendorCall[] = [];
      const port = createSalesforceAdapter({ instanceUrl: sim.url, accessToken: TOKEN, onCall: (c) => calls.push(c) });
      const page = await port.listAccounts({ first: 50 });
      expect(page.items).toHaveLength(50);
      expect(page.hasNextPage).toBe(false);
      expect((await simStats(sim.url)).byRoute['GET /services/data/v62.0/query/:locator']).toBe(7);
      expect(calls.at(-1)).toMatchObject({ operation: 'query.Account.more', limit: { used: 8, max: 15_000 } });

      const id18 = seed.customers[4].crmId;
      const id15 = id18.slice(0, 15);
      const accounts = await port.getAccounts([id15, id18.toLowerCase()]);
      expect(accounts.get(id15)?.id).toBe(id18);
      expect(accounts.get(id18.toLowerCase())?.id).toBe(id18); // 18-character ids are case-insensitive
    } finally {
      await sim.close();
    }
  });

  it('escapes SOQL literals and maps Website to a bare domain', async () => {
    expect(soqlString("O'Brien \\ Co")).toBe("'O\\'Brien \\\\ Co'");
    const sim = await startSim();
    try {
      const { id } = await connect(sim).sobject('Account').create({ Name: "O'Brien \\ Co", Website: 'https://www.Example.org/about' });
      const found = await connect(sim).query<any>(`SELECT Id FROM Account WHERE Name = ${soqlString("O'Brien \\ Co")}`);
      expect(found.records.map((r: any) => r.Id)).toEqual([id]);
      const port = createSalesforceAdapter({ instanceUrl: sim.url, accessToken: TOKEN });
      expect((await port.getAccounts([id!])).get(id!)?.domain).toBe('example.org');
    } finally {
      await sim.close();
    }
  });

  it("treats a refused session as Concord's credential problem: not retryable, token kept out", async () => {
    const sim = await startSim({ requiredToken: 'the-right-token' });
    try {
      const port = createSalesforceAdapter({ instanceUrl: sim.url, accessToken: 'wrong-secret-token', baseDelayMs: 1 });
      const error = await rejection(port.getAccounts([seed.customers[0].crmId]));
      expect(error).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'CRM', retryable: false, vendorCode: 'INVALID_SESSION_ID', status: 401 });
      expect(error.message).not.toContain('wrong-secret-token');
      expect((await simStats(sim.url)).requests).toBe(1);
    } finally {
      await sim.close();
    }
  });
});
