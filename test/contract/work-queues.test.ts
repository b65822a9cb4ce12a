/**
 * One WorkQueues contract, every implementation: memory (embedded mode) and BullMQ on the test Redis
 * (TEST_REDIS_URL, test/helpers/redis.ts), each instance under its own key prefix, removed after each test. The BullMQ block at the end adds what
 * only a shared Redis can show: lane limits across processes and recovery of a crashed worker's job.
 */
import { randomUUID } from 'node:crypto';
import type { SystemName } from '../../core/canonical';
import { createLogger } from '../../core/log';
import type { LaneSettings, RunJob, WorkQueues } from '../../subgraphs/orchestration/queue';
import { createBullMqWorkQueues, type BullMqWorkQueues } from '../../subgraphs/orchestration/queue-bullmq';
import { createMemoryWorkQueues } from '../../subgraphs/orchestration/queue-memory';
import { REDIS_URL, removeKeys } from '../helpers/redis';
// Waits poll with generous deadlines (a busy machine is slow, not wrong); the test timeout is above them.
jest.setTimeout(120_000);

const silent = createLogger({ level: 'silent' });

type Lanes = Partial<Record<SystemName, LaneSettings>>;

interface Implementation {
  name: string;
  /** A fresh instance (its own queues); closed and cleaned up in afterEach. */
  open(lanes?: Lanes): WorkQueues;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `check` holds; fails the test after `timeoutMs` (generous: a busy machine is slow, not wrong). */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/**
 * The signal that every job ever queued has been handled: nothing waiting, active or delayed on
 * any lane. A duplicate that was (wrongly) queued would be handled before this holds, so a
 * "handled once" assertion made after it can fail, however slow the machine.
 */
async function drained(queues: WorkQueues): Promise<void> {
  await until(async () => Object.values(await queues.backlog()).every((l) => l.waiting + l.active + l.delayed === 0));
}

const opened: WorkQueues[] = [];
const prefixes: string[] = [];

function bullMq(options: Parameters<typeof createBullMqWorkQueues>[0] = {}): BullMqWorkQueues {
  const prefix = options.prefix ?? `concord-test:${randomUUID()}`;
  prefixes.push(prefix);
  const queues = createBullMqWorkQueues({ connection: REDIS_URL, logger: silent, ...options, prefix });
  opened.push(queues);
  return queues;
}

const implementations: Implementation[] = [
  {
    name: 'memory',
    open: (lanes) => {
      const queues = createMemoryWorkQueues({ lanes });
      opened.push(queues);
      return queues;
    },
  },
  { name: 'bullmq', open: (lanes) => bullMq({ lanes }) },
];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((queues) => queues.close()));
  for (const prefix of prefixes.splice(0)) await removeKeys(prefix);
});

/** A handler that records what it saw, per "runId/reason". */
function recorder(work: (lane: SystemName, job: RunJob) => Promise<void> = async () => {}) {
  const handled = new Map<string, number>();
  let total = 0;
  return {
    handled,
    get total() {
      return total;
    },
    handler: async (lane: SystemName, job: RunJob) => {
      const key = `${job.runId}/${job.reason}`;
      handled.set(key, (handled.get(key) ?? 0) + 1);
      total += 1;
      await work(lane, job);
    },
  };
}

describe.each(implementations)('WorkQueues contract: $name', (implementation) => {
  test('every distinct (runId, reason) is handled exactly once, on its lane', async () => {
    const queues = implementation.open();
    const lanesSeen = new Map<string, SystemName>();
    const seen = recorder(async (lane, job) => void lanesSeen.set(job.runId, lane));
    await queues.startWorkers(seen.handler);
    const lanes: SystemName[] = ['CRM', 'BILLING', 'ERP'];
    const jobs = Array.from({ length: 30 }, (_, i) => ({
      lane: lanes[i % 3],
      job: { runId: `run-${i}`, reason: 'start' },
    }));
    await Promise.all(jobs.map(({ lane, job }) => queues.enqueue(lane, job)));
    await until(() => seen.total >= 30);
    await drained(queues); // a duplicate would have been handled by now
    expect(seen.total).toBe(30);
    for (const { lane, job } of jobs) {
      expect(seen.handled.get(`${job.runId}/start`)).toBe(1);
      expect(lanesSeen.get(job.runId)).toBe(lane);
    }
  });

  test('duplicate enqueues while queued are handled once; another reason is another job', async () => {
    const queues = implementation.open();
    const seen = recorder();
    const job = { runId: randomUUID(), reason: 'erpCustomer#1' };
    await queues.enqueue('ERP', job);
    await queues.enqueue('ERP', job);
    await queues.enqueue('ERP', { ...job });
    await queues.enqueue('ERP', { ...job, reason: 'erpCustomer#2' });
    await queues.startWorkers(seen.handler);
    await until(() => seen.total >= 2);
    await drained(queues);
    expect(Object.fromEntries(seen.handled)).toEqual({
      [`${job.runId}/erpCustomer#1`]: 1,
      [`${job.runId}/erpCustomer#2`]: 1,
    });
  });

  test('a job enqueued again while it runs is handled again (no lost wake-up)', async () => {
    const queues = implementation.open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen = recorder(async () => {
      if (seen.total === 1) await gate; // the first run is still going when the job comes again
    });
    await queues.startWorkers(seen.handler);
    const job = { runId: randomUUID(), reason: 'wake' };
    await queues.enqueue('CRM', job);
    await until(() => seen.total >= 1);
    await queues.enqueue('CRM', job);
    release();
    await until(() => seen.total >= 2);
    await drained(queues);
    expect(seen.handled.get(`${job.runId}/wake`)).toBe(2);
  });

  test('a delayed job waits at least its delay', async () => {
    const queues = implementation.open();
    const handledAt = new Map<string, number>();
    await queues.startWorkers(async (_lane, job) => void handledAt.set(job.reason, Date.now()));
    const start = Date.now();
    await queues.enqueue('BILLING', { runId: 'r', reason: 'later' }, 300);
    await queues.enqueue('BILLING', { runId: 'r', reason: 'now' });
    await until(() => handledAt.size === 2);
    // A lower bound only: a busy machine makes the wait longer, never shorter (no upper bound here).
    // Redis and the local clock may disagree by a millisecond or two
    expect(handledAt.get('later')! - start).toBeGreaterThanOrEqual(295);
  });

  test('a lane never runs more jobs at once than its concurrency', async () => {
    const queues = implementation.open({ ERP: { concurrency: 3 } });
    let inFlight = 0;
    let maxInFlight = 0;
    const seen = recorder(async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(50);
      inFlight -= 1;
    });
    for (let i = 0; i < 20; i++) await queues.enqueue('ERP', { runId: `run-${i}`, reason: 'erpPosting#1' });
    await queues.startWorkers(seen.handler);
    await until(() => seen.total >= 20 && inFlight === 0);
    expect(maxInFlight).toBe(3);
  });

  test('a handler that throws has its job run again, and does not stop the lane', async () => {
    // The job may be the run's only pointer (engine.ts handle): a failure must not drop it.
    const queues = implementation.open({ CRM: { concurrency: 1 } });
    let failures = 0;
    const seen = recorder(async (_lane, job) => {
      if (job.reason === 'boom' && failures < 2) {
        failures += 1;
        throw new Error('handler failed');
      }
    });
    await queues.startWorkers(seen.handler);
    await queues.enqueue('CRM', { runId: 'r1', reason: 'boom' });
    await queues.enqueue('CRM', { runId: 'r2', reason: 'fine' });
    await queues.enqueue('CRM', { runId: 'r3', reason: 'fine' });
    // the same job, without being enqueued again: twice failed, then handled
    await until(() => seen.handled.get('r1/boom') === 3, 60_000);
    expect(seen.handled.get('r2/fine')).toBe(1);
    expect(seen.handled.get('r3/fine')).toBe(1);
    // and once handled, the job can be enqueued again
    await queues.enqueue('CRM', { runId: 'r1', reason: 'boom' });
    await until(() => seen.handled.get('r1/boom') === 4);
  });

  test('backlog counts queued jobs before workers start', async () => {
    const queues = implementation.open();
    await queues.enqueue('CRM', { runId: 'a', reason: 'start' });
    await queues.enqueue('CRM', { runId: 'b', reason: 'start' });
    await queues.enqueue('ERP', { runId: 'c', reason: 'start' });
    await queues.enqueue('BILLING', { runId: 'd', reason: 'retry' }, 60_000);
    const backlog = await queues.backlog();
    expect(backlog.CRM.waiting).toBe(2);
    expect(backlog.ERP.waiting).toBe(1);
    expect(backlog.BILLING.waiting).toBe(0);
    for (const lane of ['CRM', 'BILLING', 'ERP'] as const) expect(backlog[lane].active).toBe(0);
    // the memory implementation does not keep delayed jobs per lane, so only the total is contract
    expect(backlog.CRM.delayed + backlog.BILLING.delayed + backlog.ERP.delayed).toBe(1);
  });

  test('close stops processing', async () => {
    // The closed instance holds a delayed job that must fall due only after close() has returned;
    // how long the steps before close take depends on the machine, so an attempt where close came
    // too late proves nothing and is made again with a longer delay (never a false failure, and
    // on a quiet machine the first attempt does it).
    for (let delayMs = 300; ; delayMs *= 4) {
      const queues = implementation.open();
      const seen = recorder();
      await queues.startWorkers(seen.handler);
      // A second, open instance gets the same jobs later: once it has handled them, the closed one
      // had its chance to (wrongly) handle its own.
      const control = implementation.open();
      const controlSeen = recorder();
      await control.startWorkers(controlSeen.handler);
      const enqueuedAt = Date.now();
      await queues.enqueue('CRM', { runId: 'r', reason: 'due-after-close' }, delayMs);
      await queues.enqueue('ERP', { runId: 'r', reason: 'now' });
      await until(() => seen.total >= 1); // its workers were running
      await queues.close();
      // Margin for Redis's clock (BullMQ's due times) and this process's disagreeing a little.
      if (Date.now() - enqueuedAt > delayMs - 50) {
        if (delayMs > 60_000) throw new Error('close() never returned before a delayed job fell due');
        await control.close();
        continue;
      }
      await queues.enqueue('ERP', { runId: 'r', reason: 'after-close' }).catch(() => undefined);
      await control.enqueue('CRM', { runId: 'r', reason: 'due-after-close' }, delayMs);
      await control.enqueue('ERP', { runId: 'r', reason: 'after-close' });
      await until(() => controlSeen.total >= 2, 60_000 + delayMs);
      expect([...seen.handled.keys()]).toEqual(['r/now']);
      return;
    }
  }, 300_000);
});

describe('WorkQueues on BullMQ, Redis unreachable', () => {
  test('an enqueue fails as retryable SERVICE_UNAVAILABLE within the command timeout instead of hanging', async () => {
    // A port nothing listens on: every connection attempt is refused, as while Redis is down.
    const queues = bullMq({ connection: 'redis://127.0.0.1:1', commandTimeoutMs: 300 });
    const failure = await queues.enqueue('CRM', { runId: 'r', reason: 'start' }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    expect((failure as Error).message).toMatch(/cannot reach its state store \(Redis\)/);
  });
});

describe('WorkQueues on BullMQ, across processes', () => {
  test('lane concurrency holds across two processes with larger local concurrency', async () => {
    const prefix = `concord-test:${randomUUID()}`;
    const lanes = { ERP: { concurrency: 3 } };
    const one = bullMq({ prefix, lanes, workerConcurrency: 5 });
    const two = bullMq({ prefix, lanes, workerConcurrency: 5 });
    let inFlight = 0;
    let maxInFlight = 0;
    let total = 0;
    const byProcess = [0, 0];
    const handler = (processNo: number) => async () => {
      inFlight += 1;
      byProcess[processNo] += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(50);
      inFlight -= 1;
      total += 1;
    };
    for (let i = 0; i < 20; i++) await one.enqueue('ERP', { runId: `run-${i}`, reason: 'erpPosting#1' });
    await Promise.all([one.startWorkers(handler(0)), two.startWorkers(handler(1))]);
    await until(() => total >= 20);
    expect(maxInFlight).toBe(3);
    expect(byProcess[0] + byProcess[1]).toBe(20);
  });

  test("a crashed worker's job is picked up by another process after the lock expires", async () => {
    const prefix = `concord-test:${randomUUID()}`;
    const timing = { lockDurationMs: 1000, stalledIntervalMs: 500 };
    const crashing = bullMq({ prefix, ...timing });
    const job = { runId: randomUUID(), reason: 'invoice#1' };
    let taken = false;
    await crashing.startWorkers(() => {
      taken = true;
      return new Promise<void>(() => {}); // the process dies mid-job: never settles
    });
    await crashing.enqueue('BILLING', job);
    await until(() => taken);
    await crashing.close({ force: true }); // no release of the job's lock, as in a crash

    const survivor = bullMq({ prefix, ...timing });
    const seen = recorder();
    await survivor.startWorkers(seen.handler);
    await until(() => seen.total >= 1);
    expect(seen.handled.get(`${job.runId}/${job.reason}`)).toBe(1);
  });
});
