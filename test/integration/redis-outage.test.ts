/**
 * Redis stopped and restarted during requests, on a redis-server of the test's own: requests that
 * need it answer SERVICE_UNAVAILABLE (retryable, with a clear message) instead of hanging and
 * answering INTERNAL; /ready is 503 while the orchestration subgraph cannot reach it and 200 again
 * after; a start refused during the outage stored nothing, and replayed with its key afterwards
 * completes exactly once (counted in the simulators' /__sim/state). The work queues' enqueue has
 * the same command timeout (test/contract/work-queues.test.ts, Redis unreachable).
 */
import { effectsOf, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { startOwnRedis, type OwnRedis } from '../helpers/redis';
import { startTestSystem, type TestSystem } from '../helpers/system';

jest.setTimeout(180_000);

describe('Redis outage (own redis-server)', () => {
  let redis: OwnRedis;
  let system: TestSystem;
  let opportunities: { id: string; accountId: string }[];

  beforeAll(async () => {
    redis = await startOwnRedis();
    system = await startTestSystem({
      env: { REDIS_URL: redis.url, CONCORD_REDIS_PREFIX: 'outage', CONCORD_REDIS_COMMAND_TIMEOUT_MS: '1000', CONCORD_O2C_LEASE_MS: '5000' },
    });
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
  });
  afterAll(async () => {
    await system.close();
    await redis.stop();
  });

  const readyStatus = async () => (await fetch(`${system.gateway.url}/ready`)).status;
  async function waitForReady(status: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await readyStatus()) === status) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`/ready never answered ${status}`);
  }

  it('fails fast with SERVICE_UNAVAILABLE while Redis is down, /ready 503, and replays complete exactly once after', async () => {
    const before = opportunities.shift()!;
    const first = await startRun(system, before.id, `outage-before-${before.id}`);
    expect(first.body.errors).toBeUndefined();
    const firstRun = await waitForRun(system, first.body.data.startOrderToCash.id);
    expect(firstRun.status).toBe('COMPLETED');
    expect(await readyStatus()).toBe(200);

    await redis.kill();

    // Reads of runs and new starts: a retryable SERVICE_UNAVAILABLE with the error contract.
    const read = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { id status } }`, { id: firstRun.id });
    expect(read.body.errors?.[0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, correlationId: expect.any(String) });
    expect(read.body.errors?.[0].message).toMatch(/cannot reach its state store \(Redis\)/);

    const during = opportunities.splice(0, 3);
    for (const opp of during) {
      const started = await startRun(system, opp.id, `outage-${opp.id}`);
      expect(started.body.errors?.[0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    }
    await waitForReady(503);
    const ready = await (await fetch(`${system.gateway.url}/ready`)).json();
    // The gateway's own Redis check says so (and the orchestration subgraph's /ready, for probes that ask it).
    expect(ready.checks.redis).toMatch(/^down/);

    await redis.restart();
    await waitForReady(200);
    // Nothing half-written: the refused starts stored no run (their replays below start them).
    for (const opp of during) expect(await system.orchestration.store.forOpportunity(opp.id)).toBeNull();

    // The same starts again, by their keys: each deal ends with exactly one fulfilment.
    for (const opp of during) {
      const replayed = await startRun(system, opp.id, `outage-${opp.id}`);
      expect(replayed.body.errors).toBeUndefined();
      const run = await waitForRun(system, replayed.body.data.startOrderToCash.id);
      expect(run.status).toBe('COMPLETED');
      const effects = await effectsOf(system, opp.id, opp.accountId);
      expect(effects.subscriptions).toHaveLength(1);
      expect(effects.invoices).toHaveLength(1);
      expect(effects.erpInvoices).toHaveLength(1);
    }
    // The run made before the outage is still there (AOF), unchanged.
    const after = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { id status } }`, { id: firstRun.id });
    expect(after.body.data.orderToCashRun).toEqual({ id: firstRun.id, status: 'COMPLETED' });
  });
});
