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

const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FAST = { CRM: 1000, BILLING: 1000, ERP: 1000 };

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

  it('two replicas on Redis: each interval is reconciled once, by one of them, never overlapping', async () => {
    const keys = testPrefix('recon-schedule');
    const a = replica(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix }));
    const b = replica(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix }));
    try {
      // Long enough that one reconciliation fits in an interval on a loaded 2-core CI machine.
      const intervalMs = 1500;
      const started = Date.now();
      const schedulers = [a, b].map((r, i) => startReconciliationScheduler({ reconciler: r.reconciler, kv: r.kv, logger, intervalMs, tickMs: 20, instanceId: `replica-${i}` }));
      await sleep(intervalMs * 4 + 300);
      await Promise.all(schedulers.map((s) => s.stop()));
      const elapsedSlots = Math.floor(Date.now() / intervalMs) - Math.floor(started / intervalMs);
      const reports = await createReportStore({ kv: a.kv }).latest(50);
      expect(reports.length).toBeGreaterThanOrEqual(elapsedSlots - 1);
      expect(reports.length).toBeLessThanOrEqual(elapsedSlots);
      expect(reports.every((r) => r.trigger === 'SCHEDULE' && r.status === 'COMPLETED' && r.driftCount === 0)).toBe(true);
      // One run per slot, whichever replica took it.
      const slots = reports.map((r) => Math.floor(Date.parse(r.startedAt) / intervalMs));
      expect(new Set(slots).size).toBe(reports.length);
      noOverlap(reports);
    } finally {
      await a.kv.close();
      await b.kv.close();
      await keys.cleanup();
    }
  });

  it('a run started on one replica while another runs gets the running report; a dead holder\'s lock runs out', async () => {
    const keys = testPrefix('recon-lock');
    const a = replica(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix }));
    const b = replica(createRedisKeyValueStore({ url: REDIS_URL, prefix: keys.prefix }));
    try {
      const first = await a.reconciler.start('MANUAL');
      const second = await b.reconciler.start('MANUAL');
      expect(second.report.id).toBe(first.report.id);
      const [doneA, doneB] = await Promise.all([first.done, second.done]);
      expect(doneA).toMatchObject({ id: first.report.id, status: 'COMPLETED' });
      expect(doneB).toMatchObject({ id: first.report.id, status: 'COMPLETED' });
      expect(await a.kv.get(RECONCILIATION_LOCK)).toBeNull();

      // A replica died holding the lock: nobody else starts until it runs out, then one does.
      await a.kv.set(RECONCILIATION_LOCK, 'rec_dead', 400);
      await expect(b.reconciler.start('MANUAL')).rejects.toMatchObject({ code: 'CONFLICT', retryable: true });
      await sleep(450);
      const after = await b.reconciler.start('MANUAL');
      expect((await after.done).status).toBe('COMPLETED');
    } finally {
      await a.kv.close();
      await b.kv.close();
      await keys.cleanup();
    }
  });

  it('embedded: a local timer, one run per interval, none for the interval it started in', async () => {
    const kv = createMemoryKeyValueStore();
    const { reconciler } = replica(kv);
    // Start just after a slot boundary, so that the first 150 ms are inside the starting slot.
    await sleep(500 - (Date.now() % 500) + 20);
    const scheduler = startReconciliationScheduler({ reconciler, kv, logger, intervalMs: 500, tickMs: 20 });
    await sleep(150);
    expect(await createReportStore({ kv }).latest(5)).toHaveLength(0);
    await sleep(1100);
    await scheduler.stop();
    const reports = await createReportStore({ kv }).latest(10);
    expect(reports.length).toBeGreaterThanOrEqual(1);
    expect(reports.length).toBeLessThanOrEqual(3);
    noOverlap(reports);
  });
});
