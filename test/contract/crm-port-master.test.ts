/**
 * The CrmPort's customer-master and contract methods (added for upsertCustomer and reconciliation),
 * run against the Salesforce adapter over the Salesforce simulator: candidate search in one SOQL
 * query, account creation by an external-id upsert on the customer-master key (so a retry finds
 * the first attempt's account), and keyset-paged contracts. The same cases run against the HubSpot
 * adapter over the HubSpot simulator (search, batch upsert on concord_customer_key, the contracts
 * custom object).
 */
import { buildSeed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import type { CrmPort } from '../../subgraphs/crm/port';
import { createSalesforceAdapter } from '../../vendors/salesforce/adapter';
import { hubspotSeed } from '../../simulators/hubspot/seed';
import { createHubSpotSimulator } from '../../simulators/hubspot/server';
import { createHubSpotAdapter } from '../../vendors/hubspot/adapter';
import { TOKEN, simControl, simStats, startSim } from './helpers-salesforce';

interface MasterFixture {
  sim: SimServer;
  port: CrmPort;
  seed: ReturnType<typeof buildSeed>;
  /** Accounts the simulator holds under a customer-master key. */
  holdingKey(key: string): Promise<number>;
}

const salesforce = async (): Promise<MasterFixture> => {
  const seed = buildSeed();
  const sim = await startSim({ seed });
  return {
    sim,
    seed,
    port: createSalesforceAdapter({ instanceUrl: sim.url, accessToken: TOKEN, baseDelayMs: 1, maxDelayMs: 5 }),
    holdingKey: async (key) => (await simControl<{ Account: any[] }>(sim.url, 'state')).Account.filter((a) => a.Concord_Customer_Key__c === key).length,
  };
};

const hubspot = async (): Promise<MasterFixture> => {
  const seed = hubspotSeed(buildSeed());
  const sim = await createHubSpotSimulator({ seed, requestsPerTenSeconds: null, searchPerSecond: null }).listen(0, '127.0.0.1');
  return {
    sim,
    seed,
    port: createHubSpotAdapter({ baseUrl: sim.url, accessToken: 'pat-na1-12345678-1234-1234-1234-123456789012', baseDelayMs: 1, maxDelayMs: 5 }),
    holdingKey: async (key) => (await simControl<{ companies: any[] }>(sim.url, 'state')).companies.filter((c) => c.concord_customer_key === key).length,
  };
};

describe.each([
  ['salesforce', salesforce],
  ['hubspot', hubspot],
] as const)('CrmPort customer master and contracts: %s (simulator)', (_name, start) => {
  let sim: SimServer;
  let port: CrmPort;
  let seed: MasterFixture['seed'];
  let fx: MasterFixture;

  beforeAll(async () => {
    fx = await start();
    ({ sim, port, seed } = fx);
  });
  afterAll(() => sim.close());
  beforeEach(() => simControl(sim.url, 'reset'));

  test('candidates by name token (case-insensitive) or website domain, in one query', async () => {
    const found = await port.findAccountCandidates({ nameTokens: ['ACME'], domain: 'globex-corp.example.com' });
    expect(found.map((a) => a.name).sort()).toEqual(['Acme Corp', 'Acme Industries', 'Globex Corp']);
    expect((await simStats(sim.url)).requests).toBe(1);
    // LIKE wildcards and quotes in a token match themselves, not everything.
    expect(await port.findAccountCandidates({ nameTokens: ["%'_"], domain: null })).toEqual([]);
    expect(await port.findAccountCandidates({ nameTokens: [], domain: null })).toEqual([]);
  });

  test('an account created under a key is found again by the key; the same key updates it, never a second account', async () => {
    const first = await port.upsertAccountByKey('cm-key-1', { name: 'Brand New Co', domain: 'brand-new.example', parentId: null, correlationId: 'corr-1' });
    expect(first.created).toBe(true);
    const again = await port.upsertAccountByKey('cm-key-1', { name: 'Brand New Company', domain: 'brand-new.example', parentId: null });
    expect(again).toEqual({ id: first.id, created: false });
    const byKey = await port.findAccountByKey('cm-key-1');
    expect(byKey).toMatchObject({ id: first.id, name: 'Brand New Company', domain: 'brand-new.example' });
    expect(await port.findAccountByKey('cm-key-unknown')).toBeNull();
    expect(await fx.holdingKey('cm-key-1')).toBe(1);

    // The customer master's fields are written through updateAccount too.
    await port.updateAccount(first.id, { name: 'Brand New Inc', domain: 'brand-new.example.org', parentId: seed.customers[0].crmId });
    expect((await port.getAccounts([first.id])).get(first.id)).toMatchObject({ name: 'Brand New Inc', domain: 'brand-new.example.org', parentId: seed.customers[0].crmId });
  });

  test('contracts page in id order with their billing links; a status and end date can be aligned', async () => {
    const contracts = [];
    let after: string | null = null;
    do {
      const page = await port.listContracts({ first: 20, after });
      contracts.push(...page.items);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(contracts.map((c) => c.billingSubscriptionId).sort()).toEqual(seed.contracts.map((c) => c.id).sort());
    expect(contracts.map((c) => c.id)).toEqual([...contracts.map((c) => c.id)].sort());
    expect((await simStats(sim.url)).requests).toBe(Math.ceil(seed.contracts.length / 20) + (seed.contracts.length % 20 === 0 ? 1 : 0));

    const canceled = seed.contracts.find((c) => c.status === 'canceled')!;
    const crm = contracts.find((c) => c.billingSubscriptionId === canceled.id)!;
    expect(crm).toMatchObject({ status: 'Activated', endDate: canceled.endDate });
    await port.updateContract(crm.id, { endDate: null, correlationId: 'corr-align' });
    await port.updateContract(crm.id, { endDate: '2026-10-15T00:00:00.000Z' });
    const reread = (await port.listContracts({ first: 2000 })).items.find((c) => c.id === crm.id);
    expect(reread).toMatchObject({ status: 'Activated', endDate: '2026-10-15T00:00:00.000Z' });
  });
});
