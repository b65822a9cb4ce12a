/**
 * Concord on a real Redis Cluster (three masters of the test's own, REDIS_URL=redis+cluster://...):
 * an API without workers and an `npm run worker` process on it; order-to-cash runs complete on the
 * worker with exactly one effect per system, a live-event subscription gets
 * its events and resumes from a cursor, the gateway's rate limit refuses a subject over its budget,
 * and Concord's keys are found on every master (SCAN on each: a master holds only its own slots).
 */
import { Cluster } from 'ioredis';
import { redisReadiness } from '../../core/readiness';
import { createRedisClient, redisMasters } from '../../core/redis';
import { createRedisRateLimiter } from '../../gateway/rate-limit';
import { SCOPES, mintToken } from '../../gateway/token';
import { effectsOf, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { freePort, npmRun, type Proc } from '../helpers/processes';
import { startOwnRedisCluster, type OwnRedisCluster } from '../helpers/redis';
import { TEST_JWT_SECRET, startTestSystem, type TestSystem } from '../helpers/system';
import { STRIPE_TAX_RATE_ID } from '../../simulators/common/seed';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { subscribe, wsClient } from '../events/helpers';

jest.setTimeout(240_000);

const PREFIX = 'concord-cluster-test';

describe('on a Redis Cluster of three masters', () => {
  let cluster: OwnRedisCluster;
  let system: TestSystem;
  let worker: Proc | null = null;
  let workerPort: number;
  let opportunities: { id: string; accountId: string }[];
  const clients: { dispose(): void | Promise<void> }[] = [];

  beforeAll(async () => {
    cluster = await startOwnRedisCluster();
    system = await startTestSystem({ env: { REDIS_URL: cluster.url, CONCORD_REDIS_PREFIX: PREFIX, CONCORD_POLL_INTERVAL_MS: '0', CONCORD_WORKERS: '0' } });
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
    // The worker reaches the test system's simulators as it would reach real vendors.
    const ns = SIMULATOR_CREDENTIALS.netsuite;
    workerPort = await freePort();
    worker = npmRun('worker', {
      REDIS_URL: cluster.url,
      CONCORD_REDIS_PREFIX: PREFIX,
      CONCORD_WORKER_PORT: String(workerPort),
      CONCORD_POLL_INTERVAL_MS: '0',
      SALESFORCE_INSTANCE_URL: system.simulators.salesforce!.url,
      SALESFORCE_ACCESS_TOKEN: SIMULATOR_CREDENTIALS.salesforceToken,
      STRIPE_API_KEY: SIMULATOR_CREDENTIALS.stripeKey,
      STRIPE_API_BASE: system.simulators.stripe!.url,
      CONCORD_STRIPE_TAX_RATE_ID: STRIPE_TAX_RATE_ID,
      NETSUITE_ACCOUNT_ID: ns.accountId,
      NETSUITE_BASE_URL: system.simulators.netsuite!.url,
      NETSUITE_CONSUMER_KEY: ns.consumerKey,
      NETSUITE_CONSUMER_SECRET: ns.consumerSecret,
      NETSUITE_TOKEN_ID: ns.tokenId,
      NETSUITE_TOKEN_SECRET: ns.tokenSecret,
    });
    await worker.waitFor(/worker ready/, 120_000);
  }, 240_000);
  const closeSystem = async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await worker?.stop();
    worker = null;
    await system?.close();
    system = undefined as unknown as TestSystem;
  };
  afterAll(async () => {
    await closeSystem();
    await cluster?.stop();
  });

  it('is ready: the API and the worker ask the cluster (cluster_state:ok) on /ready', async () => {
    for (const url of [system.gateway.url, `http://127.0.0.1:${workerPort}`]) {
      const ready = await fetch(`${url}/ready`);
      const body = await ready.json();
      expect({ url, status: ready.status, redis: body.checks?.redis }).toEqual({ url, status: 200, redis: 'up' });
    }
  });

  it('runs order-to-cash: every run completes with one effect in each system', async () => {
    const deals = opportunities.splice(0, 4);
    const started = await Promise.all(deals.map((opp) => startRun(system, opp.id, `cluster-${opp.id}`)));
    for (const s of started) expect(s.body.errors).toBeUndefined();
    const runs = await Promise.all(started.map((s) => waitForRun(system, s.body.data.startOrderToCash.id, undefined, 120_000)));
    expect(runs.map((r) => r.status)).toEqual(deals.map(() => 'COMPLETED'));
    for (const [i, opp] of deals.entries()) {
      const effects = await effectsOf(system, opp.id, opp.accountId);
      expect({
        deal: opp.id,
        erpCustomers: effects.erpCustomers.length,
        subscriptions: effects.subscriptions.length,
        invoices: effects.invoices.length,
        erpInvoices: effects.erpInvoices.length,
        crm: effects.opportunity.Concord_Order_Status__c,
      }).toEqual({ deal: opp.id, erpCustomers: 1, subscriptions: 1, invoices: 1, erpInvoices: 1, crm: 'Completed' });
      expect(runs[i].opportunityId).toBe(opp.id);
    }
    // The same key again is a replay (the key's slot and the run's slot are two units), and the
    // deal cannot get a second run under another key (the opportunity's slot).
    const replay = await startRun(system, deals[0].id, `cluster-${deals[0].id}`);
    expect(replay.body.data.startOrderToCash.id).toBe(runs[0].id);
    const second = await startRun(system, deals[0].id, `cluster-again-${deals[0].id}`);
    expect(second.body.errors?.[0].extensions.code).toBe('CONFLICT');
    // Listing and counts read the index unit.
    const { body } = await system.gql(`{ orderToCashRuns(first: 50, status: COMPLETED) { edges { node { id } } } }`);
    expect(body.errors).toBeUndefined();
    const listed = body.data.orderToCashRuns.edges.map((e: any) => e.node.id);
    for (const run of runs) expect(listed).toContain(run.id);
  });

  it('delivers live events to a subscription, and resumes after a disconnect without gap or duplicate', async () => {
    const opp = opportunities.shift()!;
    const head = (await system.events.log.head()) ?? '0-0';
    const query = `subscription Mine($customer: ID!, $after: String) {
      customerEvents(customerId: $customer, after: $after) { id type detail run { id } }
    }`;
    const first = wsClient(system.gateway.url, system.token);
    clients.push(first);
    const before = subscribe(first, query, { customer: opp.accountId, after: head });
    const started = await startRun(system, opp.id, `cluster-live-${opp.id}`);
    const runId = started.body.data.startOrderToCash.id as string;
    await before.until((p) => p.length >= 2, 60_000);
    await first.dispose();
    const seen = before.payloads.map((p) => p.data.customerEvents);

    await waitForRun(system, runId, undefined, 120_000);
    const second = wsClient(system.gateway.url, system.token);
    clients.push(second);
    const after = subscribe(second, query, { customer: opp.accountId, after: seen[seen.length - 1].id });
    await after.until(
      (p) => p.some((x) => x.data?.customerEvents.type === 'RUN_STATUS_CHANGED' && JSON.parse(x.data.customerEvents.detail).status === 'COMPLETED'),
      60_000,
    );
    const received = [...seen, ...after.payloads.map((p) => p.data.customerEvents)].map((e) => e.id);
    const expected = (await system.events.log.read(head, 10_000)).filter((e) => e.customerId === opp.accountId).map((e) => e.id);
    expect(new Set(received).size).toBe(received.length);
    expect(received).toEqual(expected.slice(0, received.length));
    expect(after.payloads.length).toBeGreaterThan(0);
  });

  it('refuses a subject over its rate limit, with one bucket per subject shared by every replica', async () => {
    // A gateway of its own with a small budget (5 at once, 1 a second), on the same cluster, and a
    // second limiter on the same cluster and prefix standing in for another replica.
    const limited = await startTestSystem({
      env: { REDIS_URL: cluster.url, CONCORD_REDIS_PREFIX: PREFIX, CONCORD_WORKERS: '0', CONCORD_RATE_LIMIT_RPS: '1', CONCORD_RATE_LIMIT_BURST: '5' },
    });
    const replica = createRedisRateLimiter({ url: cluster.url, prefix: PREFIX, perSecond: 1, burst: 5 });
    try {
      const ask = (token: string) =>
        fetch(`${limited.gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
      // Several subjects, so their buckets (a slot each) fall on different masters.
      for (let i = 0; i < 12; i++) {
        const subject = `cluster-rate-${i}`;
        const token = await mintToken({ secret: TEST_JWT_SECRET, subject, scopes: SCOPES });
        // The other replica spends 3 of the 5; this gateway gets what is left plus what refilled
        // meanwhile (1 a second), never a bucket of its own.
        const began = Date.now();
        for (let n = 0; n < 3; n++) expect((await replica.take(subject)).allowed).toBe(true);
        let allowed = 0;
        let refused: Response | null = null;
        for (let n = 0; n < 20 && !refused; n++) {
          const response = await ask(token);
          if (response.status === 200) allowed += 1;
          else refused = response;
        }
        const refilled = Math.floor((Date.now() - began) / 1000) + 1;
        expect(refused?.status).toBe(429);
        expect(allowed).toBeGreaterThanOrEqual(2);
        expect(3 + allowed).toBeLessThanOrEqual(5 + refilled);
        expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect((await refused!.json()).errors[0].extensions.code).toBe('RATE_LIMITED');
      }
    } finally {
      await replica.close();
      await limited.close();
    }
  });

  it("has Concord's keys on all three masters", async () => {
    const client = createRedisClient(cluster.url) as Cluster;
    try {
      await new Promise<void>((resolve, reject) => (client.status === 'ready' ? resolve() : client.once('ready', resolve).once('error', reject)));
      const masters = redisMasters(client);
      expect(masters).toHaveLength(3);
      const perMaster: Record<string, Record<string, number>> = {};
      for (const master of masters) {
        const kinds: Record<string, number> = {};
        let cursor = '0';
        do {
          const [next, keys] = await master.scan(cursor, 'MATCH', `{${PREFIX}*`, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) {
            // {prefix:o2c:run:<id>} -> o2c:run, {prefix:queue:o2c-erp}:... -> queue, ...
            const unit = key.slice(PREFIX.length + 2, key.indexOf('}')).split(':');
            const kind = unit[0] === 'o2c' || unit[0] === 'wf' ? unit.slice(0, 2).join(':') : unit[0];
            kinds[kind] = (kinds[kind] ?? 0) + 1;
          }
        } while (cursor !== '0');
        perMaster[`${master.options.host}:${master.options.port}`] = kinds;
      }
      console.log(`Concord keys per master: ${JSON.stringify(perMaster)}`);
      for (const kinds of Object.values(perMaster)) expect(Object.values(kinds).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      // Runs, queues, the event stream and rate buckets all exist somewhere in the cluster.
      const all = Object.values(perMaster).flatMap((kinds) => Object.keys(kinds));
      for (const kind of ['o2c:run', 'o2c:idem', 'o2c:opp', 'o2c:index', 'queue', 'events', 'ratelimit']) expect(all).toContain(kind);
    } finally {
      client.disconnect();
    }
  });

  it('is not ready once a master is lost (cluster_state:fail)', async () => {
    await closeSystem(); // Concord's own clients would only retry against the lost node
    const readiness = redisReadiness(cluster.url);
    try {
      expect(await readiness.check()).toBe('up');
      await cluster.kill(cluster.ports[0]);
      const deadline = Date.now() + 60_000;
      let state = await readiness.check();
      while (state === 'up' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        state = await readiness.check();
      }
      console.log(`readiness after losing a master: ${state}`);
      expect(state).toMatch(/^down \(/);
    } finally {
      await readiness.close();
    }
  });
});
