/**
 * One vendor budget across processes, as a platform engineer would check it: `npm run simulators
 * -- --require-credentials` as the remote vendors (NetSuite enforcing 5 requests at once and
 * counting the concurrency asked of it, Stripe counting arrivals a second), a redis-server of the
 * test's own, three API processes (`npm start`, NODE_ENV=production, CONCORD_WORKERS=0) and two
 * `npm run worker` processes, all on real-vendor variables pointing at the simulators, with
 * CONCORD_ERP_CONCURRENCY=5 and CONCORD_STRIPE_RATE_PER_SECOND=RATE. A burst of 50-customer
 * unified views spread over the three APIs, order-to-cash runs and a reconciliation, all at once:
 * the simulators' own counters must show NetSuite never asked for more than 5 at once (and never
 * refused one) and Stripe never more than RATE in any second, every run completes and no request
 * fails. The figures are printed for the release note.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SCOPES, mintToken } from '../../gateway/token';
import { RUN_FIELDS } from '../helpers/order-to-cash';
import { ROOT, freePort, freeRange, npmRun, until, type Proc } from '../helpers/processes';
import { startOwnRedis, type OwnRedis } from '../helpers/redis';
import { simCall } from '../helpers/system';

const JWT_SECRET = 'capacity-jwt-secret-0123456789abcdefghijkl';
const SUBGRAPH_SECRET = 'capacity-subgraph-secret-0123456789abcdefgh';
const NETSUITE_CONCURRENCY = 5;
const RATE = 25;
const RUNS = 10;
const VIEWS = 12;
/** Added to every NetSuite request by the simulator, so that its concurrency limit is what bounds the burst. */
const NETSUITE_LATENCY_MS = 600;

describe('one capacity budget per vendor account across 3 API processes and 2 workers', () => {
  let redis: OwnRedis;
  let simulators: Proc;
  const apis: { proc: Proc; port: number }[] = [];
  const workers: Proc[] = [];
  let vendorEnv: Record<string, string>;
  let token: string;

  const gql = async (port: number, query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    redis = await startOwnRedis();
    const simulatorBase = await freeRange(3, 101);
    simulators = npmRun('simulators', { PORT: String(simulatorBase) }, ['--require-credentials', '--netsuite-concurrency', String(NETSUITE_CONCURRENCY)]);
    await simulators.waitFor(/simulators ready/);
    vendorEnv = Object.fromEntries([...simulators.stdout().matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    const production = {
      NODE_ENV: 'production',
      REDIS_URL: redis.url,
      CONCORD_JWT_SECRET: JWT_SECRET,
      CONCORD_JWT_ISSUER: 'https://idp.capacity.example',
      CONCORD_JWT_AUDIENCE: 'concord-capacity',
      CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET,
      CONCORD_ERP_CONCURRENCY: String(NETSUITE_CONCURRENCY),
      CONCORD_STRIPE_RATE_PER_SECOND: String(RATE),
      // Every view reads the vendors: this test presses on their budgets (the entity cache would spare them).
      CONCORD_ENTITY_CACHE_TTL_S: '0',
      // The burst queues for longer than the default 10 s wait; the wait is sized to it.
      CONCORD_CAPACITY_WAIT_MS: '60000',
      CONCORD_SUBGRAPH_TIMEOUT_MS: '90000',
      CONCORD_REQUEST_TIMEOUT_MS: '120000',
      CONCORD_MUTATION_WAIT_MS: '60000',
      ...vendorEnv,
    };
    // Three port ranges that do not overlap (each API takes PORT..PORT+4), all started at once.
    const ranges: number[] = [];
    while (ranges.length < 3) {
      const port = await freeRange(5);
      if (ranges.every((other) => Math.abs(other - port) >= 5)) ranges.push(port);
    }
    for (const port of ranges) apis.push({ port, proc: npmRun('start', { ...production, PORT: String(port), CONCORD_WORKERS: '0' }) });
    for (let i = 0; i < 2; i++) workers.push(npmRun('worker', { ...production, CONCORD_WORKER_PORT: String(await freePort()) }));
    await Promise.all([...apis.map((a) => a.proc.waitFor(/concord API ready/, 150_000)), ...workers.map((w) => w.waitFor(/worker ready/, 150_000))]);
    token = await mintToken({ secret: JWT_SECRET, subject: 'capacity-client', scopes: SCOPES, ttl: '10m', issuer: 'https://idp.capacity.example', audience: 'concord-capacity' });
  }, 300_000);

  afterAll(async () => {
    await Promise.all([simulators, ...apis.map((a) => a.proc), ...workers].filter(Boolean).map((p) => p.stop()));
    await redis?.stop();
  }, 60_000);

  it('keeps NetSuite to 5 at once and Stripe to its rate, while every view answers and every run completes', async () => {
    const netsuite = vendorEnv.NETSUITE_BASE_URL;
    const stripe = vendorEnv.STRIPE_API_BASE;
    const crm = await simCall(vendorEnv.SALESFORCE_INSTANCE_URL, 'state');
    const held = new Set(crm.Account.filter((a: any) => a.Concord_Status__c === 'Credit Hold').map((a: any) => a.Id));
    const ready = crm.Opportunity.filter((o: any) => o.IsWon && !o.Billing_Subscription_Id__c && !held.has(o.AccountId));
    expect(ready.length).toBeGreaterThanOrEqual(RUNS);
    // Counters from zero, and NetSuite slow enough that its limit, not the machine, bounds the burst.
    await Promise.all([simCall(netsuite, 'reset', {}), simCall(stripe, 'reset', {})]);
    await simCall(netsuite, 'faults', { latencyMs: NETSUITE_LATENCY_MS });

    const view = readFileSync(path.join(ROOT, 'examples', 'unified-view.graphql'), 'utf8');
    const started = performance.now();
    const [views, runs, reconciliation] = await Promise.all([
      Promise.all(Array.from({ length: VIEWS }, (_, i) => gql(apis[i % 3].port, view, { first: 50 }))),
      (async () => {
        const starts = await Promise.all(
          ready.slice(0, RUNS).map((o: any, i: number) =>
            gql(apis[i % 3].port, `mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { ${RUN_FIELDS} } }`, { input: { opportunityId: o.Id, idempotencyKey: `capacity-${o.Id}` } }),
          ),
        );
        for (const { body } of starts) expect(body.errors).toBeUndefined();
        const ids: string[] = starts.map(({ body }) => body.data.startOrderToCash.id);
        return until(
          'every run settled',
          async () => {
            const all = await Promise.all(ids.map(async (id) => (await gql(apis[0].port, `query($id: ID!) { orderToCashRun(id: $id) { ${RUN_FIELDS} } }`, { id })).body.data?.orderToCashRun));
            return all.every((run) => run && ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'].includes(run.status)) ? all : undefined;
          },
          150_000,
          250,
        );
      })(),
      (async () => {
        const { body } = await gql(apis[2].port, 'mutation { runReconciliation { id status } }');
        expect(body.errors).toBeUndefined();
        return until(
          'the reconciliation finished',
          async () => {
            const report = (await gql(apis[2].port, 'query($id: ID!) { reconciliationReport(id: $id) { status error vendorCalls { system calls } } }', { id: body.data.runReconciliation.id })).body.data?.reconciliationReport;
            return report && report.status !== 'RUNNING' ? report : undefined;
          },
          150_000,
          250,
        );
      })(),
    ]);
    const totalMs = performance.now() - started;
    const [ns, st] = await Promise.all([simCall(netsuite, 'stats'), simCall(stripe, 'stats')]);

    // The floor: NetSuite's calls at 5 at a time, each at least the added latency; Stripe's at RATE a second.
    const netsuiteFloorMs = Math.ceil(ns.requests / NETSUITE_CONCURRENCY) * NETSUITE_LATENCY_MS;
    const stripeFloorMs = Math.max(0, (st.requests - RATE) / RATE) * 1000;
    process.stdout.write(
      [
        `capacity-scale: ${VIEWS} unified views over 3 APIs + ${RUNS} order-to-cash runs on 2 workers + 1 reconciliation`,
        `  NetSuite: ${ns.requests} requests, peak ${ns.peakDemand} asked at once (served at most ${ns.maxInFlight}, limit ${NETSUITE_CONCURRENCY}), ${ns.concurrencyRejections} refused`,
        `  Stripe:   ${st.requests} requests, busiest second ${st.busiestSecond} (rate ${RATE}/s)`,
        `  total ${(totalMs / 1000).toFixed(1)} s; floor ${(Math.max(netsuiteFloorMs, stripeFloorMs) / 1000).toFixed(1)} s (NetSuite ${(netsuiteFloorMs / 1000).toFixed(1)} s at ${NETSUITE_LATENCY_MS} ms a call, Stripe ${(stripeFloorMs / 1000).toFixed(1)} s)`,
        '',
      ].join('\n'),
    );
    for (const { status, body } of views) {
      expect(body.errors).toBeUndefined();
      expect(status).toBe(200);
      expect(body.data.customers.edges).toHaveLength(50);
    }
    expect(runs.map((run: any) => run.status)).toEqual(Array(RUNS).fill('COMPLETED'));
    expect(reconciliation).toMatchObject({ status: 'COMPLETED', error: null });
    expect(ns.requests).toBeGreaterThan(NETSUITE_CONCURRENCY * 4);
    expect(ns.peakDemand).toBeLessThanOrEqual(NETSUITE_CONCURRENCY);
    expect(ns.concurrencyRejections).toBe(0);
    // The burst pressed on the limits: Stripe's calls needed many seconds at its rate.
    expect(st.requests).toBeGreaterThan(RATE * 5);
    expect(st.busiestSecond).toBeLessThanOrEqual(RATE);
  }, 240_000);
});
