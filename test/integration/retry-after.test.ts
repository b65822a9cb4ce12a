/**
 * One retry policy per vendor, never multiplied (docs/vendors.md "Who retries what"): a vendor
 * asking for a long pause (`Retry-After: 60`) gets it, as a delayed job in the queue (BullMQ, on
 * Redis), not as a timer in a worker's memory; and each attempt of the step is exactly one call to
 * the vendor (the simulator's own request counter), whatever layer would otherwise retry.
 */
import { getRun, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

describe('a vendor Retry-After longer than a call may wait (redis)', () => {
  let system: TestSystem;
  const keys = testPrefix('retry-after');

  beforeAll(async () => {
    system = await startTestSystem({ env: { REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix } });
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('makes the run WAITING_RETRY with its next attempt ~60 s out, each Stripe read of the attempt sent once', async () => {
    const stripe = system.simulators.stripe!;
    const [opportunity] = await readyOpportunities(system.simulators.salesforce!.url);
    // startOrderToCash reads billing before accepting the deal (exactly once per deal): Stripe starts
    // refusing once the run is accepted, while the ERP's first step is held up by latency.
    const netsuite = system.simulators.netsuite!;
    await simCall(netsuite.url, 'faults', { rate: 0, latencyMs: 3000 });
    const started = await startRun(system, opportunity.id, `retry-after-${opportunity.id}`);
    expect(started.body.errors).toBeUndefined();
    const runId = started.body.data!.startOrderToCash.id as string;
    await simCall(stripe.url, 'reset', {});
    // Every Stripe request is refused with 429 + Retry-After: 60 (a rate limit: no Stripe-Should-Retry).
    await simCall(stripe.url, 'faults', { rate: 1, kinds: ['429'], retryAfterSeconds: 60 });
    await simCall(netsuite.url, 'faults', { rate: 0, latencyMs: 0 });
    const waiting = await waitForRun(system, runId, ['WAITING_RETRY']);
    const asked = Date.now();

    const step = waiting.steps.find((s: any) => s.status === 'WAITING_RETRY');
    expect(step).toMatchObject({ system: 'BILLING', attempts: 1, lastError: { code: 'VENDOR_RATE_LIMITED', retryable: true } });
    // The scheduled attempt, as the run records it and as the queue holds it.
    const { body } = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { steps { name nextAttemptAt } } }`, { id: runId });
    const next = body.data.orderToCashRun.steps.find((s: any) => s.name === step.name).nextAttemptAt as string;
    const delayMs = Date.parse(next) - asked;
    expect(delayMs).toBeGreaterThan(50_000);
    expect(delayMs).toBeLessThanOrEqual(60_000);
    const backlog = await system.orchestration.queues.backlog();
    expect(backlog.BILLING.delayed).toBeGreaterThanOrEqual(1);

    // One attempt, each of its reads sent once (the customer search and the list of customers newer
    // than the search lag): neither the SDK, nor the adapter, nor the engine retried one at once.
    const stats = await simCall(stripe.url, 'stats');
    expect(stats.byRoute).toEqual({ 'GET /v1/customers/search': 1, 'GET /v1/customers': 1 });
    expect(stats.faults['429']).toBe(stats.requests);
    expect((await getRun(system, runId)).status).toBe('WAITING_RETRY');
    await simCall(stripe.url, 'faults', { rate: 0 });
  });
});
