/**
 * Reconciliation on a schedule, with two replicas sharing Redis: every interval is reconciled by
 * exactly one of them, runs never overlap (the lock), a manual run during a scheduled one gets the
 * running report, and a lock whose holder died runs out and frees the next run. The same scheduler
 * in embedded mode (memory) is a local timer.
 */
import { createLogger } from '../../core/log';
import { loadConfig } from '../../core/config';
import { buildSeed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { createNetSuiteSimulator } from '../../simulators/netsuite/server';
import { createSalesforceSimulator } from '../../simulators/salesforce/server';
import { createStripeSimulator } from '../../simulators/stripe/server';
import type { KeyValueStore } from '../../subgraphs/orchestration/kv';
import { createMemoryKeyValueStore } from '../../subgraphs/orchestration/kv-memory';
import { createRedisKeyValueStore } from '../../subgraphs/orchestration/kv-redis';
import { RECONCILIATION_LOCK, createReconciler, type Reconciler } from '../../subgraphs/orchestration/reconciliation/reconciler';
import { createReportStore, type ReconciliationReport } from '../../subgraphs/orchestration/reconciliation/report-store';
import { startReconciliationScheduler } from '../../subgraphs/orchestration/reconciliation/scheduler';
import type { Ports } from '../../subgraphs/orchestration/steps';
import { createVendorPorts } from '../../system';
import { REDIS_URL, testPrefix } from '../helpers/redis';

// Generous: a busy machine is slow, not wrong (the waits inside poll for signals).
jest.setTimeout(120_000);

const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FAST = { CRM: 1000, BILLING: 1000, ERP: 1000 };
// The shared test Redis answers slowly on a busy machine; this test is about slots, not outages,
// so a command may take long rather than fail as SERVICE_UNAVAILABLE after the default 2 s.
const REDIS_COMMAND_TIMEOUT_MS = 30_000;

describe('scheduled reconciliation', () => {
  const seed = buildSeed({ customers: 12 });
  let sims: SimServer[];
  let ports: Ports;

  beforeAll(async () => {
    const [salesforce, stripe, netsuite] = await Promise.all([
      createSalesforceSimulator({ seed }).listen(0),
      createStripeSimulator({ seed }).listen(0),
      createNetSuiteSimulator({ seed }).listen(0),
    ]);
    sims = [salesforce, stripe, netsuite];
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), { salesforce, stripe, netsuite });
  });
  afterAll(async () => {
    for (const sim of sims) await sim.close();
  });

  /** A replica: its own connection to the shared store, its own reconciler. */
  function replica(kv: KeyValueStore): { kv: KeyValueStore; reconciler: Reconciler } {
    return { kv, reconciler: createReconciler({ ports, kv, reports: createReportStore({ kv }), logger, pace: FAST, lockTtlMs: 5000 }) };
  }

  const noOverlap = (reports: ReconciliationReport[]) => {
    const sorted = [...reports].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    for (let i = 1; i < sorted.length; i++) expect(Date.parse(sorted[i].startedAt)).toBeGreaterThanOrEqual(Date.parse(sorted[i - 1].finishedAt!));
  };

  /**
   * Time in these tests is a clock of their own, moved a slot at a time: the scheduler and the
   * reconciler read it (`now`), so a slot lasts as long as the test needs, however busy the machine.
   * The real timer only says how often the scheduler looks (tickMs).
   */
  function testClock(intervalMs: number) {
    let ms = (Math.floor(Date.now() / intervalMs) + 1) * intervalMs + 1; // just inside a slot
    let reads = 0;
    return {
      now: () => {
        reads += 1;
        return ms;
      },
      date: () => new Date(ms),
      get ms() {
        return ms;
      },
      get reads() {
        return reads;
      },
      /** Into the next slot. */
      nextSlot: () => void (ms += intervalMs),
    };
  }

  /** Poll `check` until it holds, or fail after a generous deadline. */
  async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** A key-value store that records which replica asked for which slot (the claim is SET NX). */
  function recordingClaims(kv: KeyValueStore, claims: Map<string, number>): KeyValueStore {
    return new Proxy(kv, {
      get(target, prop, receiver) {
        if (prop !== 'setIfAbsent') return Reflect.get(target, prop, receiver);
        return async (key: string, value: string, ttlMs?: number) => {
          const won = await target.setIfAbsent(key, value, ttlMs);
          if (key.startsWith('reconciliation:slot:')) claims.set(key, (claims.get(key) ?? 0) + 1);
          return won;
        };
      },
    });
  }

  it('two replicas on Redis: each interval is reconciled once, by one of them, never overlapping', async () => {
    const keys = testPrefix('recon-schedule');
    const intervalMs = 60_000;
    const clock = testClock(intervalMs);
    const claims = new Map<string, number>();
    const shared = [0, 1].map(() => recordingClaims(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS }), claims));
    const [a, b] = shared.map((kv) => ({ kv, reconciler: createReconciler({ ports, kv, reports: createReportStore({ kv }), logger, pace: FAST, lockTtlMs: 5000, now: clock.date }) }));
    const reportStore = createReportStore({ kv: a.kv });
    try {
      // One replica sees each new slot first; the other still sees the slot before (its clock lags)
      // until the leader's run of it has finished. So the follower asks for a slot whose run is
      // over: only the slot claim, not the run's lock, can keep it from a second run of the slot.
      // The lead alternates, so either replica may take a slot.
      let lagging: number | null = null;
      const schedulers = [a, b].map((r, i) =>
        startReconciliationScheduler({ reconciler: r.reconciler, kv: r.kv, logger, intervalMs, tickMs: 10, instanceId: `replica-${i}`, now: () => (lagging === i ? clock.ms - intervalMs : clock.now()) }),
      );
      const SLOTS = 4;
      for (let n = 1; n <= SLOTS; n++) {
        lagging = n % 2;
        clock.nextSlot();
        const slot = Math.floor(clock.ms / intervalMs);
        await until(() => claims.get(`reconciliation:slot:${slot}`) === 1, `the leading replica claiming slot ${n}`);
        await until(async () => (await reportStore.latest(50)).filter((r) => r.status !== 'RUNNING').length >= n, `the run of slot ${n}`);
        lagging = null;
        // Both replicas had their chance at the slot (each asked for it).
        await until(() => claims.get(`reconciliation:slot:${slot}`) === 2, `both replicas claiming slot ${n}`);
      }
      await Promise.all(schedulers.map((s) => s.stop()));
      const reports = await reportStore.latest(50);
      // One run per slot, whichever replica took it; none for the slot they started in.
      expect(reports).toHaveLength(SLOTS);
      expect(reports.every((r) => r.trigger === 'SCHEDULE' && r.status === 'COMPLETED' && r.driftCount === 0)).toBe(true);
      const slots = reports.map((r) => Math.floor(Date.parse(r.startedAt) / intervalMs));
      expect(new Set(slots).size).toBe(SLOTS);
      noOverlap(reports);
    } finally {
      await a.kv.close();
      await b.kv.close();
      await keys.cleanup();
    }
  });

  it('a run started on one replica while another runs gets the running report; a dead holder\'s lock runs out', async () => {
    const keys = testPrefix('recon-lock');
    const a = replica(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS }));
    const b = replica(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS }));
    try {
      const first = await a.reconciler.start('MANUAL');
      const second = await b.reconciler.start('MANUAL');
      expect(second.report.id).toBe(first.report.id);
      const [doneA, doneB] = await Promise.all([first.done, second.done]);
      expect(doneA).toMatchObject({ id: first.report.id, status: 'COMPLETED' });
      expect(doneB).toMatchObject({ id: first.report.id, status: 'COMPLETED' });
      expect(await a.kv.get(RECONCILIATION_LOCK)).toBeNull();

      // A replica died holding the lock: nobody else starts until it runs out, then one does.
      await a.kv.set(RECONCILIATION_LOCK, 'rec_dead', 2000);
      await expect(b.reconciler.start('MANUAL')).rejects.toMatchObject({ code: 'CONFLICT', retryable: true });
      // The lock's expiry is Redis's own clock: polled until it has run out (generous deadline),
      // and every refusal until then is the same retryable CONFLICT.
      let after: Awaited<ReturnType<Reconciler['start']>> | null = null;
      await until(async () => {
        after = await b.reconciler.start('MANUAL').catch((error: unknown) => {
          expect(error).toMatchObject({ code: 'CONFLICT', retryable: true });
          return null;
        });
        return after !== null;
      }, "the dead holder's lock running out");
      expect((await after!.done).status).toBe('COMPLETED');
    } finally {
      await a.kv.close();
      await b.kv.close();
      await keys.cleanup();
    }
  });

  it('embedded: a local timer, one run per interval, none for the interval it started in', async () => {
    const intervalMs = 60_000;
    const clock = testClock(intervalMs);
    const kv = createMemoryKeyValueStore({ now: clock.now });
    const reconciler = createReconciler({ ports, kv, reports: createReportStore({ kv }), logger, pace: FAST, lockTtlMs: 5000, now: clock.date });
    const reportStore = createReportStore({ kv });
    const scheduler = startReconciliationScheduler({ reconciler, kv, logger, intervalMs, tickMs: 10, now: clock.now });
    // Ticks read the clock: a few of them inside the starting slot, and nothing ran.
    const ticked = (n: number) => {
      const target = clock.reads + n;
      return until(() => clock.reads >= target, `${n} ticks`);
    };
    await ticked(5);
    expect(await reportStore.latest(5)).toHaveLength(0);
    for (let n = 1; n <= 3; n++) {
      clock.nextSlot();
      await until(async () => (await reportStore.latest(10)).filter((r) => r.status !== 'RUNNING').length >= n, `the run of slot ${n}`);
    }
    await ticked(5); // more ticks in the last slot: no second run for it
    await scheduler.stop();
    const reports = await reportStore.latest(10);
    expect(reports).toHaveLength(3);
    expect(new Set(reports.map((r) => Math.floor(Date.parse(r.startedAt) / intervalMs))).size).toBe(3);
    noOverlap(reports);
  });
});
