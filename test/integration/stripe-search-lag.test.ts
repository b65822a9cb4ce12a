/**
 * Stripe's search trails writes (https://docs.stripe.com/search#data-freshness); Concord's reads
 * must not. With the simulator's search lag set far beyond the test's duration (search shows
 * nothing written during the test), through the gateway: the contract a completed order-to-cash
 * run made is in its customer's unified view at once, and a customer created a moment ago is still
 * found by the duplicate check and by a second write path, which makes no second Stripe customer.
 */
import Stripe from 'stripe';
import { effectsOf, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const LAG_MS = 10 * 60_000;

describe('Stripe search lag', () => {
  let system: TestSystem;
  let stripeUrl: string;

  beforeAll(async () => {
    // With the entity cache on: the customer's view is cached before the run, and the run's own
    // writes must drop it (subgraphs/common/cache-invalidation.ts).
    system = await startTestSystem({ stripeSearchLagMs: LAG_MS, env: { CONCORD_MUTATION_WAIT_MS: '20000', CONCORD_ENTITY_CACHE_TTL_S: '3600' } });
    stripeUrl = system.simulators.stripe!.url;
  });
  afterAll(() => system.close());

  it('the simulator: search misses what is newer than the lag, list and retrieve do not', async () => {
    const stripe = new Stripe(SIMULATOR_CREDENTIALS.stripeKey, { host: new URL(stripeUrl).hostname, port: Number(new URL(stripeUrl).port), protocol: 'http', maxNetworkRetries: 0 });
    const created = await stripe.customers.create({ name: 'Lagging Search Co', metadata: { probe: 'lag-1' } });
    expect((await stripe.customers.search({ query: "metadata['probe']:'lag-1'" })).data).toEqual([]);
    expect((await stripe.customers.list({ created: { gte: created.created } })).data.map((c) => c.id)).toContain(created.id);
    expect((await stripe.customers.retrieve(created.id)).id).toBe(created.id);
    // With the lag turned off, the same search finds it: the miss was the lag, not the query.
    await simCall(stripeUrl, 'search-lag', { ms: 0 });
    expect((await stripe.customers.search({ query: "metadata['probe']:'lag-1'" })).data.map((c) => c.id)).toEqual([created.id]);
    await simCall(stripeUrl, 'search-lag', { ms: LAG_MS });
  });

  it("a completed order-to-cash run's contract is in its customer's unified view at once", async () => {
    const [deal] = await readyOpportunities(system.simulators.salesforce!.url);
    const VIEW = `query($id: ID!) { customer(id: $id) { contracts { id status } invoices(first: 20) { id } } }`;
    const before = await system.gql(VIEW, { id: deal.accountId });
    expect(before.body.errors).toBeUndefined();
    const started = await startRun(system, deal.id, 'lag-o2c-1');
    expect(started.body.errors).toBeUndefined();
    const run = await waitForRun(system, started.body.data.startOrderToCash.id, ['COMPLETED'], 120_000);
    const contractId = run.steps.find((s: any) => s.name === 'contract').externalId;
    const { body } = await system.gql(VIEW, { id: deal.accountId });
    expect(body.errors).toBeUndefined();
    expect(body.data.customer.contracts).toEqual(expect.arrayContaining([expect.objectContaining({ id: contractId })]));
    const effects = await effectsOf(system, deal.id, deal.accountId);
    expect(effects.subscriptions).toHaveLength(1);
    expect(body.data.customer.invoices.map((i: any) => i.id)).toEqual(expect.arrayContaining(effects.invoices.map((i: any) => i.id)));
  }, 180_000);

  it('a customer created a moment ago is caught by the duplicate check, and updating it makes no second Stripe customer', async () => {
    const UPSERT = `mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id name syncRun { status } } }`;
    const created = await system.gql(UPSERT, { input: { name: 'Brightlane Analytics', domain: 'brightlane.example', idempotencyKey: 'lag-cm-1' } });
    expect(created.body.errors).toBeUndefined();
    const id = created.body.data.upsertCustomer.id;
    const duplicate = await system.gql(UPSERT, { input: { name: 'Brightlane Analytics Ltd', domain: 'brightlane.example', idempotencyKey: 'lag-cm-2' } });
    expect(duplicate.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const renamed = await system.gql(UPSERT, { input: { id, name: 'Brightlane Analytics Group', domain: 'brightlane.example', idempotencyKey: 'lag-cm-3' } });
    expect(renamed.body.errors).toBeUndefined();
    expect(renamed.body.data.upsertCustomer.syncRun.status).toBe('COMPLETED');
    const state = await simCall(stripeUrl, 'state');
    const billing = state.customers.filter((c: any) => c.metadata?.concord_customer_id === id);
    expect(billing.map((c: any) => c.name)).toEqual(['Brightlane Analytics Group']);
  }, 120_000);
});
