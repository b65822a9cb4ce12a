/**
 * The HubSpot simulator as the official @hubspot/api-client sees it, unchanged (only basePath points
 * at the simulator): a `pat-` Bearer token, batch read with HubSpot's 207 for unknown ids, search
 * filters, sorts and paging, batch upsert on a unique-value property, validation of unknown and
 * read-only properties, v4 associations, property definitions, HubSpot's error shape for faults and
 * its 429s (ten-second rolling window, search per second) with their policy names. Last, the
 * governor (core/capacity.ts) keeps a burst through the HubSpot module inside the window.
 */
import { Client } from '@hubspot/api-client';
import { createMemoryCapacityGovernor } from '../../core/capacity';
import { ConcordError } from '../../core/errors';
import { buildSeed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { hubspotSeed } from '../../simulators/hubspot/seed';
import { createHubSpotSimulator } from '../../simulators/hubspot/server';
import { createHubSpotModule } from '../../vendors/hubspot';
import { errorFromHubSpot } from '../../vendors/hubspot/errors';
import { simCall } from '../helpers/system';

const seed = hubspotSeed(buildSeed());
const TOKEN = 'pat-na1-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
/** Per-call options: the generated APIs apply middleware (and the SDK's User-Agent) only with them. */
const OPTS = { middleware: [], middlewareMergeStrategy: 'append' } as never;

interface SdkError {
  code: number;
  body: { category: string; message: string; correlationId: string };
  headers: Record<string, string>;
}

async function failure(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error('expected the call to fail');
}

describe('HubSpot simulator with the official SDK', () => {
  let sim: SimServer;
  let hs: Client;
  const sdk = (accessToken: string) => new Client({ accessToken, basePath: sim.url, numberOfApiCallRetries: 0 });

  beforeAll(async () => {
    sim = await createHubSpotSimulator({ seed }).listen(0, '127.0.0.1');
    hs = sdk(TOKEN);
  });
  afterAll(() => sim.close());
  beforeEach(() => simCall(sim.url, 'reset', {}));

  it("requires a private-app Bearer token, answering HubSpot's 401 shape", async () => {
    const error = await failure(sdk('not-a-token').crm.companies.basicApi.getPage(1, undefined, undefined, undefined, undefined, undefined, OPTS));
    expect(error.code).toBe(401);
    expect(error.body).toMatchObject({ category: 'INVALID_AUTHENTICATION', correlationId: expect.any(String) });
  });

  it('batch-reads companies, answering 207 with OBJECT_NOT_FOUND for unknown ids', async () => {
    const [a, b] = seed.customers;
    const answer = await hs.crm.companies.batchApi.read({ inputs: [{ id: a.crmId }, { id: b.crmId }, { id: '3199999999' }], properties: ['name', 'concord_billing_customer_id'], propertiesWithHistory: [] }, undefined, OPTS);
    expect(answer.results.map((r) => r.id).sort()).toEqual([a.crmId, b.crmId].sort());
    expect(answer.results.find((r) => r.id === a.crmId)?.properties).toMatchObject({ name: a.name, concord_billing_customer_id: a.billingId, hs_object_id: a.crmId });
    expect(answer.results[0].createdAt).toBeInstanceOf(Date);
    expect('errors' in answer && answer.errors?.[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { ids: ['3199999999'] } });
  });

  it('searches with filter groups, sorts and paging; keyset on hs_object_id', async () => {
    const first = await hs.crm.companies.searchApi.doSearch({ filterGroups: [], sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }] as never, properties: ['name'], limit: 20 }, OPTS);
    expect(first.total).toBe(50);
    expect(first.results.map((r) => r.id)).toEqual(seed.customers.slice(0, 20).map((c) => c.crmId));
    expect(first.paging?.next?.after).toBe('20');
    const next = await hs.crm.companies.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'GT' as never, value: first.results.at(-1)!.id }] }], properties: ['name'], limit: 200 }, OPTS);
    expect(next.results).toHaveLength(30);
    const acme = await hs.crm.companies.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'name', operator: 'CONTAINS_TOKEN' as never, value: '*acme*' }] }, { filters: [{ propertyName: 'domain', operator: 'EQ' as never, value: seed.customers[2].domain }] }], properties: ['name'], limit: 10 }, OPTS);
    expect(acme.results.map((r) => r.properties.name).sort()).toEqual(['Acme Corp', 'Acme Industries', seed.customers[2].name].sort());
    const tooMany = await failure(hs.crm.companies.searchApi.doSearch({ filterGroups: [], properties: [], limit: 201 }, OPTS));
    expect(tooMany).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
  });

  it('upserts by the unique concord_customer_key, telling a creation from an update', async () => {
    const key = `cust-${Date.now()}`;
    const input = { inputs: [{ id: key, idProperty: 'concord_customer_key', properties: { name: 'Upsert Co', domain: 'upsert.example.com' } }] };
    const created = await hs.crm.companies.batchApi.upsert(input, OPTS);
    const again = await hs.crm.companies.batchApi.upsert(input, OPTS);
    expect(created.results[0]._new).toBe(true);
    expect(again.results[0]).toMatchObject({ id: created.results[0].id, _new: false });
    const byKey = await hs.crm.companies.basicApi.getById(key, ['name'], undefined, undefined, undefined, 'concord_customer_key', OPTS);
    expect(byKey.id).toBe(created.results[0].id);
    const notUnique = await failure(hs.crm.companies.batchApi.upsert({ inputs: [{ id: 'x', idProperty: 'name', properties: {} }] }, OPTS));
    expect(notUnique).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
  });

  it('refuses unknown and read-only properties, and clears a property with an empty string', async () => {
    const deal = seed.opportunities[0].crmId;
    const unknown = await failure(hs.crm.deals.basicApi.update(deal, { properties: { no_such_property: 'x' } }, undefined, OPTS));
    expect(unknown).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR', message: expect.stringContaining('PROPERTY_DOESNT_EXIST') } });
    const readOnly = await failure(hs.crm.deals.basicApi.update(deal, { properties: { hs_is_closed_won: 'false' } }, undefined, OPTS));
    expect(readOnly.body.message).toContain('READ_ONLY_VALUE');
    const updated = await hs.crm.deals.basicApi.update(deal, { properties: { concord_order_status: '' } }, undefined, OPTS);
    expect(updated.properties.concord_order_status).toBeNull();
    const missing = await failure(hs.crm.deals.basicApi.update('4199999999', { properties: { concord_order_status: 'x' } }, undefined, OPTS));
    expect(missing).toMatchObject({ code: 404, body: { category: 'OBJECT_NOT_FOUND' } });
  });

  it('reads v4 associations in batch and lists property definitions', async () => {
    const company = seed.customers[1];
    const answer = await hs.crm.associations.v4.batchApi.getPage('companies', 'deals', { inputs: [{ id: company.crmId }, { id: '3199999999' }] }, OPTS);
    const deals = seed.opportunities.filter((o) => o.customerIndex === 1).map((o) => o.crmId);
    expect(answer.results).toHaveLength(1);
    expect(answer.results[0]._from.id).toBe(company.crmId);
    expect(answer.results[0].to.map((t) => String(t.toObjectId)).sort()).toEqual(deals.sort());
    expect(answer.results[0].to[0].associationTypes[0]).toMatchObject({ category: 'HUBSPOT_DEFINED', typeId: 6 });
    const properties = await hs.crm.properties.coreApi.getAll('companies', undefined, undefined, OPTS);
    expect(properties.results.find((p) => p.name === 'concord_customer_key')).toMatchObject({ hasUniqueValue: true, type: 'string' });
  });

  it("answers injected faults in HubSpot's error shape, mapped to Concord's codes", async () => {
    await simCall(sim.url, 'faults', { rate: 1, kinds: ['503'] });
    const unavailable = await failure(hs.crm.companies.basicApi.getPage(1, undefined, undefined, undefined, undefined, undefined, OPTS));
    expect(unavailable).toMatchObject({ code: 503, body: { category: 'SERVICE_UNAVAILABLE' } });
    expect(errorFromHubSpot(unavailable, { operation: 'companies.list', write: false })).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'CRM', retryable: true });
    await simCall(sim.url, 'faults', { rate: 1, kinds: ['500'], applyBeforeFail: 0 });
    const internal = await failure(hs.crm.deals.basicApi.update(seed.opportunities[0].crmId, { properties: { concord_order_status: 'x' } }, undefined, OPTS));
    expect(errorFromHubSpot(internal, { operation: 'deals.update', write: true }).name).toBe('UncertainOutcomeError');
  });

  it('enforces the ten-second window and search per second with 429s naming their policy', async () => {
    await simCall(sim.url, 'limits', { requestsPerTenSeconds: 5, searchPerSecond: 2 });
    const searches = await Promise.allSettled([1, 2, 3].map(() => hs.crm.companies.searchApi.doSearch({ filterGroups: [], properties: [], limit: 1 }, OPTS)));
    expect(searches.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    const reads = await Promise.allSettled([1, 2, 3, 4].map(() => hs.crm.companies.basicApi.getPage(1, undefined, undefined, undefined, undefined, undefined, OPTS)));
    expect(reads.filter((s) => s.status === 'fulfilled')).toHaveLength(3); // 5 in the window, 2 of them searches
    const refused = reads.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 429, body: { category: 'RATE_LIMITS' } });
    expect(refused.reason.headers['x-hubspot-ratelimit-interval-milliseconds']).toBe('10000');
    const limits = await simCall(sim.url, 'limits');
    expect(limits.refused).toEqual({ TEN_SECONDLY_ROLLING: 1, SECONDLY: 1, DAILY: 0 });
  });

  it('maps a ten-second 429 through the module to VENDOR_RATE_LIMITED with the policy and the wait, not waited out in the call', async () => {
    await simCall(sim.url, 'limits', { requestsPerTenSeconds: 1 });
    // No governor budget to speak of (a huge one): HubSpot itself refuses.
    const module = createHubSpotModule({ accessToken: TOKEN, baseUrl: sim.url, requestsPerTenSeconds: 1000 });
    await module.port.getAccounts([seed.customers[0].crmId]);
    const error = await module.port.getAccounts([seed.customers[1].crmId]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConcordError);
    expect(error).toMatchObject({ code: 'VENDOR_RATE_LIMITED', system: 'CRM', retryable: true, vendorCode: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 10 });
    expect((await simCall(sim.url, 'stats')).requests).toBe(2);
  });

  it("keeps a burst through the HubSpot module inside the simulator's ten-second window (the governor waits, HubSpot refuses nothing)", async () => {
    const limit = 12;
    await simCall(sim.url, 'limits', { requestsPerTenSeconds: limit, searchPerSecond: null });
    const governor = createMemoryCapacityGovernor({ waitMs: 60_000 });
    try {
      const module = createHubSpotModule({ accessToken: TOKEN, baseUrl: sim.url, requestsPerTenSeconds: limit }, { governor });
      const burst = 18; // one and a half windows' worth, all at once
      const results = await Promise.all(Array.from({ length: burst }, (_, i) => module.port.getAccounts([seed.customers[i].crmId])));
      expect(results.every((r) => r.size === 1)).toBe(true);
      const limits = await simCall(sim.url, 'limits');
      expect(limits.refused.TEN_SECONDLY_ROLLING).toBe(0);
      expect(limits.busiestTenSeconds).toBeLessThanOrEqual(limit);
      expect((await simCall(sim.url, 'stats')).requests).toBe(burst);
    } finally {
      await governor.close();
    }
  }, 60_000);
});
