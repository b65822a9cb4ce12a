/**
 * Graceful overload through the real gateway (gateway/overload.ts): with one execution in flight and
 * a short queue, a request beyond them is answered at once with 503, Retry-After and
 * SERVICE_UNAVAILABLE while the held ones finish when the vendor answers; queued requests run in
 * the order they came; /health, /ready and /metrics are never shed; the refusals are counted.
 * The vendor is held by the Salesforce simulator's `hold` fault and released by the test: no timing.
 */
import { scrape, total, until } from '../ops/helpers';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { createExecutionGate, OverloadedError } from '../../gateway/overload';

const CUSTOMER = `query Overload($id: ID!) { customer(id: $id) { id name } }`;

describe('graceful overload at the gateway', () => {
  let system: TestSystem;
  let salesforce: string;
  let accounts: string[];

  beforeAll(async () => {
    system = await startTestSystem({
      // Polling off: nothing but the test's own requests reaches the held simulator.
      env: { CONCORD_MAX_IN_FLIGHT: '1', CONCORD_QUEUE_LENGTH: '3', CONCORD_QUEUE_WAIT_MS: '120000', CONCORD_POLL_INTERVAL_MS: '0' },
    });
    salesforce = system.simulators.salesforce!.url;
    accounts = (await simCall<{ Account: { Id: string }[] }>(salesforce, 'state')).Account.map((account) => account.Id);
  });
  afterAll(async () => {
    await simCall(salesforce, 'faults', { hold: false }).catch(() => undefined);
    await system?.close();
  });
  afterEach(() => simCall(salesforce, 'faults', { hold: false }));

  const metric = async (name: string, labels: Record<string, string> = {}) => total((await scrape(system.gateway.url)).samples, name, labels);
  const held = async () => (await simCall<{ held: number }>(salesforce, 'stats')).held;
  const customerIds = () => accounts;

  it('answers a request beyond the slot and the queue at once with 503, Retry-After and SERVICE_UNAVAILABLE; the held ones complete', async () => {
    const [a, b, , , c] = customerIds();
    await simCall(salesforce, 'faults', { hold: true });
    const shedBefore = await metric('concord_gateway_shed_total', { reason: 'queue_full' });

    const first = system.gql(CUSTOMER, { id: a });
    await until('the first request held at the vendor', async () => (await held()) === 1);
    const queued = [system.gql(CUSTOMER, { id: b }), system.gql(CUSTOMER, { id: c }), system.gql(CUSTOMER, { id: a })];
    await until('three requests queued', async () => (await metric('concord_gateway_executions_queued')) === 3);

    const refused = await system.gql(CUSTOMER, { id: b });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors![0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, retryAfterSeconds: Number(refused.headers.get('retry-after')), correlationId: expect.any(String) });
    expect(refused.body.data).toBeUndefined();

    // Never shed: health, readiness and metrics answer while every slot and the queue are taken.
    expect((await fetch(`${system.gateway.url}/health`)).status).toBe(200);
    expect((await fetch(`${system.gateway.url}/ready`)).status).toBe(200);
    const scraped = await scrape(system.gateway.url);
    expect(scraped.status).toBe(200);
    expect(total(scraped.samples, 'concord_gateway_shed_total', { reason: 'queue_full' })).toBe(shedBefore + 1);
    expect(total(scraped.samples, 'concord_gateway_executions_in_flight')).toBe(1);
    expect(total(scraped.samples, 'concord_gateway_errors_total', { code: 'SERVICE_UNAVAILABLE' })).toBeGreaterThanOrEqual(1);
    // Still held: the first one has not been answered.
    expect(await held()).toBe(1);

    await simCall(salesforce, 'faults', { hold: false });
    const answers = await Promise.all([first, ...queued]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((r) => r.body.data?.customer?.id)).toEqual([a, b, c, a]);
    expect(answers.every((r) => r.body.errors === undefined)).toBe(true);
    expect(await metric('concord_gateway_executions_in_flight')).toBe(0);
  }, 60_000);

  it('runs queued requests first come, first served', async () => {
    const ids = customerIds().slice(5, 9);
    await simCall(salesforce, 'faults', { hold: true });
    const order: string[] = [];
    const send = (id: string) => system.gql(CUSTOMER, { id }).then((r) => {
      order.push(r.body.data?.customer?.id ?? `error ${r.status}`);
      return r;
    });
    const sent = [send(ids[0])];
    await until('the first request held at the vendor', async () => (await held()) === 1);
    // Each one queued before the next is sent, so the order they came in is known.
    for (let i = 1; i < ids.length; i += 1) {
      sent.push(send(ids[i]));
      await until(`${i} requests queued`, async () => (await metric('concord_gateway_executions_queued')) === i);
    }
    await simCall(salesforce, 'faults', { hold: false });
    await Promise.all(sent);
    expect(order).toEqual(ids);
  }, 60_000);
});

describe('execution gate queue wait', () => {
  it('refuses a request that waited queueWaitMs for its turn, and hands the slot to the next one still waiting', async () => {
    // The queue's clock is the test's: timers fire when the test says.
    const pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
    const timers = {
      setTimeout: (fn: () => void, ms: number) => {
        const timer = { fn, ms, cleared: false };
        pending.push(timer);
        return timer;
      },
      clearTimeout: (timer: unknown) => {
        (timer as { cleared: boolean }).cleared = true;
      },
    };
    const reasons: string[] = [];
    const gate = createExecutionGate({ maxInFlight: 1, queueLength: 2, queueWaitMs: 2500, timers, onShed: (r) => reasons.push(r) });
    const release = (await gate.acquire()) as () => void;
    const late = gate.acquire();
    const next = gate.acquire();
    expect(gate.stats()).toMatchObject({ inFlight: 1, queued: 2 });
    expect(() => gate.acquire()).toThrow(OverloadedError);

    pending[0].fn();
    await expect(late).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'queue_timeout', retryAfterSeconds: 3 });
    expect(gate.stats()).toMatchObject({ inFlight: 1, queued: 1, shed: 2 });
    expect(reasons).toEqual(['queue_full', 'queue_timeout']);

    release();
    const second = await next;
    expect(pending[1].cleared).toBe(true);
    expect(gate.stats()).toMatchObject({ inFlight: 1, queued: 0 });
    second();
    second();
    expect(gate.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});
