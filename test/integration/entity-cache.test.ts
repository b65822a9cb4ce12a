/**
 * The entity cache through the gateway (core/entity-cache.ts, subgraphs/common/cached-reads.ts),
 * against the simulators: a warm unified view costs the vendors nothing but the CRM's list; a change
 * made in a vendor behind Concord's back shows once its webhook or poll has been ingested (the TTL
 * is far longer than the test); Concord's own writes show at once; `cache-control: no-cache` reads
 * through; portal tokens never see each other's records through it; and with Redis, what one
 * gateway instance cached and invalidated is what a second one serves.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Stripe from 'stripe';
import { loadConfig } from '../../core/config';
import type { BusinessEvent } from '../../core/events';
import { createLogger } from '../../core/log';
import { mintToken } from '../../gateway/token';
import { startConcord, type RunningConcord } from '../../concord';
import { SIMULATOR_CREDENTIALS, createVendorPorts, simulatedVendorSettings } from '../../system';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { TEST_JWT_SECRET, simCall, startTestSystem, type TestSystem } from '../helpers/system';

const VIEW = readFileSync(path.join(__dirname, '..', '..', 'examples', 'unified-view.graphql'), 'utf8');
const CUSTOMER = `query($id: ID!) { customer(id: $id) { id name contracts { id status items { productCode quantity } } invoices { id status } erp { creditHold } } }`;
// No change polling where vendor calls are counted (a poll is a vendor call too); the ERP poller has a describe of its own.
const CACHE_ON = { CONCORD_ENTITY_CACHE_TTL_S: '3600', CONCORD_POLL_INTERVAL_MS: '0' };

/** Invalidations as the system reports them, and a way to wait for one. */
function invalidations() {
  const seen: { event: BusinessEvent; units: string[] }[] = [];
  const waiters: (() => void)[] = [];
  return {
    onCacheInvalidated(event: BusinessEvent, units: string[]) {
      seen.push({ event, units });
      for (const wake of waiters.splice(0)) wake();
    },
    async until(predicate: (entry: { event: BusinessEvent; units: string[] }) => boolean, timeoutMs = 90_000): Promise<BusinessEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = seen.find(predicate);
        if (hit) return hit.event;
        if (Date.now() > deadline) throw new Error('no such invalidation before the deadline');
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 1000).unref();
        });
      }
    },
  };
}

async function vendorRequests(system: { simulators: TestSystem['simulators'] }): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, sim] of Object.entries(system.simulators)) {
    const stats = await simCall(sim!.url, 'stats');
    out[name] = stats.requests;
    if (process.env.DEBUG_CACHE_TEST && stats.requests) console.log(name, JSON.stringify(stats.byRoute));
  }
  return out;
}

async function resetStats(system: { simulators: TestSystem['simulators'] }): Promise<void> {
  await Promise.all(Object.values(system.simulators).map((sim) => simCall(sim!.url, 'reset', {})));
}

function stripeClient(url: string): Stripe {
  const u = new URL(url);
  return new Stripe(SIMULATOR_CREDENTIALS.stripeKey, { host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 0 });
}

describe('entity cache (embedded mode)', () => {
  let system: TestSystem;
  const seen = invalidations();

  beforeAll(async () => {
    system = await startTestSystem({ env: CACHE_ON, system: { onCacheInvalidated: seen.onCacheInvalidated } });
  });
  afterAll(() => system.close());

  it('serves a warm 50-customer view without calling Stripe or NetSuite, and the CRM once for the list', async () => {
    const cold = await system.gql(VIEW);
    expect(cold.body.errors).toBeUndefined();
    await resetStats(system);
    const warm = await system.gql(VIEW);
    expect(warm.body.errors).toBeUndefined();
    expect(warm.body.data).toEqual(cold.body.data);
    expect(await vendorRequests(system)).toEqual({ salesforce: 1, stripe: 0, netsuite: 0 });
    // The hits are counted, per kind of entity.
    const metrics = await (await fetch(`${system.gateway.url}/metrics`)).text();
    const hits = /^concord_entity_cache_reads_total\{kind="billing\.stripe\.contracts",outcome="hit"\} (\d+)/m.exec(metrics);
    expect(Number(hits?.[1])).toBeGreaterThanOrEqual(50);
  });

  it('reads through to every vendor for a request with cache-control: no-cache', async () => {
    await system.gql(VIEW);
    await resetStats(system);
    const fresh = await system.gql(VIEW, undefined, { 'cache-control': 'no-cache' });
    expect(fresh.body.errors).toBeUndefined();
    const calls = await vendorRequests(system);
    expect(calls.stripe).toBeGreaterThan(0);
    expect(calls.netsuite).toBeGreaterThan(0);
  });

  it("shows a subscription changed in Stripe behind Concord's back once its webhook arrived", async () => {
    const nodes = (await system.gql(VIEW)).body.data.customers.edges.map((e: any) => e.node);
    const target = nodes.find((n: any) => n.contracts?.some((c: any) => c.status === 'ACTIVE' && c.items.length > 0));
    const contract = target.contracts.find((c: any) => c.status === 'ACTIVE' && c.items.length > 0);
    const stripe = stripeClient(system.simulators.stripe!.url);
    const subscription = await stripe.subscriptions.retrieve(contract.id);
    const item = subscription.items.data[0];
    await stripe.subscriptions.update(contract.id, { items: [{ id: item.id, quantity: (item.quantity ?? 1) + 7 }], proration_behavior: 'none' });
    await seen.until(({ event }) => event.type === 'CONTRACT_AMENDED' && event.contractId === contract.id);
    const after = await system.gql(CUSTOMER, { id: target.id });
    const shown = after.body.data.customer.contracts.find((c: any) => c.id === contract.id);
    expect(shown.items.find((i: any) => i.productCode === item.price.lookup_key).quantity).toBe((item.quantity ?? 1) + 7);
  }, 120_000);

  it("shows Concord's own write at once: a customer renamed with upsertCustomer", async () => {
    const [first] = (await system.gql(VIEW)).body.data.customers.edges.map((e: any) => e.node);
    const name = `${first.name} Renamed`;
    // The account by id is now cached (the list itself is always read from the CRM).
    expect((await system.gql(CUSTOMER, { id: first.id })).body.data.customer.name).toBe(first.name);
    const renamed = await system.gql(`mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id syncRun { status } } }`, {
      input: { id: first.id, name, domain: first.domain, idempotencyKey: `cache-rename-${first.id}` },
    });
    expect(renamed.body.errors).toBeUndefined();
    expect(renamed.body.data.upsertCustomer.syncRun.status).toBe('COMPLETED');
    const after = await system.gql(CUSTOMER, { id: first.id });
    expect(after.body.data.customer.name).toBe(name);
  }, 120_000);

  it('never serves one portal the records of another, whatever the cache holds', async () => {
    const nodes = (await system.gql(VIEW)).body.data.customers.edges.map((e: any) => e.node);
    const [a, b] = nodes.filter((n: any) => n.contracts?.length > 0);
    const portal = (customerId: string) => mintToken({ secret: TEST_JWT_SECRET, subject: `portal-${customerId}`, scopes: ['customers:read', 'billing:read', 'erp:read'], customerId });
    const [tokenA, tokenB] = await Promise.all([portal(a.id), portal(b.id)]);
    const asA = await system.gql(CUSTOMER, { id: a.id }, { authorization: `Bearer ${tokenA}` });
    expect(asA.body.errors).toBeUndefined();
    expect(asA.body.data.customer.id).toBe(a.id);
    // A's records are cached now; B asks for them and is refused, and B's own list is B only.
    const bAsksForA = await system.gql(CUSTOMER, { id: a.id }, { authorization: `Bearer ${tokenB}` });
    expect(bAsksForA.body.data?.customer ?? null).toBeNull();
    expect(bAsksForA.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(bAsksForA.body)).not.toContain(a.contracts[0].id);
    const bList = await system.gql(VIEW, undefined, { authorization: `Bearer ${tokenB}` });
    expect(bList.body.data.customers.edges.map((e: any) => e.node.id)).toEqual([b.id]);
    expect(JSON.stringify(bList.body.data)).not.toContain(a.contracts[0].id);
  });
});

describe('entity cache and the ERP change poller', () => {
  let system: TestSystem;
  const seen = invalidations();

  beforeAll(async () => {
    system = await startTestSystem({ env: { ...CACHE_ON, CONCORD_POLL_INTERVAL_MS: '300' }, system: { onCacheInvalidated: seen.onCacheInvalidated } });
  });
  afterAll(() => system.close());

  it('shows a credit hold set in the ERP behind Concord\'s back once the ERP poller reported it', async () => {
    const nodes = (await system.gql(VIEW)).body.data.customers.edges.map((e: any) => e.node);
    const target = nodes.find((n: any) => n.erp && !n.erp.creditHold);
    // Written straight to the simulator with an adapter of the test's own: Concord is not told.
    const outside = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), system.simulators);
    await outside.erp.setCreditHold(target.id, true, { correlationId: 'behind-the-back' });
    // Still cached (the TTL is an hour) until the poll's event drops it.
    await seen.until(({ event }) => event.source === 'ERP' && event.type === 'CUSTOMER_UPDATED' && event.customerId === target.id);
    const after = await system.gql(CUSTOMER, { id: target.id });
    expect(after.body.errors).toBeUndefined();
    expect(after.body.data.customer.erp.creditHold).toBe(true);
  }, 120_000);
});

describe('entity cache (Redis, two gateway instances)', () => {
  const { prefix, cleanup } = testPrefix('entity-cache');
  const env = { ...CACHE_ON, REDIS_URL, CONCORD_REDIS_PREFIX: prefix };
  let first: TestSystem;
  let second: RunningConcord;
  let secondToken: string;
  const seen = invalidations();

  beforeAll(async () => {
    first = await startTestSystem({ env, system: { onCacheInvalidated: seen.onCacheInvalidated } });
    // Another instance of Concord on the same Redis and prefix and the same vendors (an API replica).
    const config = loadConfig({ CONCORD_JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'test', CONCORD_RATE_LIMIT_RPS: '100000', CONCORD_RATE_LIMIT_BURST: '100000', CONCORD_WORKERS: '0', ...env });
    second = await startConcord({ config, logger: createLogger({ level: 'silent' }), ports: 'ephemeral', vendors: simulatedVendorSettings(config, first.simulators) });
    secondToken = first.token;
  }, 120_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await cleanup();
  });

  const viaSecond = async (query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(`${second.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secondToken}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as any;
  };

  it('serves from the second instance what the first one read, without calling Stripe or NetSuite', async () => {
    const cold = await first.gql(VIEW);
    expect(cold.body.errors).toBeUndefined();
    await resetStats(first);
    const warm = await viaSecond(VIEW);
    expect(warm.errors).toBeUndefined();
    expect(warm.data).toEqual(cold.body.data);
    expect(await vendorRequests(first)).toEqual({ salesforce: 1, stripe: 0, netsuite: 0 });
  });

  it("drops on the second instance what the first one's write changed, at once", async () => {
    const [, target] = (await viaSecond(VIEW)).data.customers.edges.map((e: any) => e.node);
    const name = `${target.name} Holdings`;
    expect((await viaSecond(CUSTOMER, { id: target.id })).data.customer.name).toBe(target.name);
    const renamed = await first.gql(`mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id syncRun { status } } }`, {
      input: { id: target.id, name, domain: target.domain, idempotencyKey: `cache-redis-rename-${target.id}` },
    });
    expect(renamed.body.data.upsertCustomer.syncRun.status).toBe('COMPLETED');
    expect((await viaSecond(CUSTOMER, { id: target.id })).data.customer.name).toBe(name);
  }, 120_000);

  it("drops on both instances a change made in Stripe behind Concord's back, once its webhook arrived", async () => {
    const nodes = (await viaSecond(VIEW)).data.customers.edges.map((e: any) => e.node);
    const target = nodes.filter((n: any) => n.contracts?.some((c: any) => c.status === 'ACTIVE' && c.items.length > 0))[2];
    const contract = target.contracts.find((c: any) => c.status === 'ACTIVE' && c.items.length > 0);
    const stripe = stripeClient(first.simulators.stripe!.url);
    const item = (await stripe.subscriptions.retrieve(contract.id)).items.data[0];
    const quantity = (item.quantity ?? 1) + 3;
    await stripe.subscriptions.update(contract.id, { items: [{ id: item.id, quantity }], proration_behavior: 'none' });
    await seen.until(({ event }) => event.type === 'CONTRACT_AMENDED' && event.contractId === contract.id);
    const quantityOn = (customer: any) => customer.contracts.find((c: any) => c.id === contract.id).items.find((i: any) => i.productCode === item.price.lookup_key).quantity;
    expect(quantityOn((await viaSecond(CUSTOMER, { id: target.id })).data.customer)).toBe(quantity);
    expect(quantityOn((await first.gql(CUSTOMER, { id: target.id })).body.data.customer)).toBe(quantity);
  }, 120_000);
});
