/** WorkQueues in process memory: embedded mode. Same lanes and limits as the BullMQ version. */
import type { SystemName } from '../../core/canonical';
import { LANES, type JobHandler, type LaneBacklog, type LaneSettings, type RunJob, type WorkQueues } from './queue';

export interface MemoryQueueOptions {
  /** Per-lane concurrency. Default 10 per lane (ERP 5, NetSuite's default account limit). */
  lanes?: Partial<Record<SystemName, LaneSettings>>;
  /** Backoff before a job whose handler threw runs again, in ms (doubled per failure, up to 30 s). Default 500. */
  retryDelayMs?: number;
}

export function createMemoryWorkQueues(options: MemoryQueueOptions = {}): WorkQueues {
  const settings: Record<SystemName, LaneSettings> = {
    CRM: { concurrency: 10 },
    BILLING: { concurrency: 10 },
    ERP: { concurrency: 5 },
    ...options.lanes,
  };
  const waiting: Record<SystemName, RunJob[]> = { CRM: [], BILLING: [], ERP: [] };
  const active: Record<SystemName, number> = { CRM: 0, BILLING: 0, ERP: 0 };
  const queued = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let handler: JobHandler | null = null;
  let closed = false;
  const retryDelayMs = options.retryDelayMs ?? 500;
  /** Failures so far of each job that threw (by key), for its backoff. */
  const failures = new Map<string, number>();

  const keyOf = (lane: SystemName, job: RunJob) => `${lane}:${job.runId}:${job.reason}`;

  function pump(lane: SystemName): void {
    while (handler && !closed && active[lane] < settings[lane].concurrency && waiting[lane].length > 0) {
      const job = waiting[lane].shift()!;
      queued.delete(keyOf(lane, job));
      active[lane] += 1;
      const key = keyOf(lane, job);
      handler(lane, job)
        .then(
          () => void failures.delete(key),
          () => {
            // As the BullMQ queues do: the job may be the run's only pointer, so it runs again.
            const failed = (failures.get(key) ?? 0) + 1;
            failures.set(key, failed);
            later(lane, job, Math.min(30_000, retryDelayMs * 2 ** (failed - 1)));
          },
        )
        .finally(() => {
          active[lane] -= 1;
          pump(lane);
        });
    }
  }

  function add(lane: SystemName, job: RunJob): void {
    const key = keyOf(lane, job);
    if (queued.has(key)) return;
    queued.add(key);
    waiting[lane].push(job);
    pump(lane);
  }

  function later(lane: SystemName, job: RunJob, delayMs: number): void {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      add(lane, job);
    }, delayMs);
    timers.add(timer);
  }

  return {
    async enqueue(lane, job, delayMs = 0) {
      if (closed) return;
      if (delayMs <= 0) return add(lane, job);
      later(lane, job, delayMs);
    },
    async startWorkers(h) {
      handler = h;
      for (const lane of LANES) pump(lane);
    },
    async backlog() {
      const result = {} as Record<SystemName, LaneBacklog>;
      for (const lane of LANES) result[lane] = { waiting: waiting[lane].length, active: active[lane], delayed: 0 };
      result.CRM.delayed = timers.size; // delayed jobs are not kept per lane in memory
      return result;
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
