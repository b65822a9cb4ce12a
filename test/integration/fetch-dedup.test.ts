/**
 * Identical subgraph fetches in flight are sent once (gateway/fetch-dedup.ts), through the real
 * gateway: N identical unified-view queries from one caller, sent while the CRM vendor is held,
 * make one CRM fetch and one set of vendor calls, and each caller gets the whole answer; callers
 * whose visibility differs never share a fetch; identical mutations are never merged; with
 * CONCORD_FETCH_DEDUP=off nothing is shared. The Salesforce simulator's `hold` fault holds the
 * vendor until the test releases it: no timing assumption.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mintToken, SCOPES } from '../../gateway/token';
import { scrape, total, until } from '../ops/helpers';
import { simCall, startTestSystem, TEST_JWT_SECRET, type GqlResult, type TestSystem } from '../helpers/system';

const UNIFIED_VIEW = readFileSync(path.join(__dirname, '..', '..', 'examples', 'unified-view.graphql'), 'utf8');
const CUSTOMERS = `query DedupCustomers { customers(first: 5) { edges { node { id name } } } }`;
const N = 5;

async function post(url: string, token: string, query: string, variables?: Record<string, unknown>): Promise<GqlResult<any>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

function helpers(system: () => TestSystem) {
  const sims = () => Object.values(system().simulators).filter(Boolean).map((sim) => sim!.url);
  const salesforce = () => system().simulators.salesforce!.url;
  return {
    metric: async (name: string, labels: Record<string, string> = {}) => total((await scrape(system().gateway.url)).samples, name, labels),
    held: async () => (await simCall<{ held: number }>(salesforce(), 'stats')).held,
    hold: (on: boolean) => simCall(salesforce(), 'faults', { hold: on }),
    // Vendor API calls: requests to the vendors' routes (not the readiness probes' GET /, which a /metrics scrape makes).
    vendorRequests: async () =>
      (await Promise.all(sims().map((url) => simCall<{ byRoute: Record<string, number> }>(url, 'stats'))))
        .flatMap((stats) => Object.entries(stats.byRoute).filter(([route]) => !route.endsWith('(unmatched)')).map(([, n]) => n))
        .reduce((sum, n) => sum + n, 0),
    salesforce,
    token: (subject: string, scopes: readonly string[], customerId?: string) => mintToken({ secret: TEST_JWT_SECRET, subject, scopes, customerId }),
  };
}

describe('dedup of identical in-flight subgraph fetches', () => {
  let system: TestSystem;
  const h = helpers(() => system);
  const crmFetches = () => h.metric('concord_subgraph_fetch_duration_seconds_count', { subgraph: 'crm' });
  const shared = (subgraph: string) => h.metric('concord_subgraph_fetches_deduplicated_total', { subgraph });

  beforeAll(async () => {
    // Polling off: nothing but the test's own requests reaches the held simulator.
    system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0' } });
  });
  afterAll(async () => {
    await h.hold(false).catch(() => undefined);
    await system?.close();
  });
  afterEach(() => h.hold(false));

  it(`${N} identical unified-view queries from one caller make one CRM fetch and one set of vendor calls, and all get the answer`, async () => {
    // What one query alone costs.
    const aloneFetches = await crmFetches();
    const aloneCalls = await h.vendorRequests();
    const alone = await system.gql(UNIFIED_VIEW);
    expect(alone.body.errors).toBeUndefined();
    const oneQueryFetches = (await crmFetches()) - aloneFetches;
    const oneQueryCalls = (await h.vendorRequests()) - aloneCalls;
    expect(oneQueryFetches).toBeGreaterThan(0);

    const fetchesBefore = await crmFetches();
    const callsBefore = await h.vendorRequests();
    const sharedBefore = await shared('crm');
    await h.hold(true);
    const first = system.gql(UNIFIED_VIEW);
    await until('the first query held at the vendor', async () => (await h.held()) === 1);
    const others = Array.from({ length: N - 1 }, () => system.gql(UNIFIED_VIEW));
    // The signal that every one of them reached the subgraph fetch: it was answered by the one in flight.
    await until(`${N - 1} CRM fetches shared`, async () => (await shared('crm')) - sharedBefore === N - 1);
    expect(await h.held()).toBe(1);

    await h.hold(false);
    const answers = await Promise.all([first, ...others]);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data.customers.edges).toHaveLength(50);
    }
    // Each caller got the whole answer, and its own copy (results are merged in place).
    for (const answer of answers.slice(1)) expect(answer.body).toEqual(answers[0].body);
    expect(answers[0].body).toEqual(alone.body);
    expect((await crmFetches()) - fetchesBefore).toBe(oneQueryFetches);
    expect((await h.vendorRequests()) - callsBefore).toBe(oneQueryCalls);
  }, 90_000);

  it('never shares a fetch between callers whose visibility differs', async () => {
    const { Account } = await simCall<{ Account: { Id: string }[] }>(h.salesforce(), 'state');
    const admin = system.token;
    const otherSubject = await h.token('dedup-other-admin', SCOPES);
    const reader = await h.token('dedup-reader', ['customers:read']);
    const portal = await h.token('dedup-portal', ['customers:read', 'billing:read', 'orders:write'], Account[0].Id);
    const sharedBefore = await shared('crm');

    await h.hold(true);
    const sent = [post(system.gateway.url, admin, CUSTOMERS)];
    await until('the admin query held at the vendor', async () => (await h.held()) === 1);
    // Each caller's own fetch reaches the vendor: the count of held requests grows with each.
    let expectHeld = 1;
    for (const token of [reader, portal, otherSubject]) {
      sent.push(post(system.gateway.url, token, CUSTOMERS));
      expectHeld += 1;
      await until(`request ${expectHeld} held at the vendor`, async () => (await h.held()) === expectHeld);
    }
    expect(await shared('crm')).toBe(sharedBefore);

    await h.hold(false);
    const [asAdmin, asReader, asPortal, asOther] = await Promise.all(sent);
    expect(asAdmin.body.errors).toBeUndefined();
    expect(asReader.body.errors).toBeUndefined();
    expect(asOther.body).toEqual(asAdmin.body);
    // The portal sees its own customer only: had it shared the admin's fetch, it would see five.
    expect(asPortal.body.data.customers.edges.map((e: any) => e.node.id)).toEqual([Account[0].Id]);
    expect(asAdmin.body.data.customers.edges.length).toBe(5);
  }, 90_000);

  it('never merges identical mutations', async () => {
    const { Account } = await simCall<{ Account: { Id: string }[] }>(h.salesforce(), 'state');
    // A portal's start reads the deal's owner from the CRM before anything else: held there. The
    // deal does not exist, so both end FORBIDDEN and nothing is started.
    const portal = await h.token('dedup-portal-writer', ['customers:read', 'billing:read', 'orders:write'], Account[1].Id);
    const START = `mutation DedupStart($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id } }`;
    const input = { opportunityId: '006Dn0000009999IAA', idempotencyKey: 'dedup-mutation-1' };
    const sharedBefore = await shared('orchestration');

    await h.hold(true);
    const sent = [post(system.gateway.url, portal, START, { input })];
    await until('the first mutation held at the vendor', async () => (await h.held()) === 1);
    sent.push(post(system.gateway.url, portal, START, { input }));
    // Both reached the orchestration subgraph on their own: two owner reads held at the CRM.
    await until('the second mutation held at the vendor too', async () => (await h.held()) === 2);
    expect(await shared('orchestration')).toBe(sharedBefore);

    await h.hold(false);
    const answers = await Promise.all(sent);
    for (const answer of answers) expect(answer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  }, 90_000);
});

describe('dedup turned off (CONCORD_FETCH_DEDUP=off)', () => {
  let system: TestSystem;
  const h = helpers(() => system);

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0', CONCORD_FETCH_DEDUP: 'off' } });
  });
  afterAll(async () => {
    await h.hold(false).catch(() => undefined);
    await system?.close();
  });

  it('sends every identical query fetch', async () => {
    await h.hold(true);
    const sent = [system.gql(CUSTOMERS)];
    await until('the first query held at the vendor', async () => (await h.held()) === 1);
    sent.push(system.gql(CUSTOMERS));
    await until('the second query held at the vendor too', async () => (await h.held()) === 2);
    await h.hold(false);
    const [a, b] = await Promise.all(sent);
    expect(b.body).toEqual(a.body);
    expect(await h.metric('concord_subgraph_fetches_deduplicated_total')).toBe(0);
  }, 90_000);
});
