/**
 * Issue 15, item 5: a run the API accepted is never unknown afterwards. Under the load where it was
 * seen (six busy loops beside the test, three per core of the 2-core machine, and 20% vendor
 * faults), every read of an accepted run through the API is the run itself or an error with a
 * retryable code; never null. And when the store cannot be read at all (its Redis killed), the
 * answer is the retryable SERVICE_UNAVAILABLE, not "no such run"; once Redis is back (from its AOF),
 * the same run reads again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { startOwnRedis, type OwnRedis } from '../helpers/redis';
import { buildSeed } from '../../simulators/common/seed';

// Generous deadlines, not latency assertions: the test loads the machine on purpose.
jest.setTimeout(900_000);

// Ten runs at once are enough to press a busy store: the suite runs beside this test under its busy loops.
const RUNS = 10;
const BUSY_LOOPS = 6;
const READ = `query($id: ID!) { orderToCashRun(id: $id) { id status } }`;

describe('an accepted run is never unknown (redis engine, busy machine)', () => {
  let redis: OwnRedis;
  let system: TestSystem;
  // `yes > /dev/null`, as in the runs; ended by their own handles in afterAll.
  const busy: ChildProcess[] = [];

  beforeAll(async () => {
    // A Redis of the test's own (AOF on), so the test can kill it; its keys go with its directory.
    redis = await startOwnRedis();
    system = await startTestSystem({
      seed: buildSeed({ customers: 120 }),
      env: { REDIS_URL: redis.url, CONCORD_REDIS_PREFIX: 'concord-unknown', CONCORD_O2C_MAX_ATTEMPTS: '25' },
    });
    for (let i = 0; i < BUSY_LOOPS; i++) busy.push(spawn('yes', [], { stdio: 'ignore' }));
  });

  afterAll(async () => {
    for (const child of busy) child.kill('SIGKILL');
    // Bounded: after its Redis was killed and restarted the system's close has been seen to wait for
    // good (a known open problem: a process whose Redis went away may not finish closing). The test's
    // assertions are made by then; what is left open is ended with the jest worker.
    let bound: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      system?.close().then(() => true),
      new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(false), 60_000))),
    ]);
    clearTimeout(bound);
    if (!closed) console.warn('run-never-unknown: the system did not finish closing within 60 s after its Redis restart');
    await redis?.stop();
  });

  it('reads every accepted run as itself or a retryable error, under load and with its store down', async () => {
    const sims = system.simulators;
    const opportunities = (await readyOpportunities(sims.salesforce!.url)).slice(0, RUNS);
    expect(opportunities).toHaveLength(RUNS);
    for (const sim of [sims.salesforce!, sims.stripe!, sims.netsuite!]) {
      await simCall(sim.url, 'faults', { rate: 0.2, kinds: ['429', '500', 'timeout', 'reset'], timeoutMs: 1000, seed: 7 });
    }
    try {
      // Start (a client retries a retryable refusal with the same key), then read from acceptance
      // on: waitForRun fails at once on a null answer or on an error without a retryable code.
      const runs = await Promise.all(
        opportunities.map(async (opp) => {
          // Generous: twenty starts at once under six busy loops and 20% faults (a start reads the deal and
          // the fulfilment check through faulty vendors) took over two minutes in a full suite.
          const deadline = Date.now() + 300_000;
          let last: unknown = null;
          while (Date.now() < deadline) {
            const response = await startRun(system, opp.id, `unknown-${opp.id}`).catch((error: Error) => ({ status: 0, body: { errors: [{ message: error.message, extensions: { retryable: true } }] } }) as any);
            const run = response.body?.data?.startOrderToCash;
            if (run) return waitForRun(system, run.id, ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'], 300_000);
            last = response.body?.errors ?? response.status;
            const retryable = response.status === 503 || response.status === 429 || (response.body?.errors ?? []).every((e: any) => e.extensions?.retryable === true);
            if (!retryable) throw new Error(`start for ${opp.id} refused: ${JSON.stringify(last)}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          throw new Error(`could not start a run for ${opp.id}: ${JSON.stringify(last)}`);
        }),
      );
      expect(runs.filter((r) => r.status !== 'COMPLETED').map((r) => ({ id: r.id, status: r.status }))).toEqual([]);

      // The store unreadable: each run answers a retryable error, not null.
      await redis.kill();
      try {
        for (const run of runs.slice(0, 5)) {
          const { body } = await system.gql(READ, { id: run.id });
          expect(body.data?.orderToCashRun ?? null).toBeNull();
          expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
        }
      } finally {
        // Back from its AOF, whatever happened above (the system closes cleanly only with its Redis).
        await redis.restart();
      }
      // The same runs, as they were (read through the reconnect).
      for (const run of runs.slice(0, 5)) expect((await waitForRun(system, run.id, ['COMPLETED'], 120_000)).id).toBe(run.id);
    } finally {
      for (const sim of [sims.salesforce!, sims.stripe!, sims.netsuite!]) await simCall(sim.url, 'faults', { rate: 0 });
    }
  });
});
