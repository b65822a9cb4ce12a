/**
 * WorkQueues on BullMQ: one Queue and one Worker per lane (o2c-crm, o2c-billing, o2c-erp), shared
 * by every process that uses the same Redis and prefix.
 *
 * A job is only "look at run X": its data is the run id and a reason, never state, so a duplicate,
 * late or replayed job is harmless (the run's stored state says what to do). The engine owns the
 * retries and backoff of steps, on the run; BullMQ's own retry only reruns a job whose handler
 * threw (below).
 *
 * A lane's concurrency holds across processes through BullMQ's global concurrency (a queue setting
 * kept in Redis, checked when a worker takes a job); the per-process worker concurrency only bounds
 * what one process takes on. A process that dies mid-job leaves the job locked; when the lock
 * (lockDurationMs) expires, the stalled-job check of any live worker moves it back to waiting.
 *
 * A job is never dropped while it may be the run's only pointer: a handler that throws (Redis
 * timed out under load, the hand-off to the next lane could not be stored) has its job run again
 * after a backoff, by BullMQ's own retry (attempts/backoff below), instead of being failed. And an
 * enqueue that cannot reach Redis fails within `commandTimeoutMs` as SERVICE_UNAVAILABLE
 * (core/redis-availability.ts) rather than waiting on ioredis's reconnects, so a request or a
 * worker learns it at once and keeps what it holds.
 */
import { Queue, Worker, type ConnectionOptions, type Job, type RedisOptions } from 'bullmq';
import { createRedisClient, isClusterUrl, tag } from '../../core/redis';
import type { SystemName } from '../../core/canonical';
import { createLogger, type Logger } from '../../core/log';
import { failFastRedisOptions, redisUnavailable } from '../../core/redis-availability';
import { LANES, type JobHandler, type LaneBacklog, type LaneSettings, type RunJob, type WorkQueues } from './queue';

export interface BullMqQueueOptions {
  /**
   * Redis to use: a URL or ioredis-style options (BullMQ's `RedisOptions`; no `keyPrefix`, BullMQ
   * refuses it, use `prefix`). BullMQ opens its own connections from these (Queue and Worker each)
   * and closes them on close(); it sets `maxRetriesPerRequest: null` on the worker connections
   * itself. A Redis Cluster URL (`redis+cluster://`, core/redis.ts) makes two ioredis Cluster
   * clients here, one for the queues and one for the workers (which BullMQ duplicates for each
   * blocking connection; BullMQ accepts a Cluster as `connection`), quit on close(). Default: redis://127.0.0.1:6379.
   */
  connection?: string | RedisOptions;
  /**
   * Namespace of the queues. Each lane's queue gets the BullMQ prefix `{<prefix>:queue:<name>}`: a
   * hash tag per queue, because BullMQ's scripts need all keys of one queue in one Redis Cluster
   * slot, and different tags put different queues on different masters (BullMQ docs, "Redis
   * Cluster": one prefix per queue for load distribution). Default: 'concord'.
   */
  prefix?: string;
  /**
   * Jobs of a lane that run at once across every process. Stored in Redis by each process on start
   * (last writer wins, so give every process the same figures). Default: CRM 10, BILLING 10, ERP 5
   * (NetSuite's default account concurrency limit).
   */
  lanes?: Partial<Record<SystemName, LaneSettings>>;
  /**
   * How long a worker's lock on an active job lasts before the job counts as stalled; renewed by the
   * worker every half of it while the job runs. A crashed process's jobs come back after about this
   * long. Default: 30000.
   */
  lockDurationMs?: number;
  /** How often each worker looks for stalled jobs. Default: lockDurationMs. */
  stalledIntervalMs?: number;
  /** Jobs one process runs at once per lane. Default: the lane's concurrency. */
  workerConcurrency?: number;
  /** Where failed handlers and worker errors are logged. Default: a pino logger named 'work-queues'. */
  logger?: Logger;
  /**
   * Longest an enqueue waits for Redis (connecting included) before it fails as SERVICE_UNAVAILABLE,
   * in ms (CONCORD_REDIS_COMMAND_TIMEOUT_MS, as the run store). Default 2000.
   */
  commandTimeoutMs?: number;
  /**
   * Backoff before a job whose handler threw runs again, in ms: doubled per failure of that job up
   * to 30 s. Default 500.
   */
  retryDelayMs?: number;
}

export interface BullMqWorkQueues extends WorkQueues {
  /**
   * Stop consuming and close the connections. By default waits for running jobs to finish. With
   * `force`, returns at once and leaves running jobs locked: they come back through stalled-job
   * recovery after lockDurationMs, exactly as after a crash (shutdown deadline, tests).
   */
  close(options?: { force?: boolean }): Promise<void>;
}

const QUEUE_NAMES: Record<SystemName, string> = { CRM: 'o2c-crm', BILLING: 'o2c-billing', ERP: 'o2c-erp' };

/** Failed jobs kept for inspection (per lane); completed ones are deleted at once. */
const KEEP_FAILED = 1000;
/** Longest backoff between runs of a job whose handler keeps throwing. */
const MAX_RETRY_DELAY_MS = 30_000;

export function createBullMqWorkQueues(options: BullMqQueueOptions = {}): BullMqWorkQueues {
  const {
    connection: given = 'redis://127.0.0.1:6379',
    prefix = 'concord',
    lanes = {},
    lockDurationMs = 30_000,
    stalledIntervalMs = lockDurationMs,
    workerConcurrency,
    logger = createLogger({ name: 'work-queues' }),
    commandTimeoutMs = 2000,
    retryDelayMs = 500,
  } = options;
  // On a cluster, two clients as BullMQ would make from options: the queues' with ioredis' default
  // retries, the workers' with maxRetriesPerRequest null (BullMQ refuses a worker client without it).
  const clusterUrl = typeof given === 'string' && isClusterUrl(given) ? given : null;
  const clusters = clusterUrl ? [createRedisClient(clusterUrl), createRedisClient(clusterUrl, { maxRetriesPerRequest: null })] : [];
  for (const cluster of clusters) cluster.on('error', (error: Error) => logger.error({ err: error }, 'work queue connection error'));
  const fromOptions: ConnectionOptions = typeof given === 'string' ? { url: given } : given;
  // The queues' own (non-blocking) connections fail fast; the workers' blocking ones must not
  // (a command timeout would cut their blocking waits), and BullMQ makes those itself.
  const queueConnection: ConnectionOptions = clusters[0] ?? ({ ...(fromOptions as RedisOptions), ...failFastRedisOptions(commandTimeoutMs) } as ConnectionOptions);
  const workerConnection: ConnectionOptions = clusters[1] ?? fromOptions;
  const bullPrefix = (lane: SystemName) => tag(prefix, `queue:${QUEUE_NAMES[lane]}`);
  const settings: Record<SystemName, LaneSettings> = {
    CRM: { concurrency: 10 },
    BILLING: { concurrency: 10 },
    ERP: { concurrency: 5 },
    ...lanes,
  };

  const queues = {} as Record<SystemName, Queue<RunJob>>;
  for (const lane of LANES) {
    queues[lane] = new Queue<RunJob>(QUEUE_NAMES[lane], { connection: queueConnection, prefix: bullPrefix(lane) });
    queues[lane].on('error', (error) => logger.error({ err: error, lane }, 'work queue error'));
  }
  const workers: Worker<RunJob>[] = [];
  let started = false;
  let closed = false;

  // Every call waits for the lane limits to be in Redis, so no worker can start before them. A
  // failure (Redis down at start) is tried again by the next call rather than kept for good.
  let ready: Promise<unknown> | null = null;
  const limitsStored = (): Promise<unknown> => {
    ready ??= Promise.all(LANES.map((lane) => queues[lane].setGlobalConcurrency(settings[lane].concurrency))).catch((error: unknown) => {
      ready = null;
      throw error;
    });
    return ready;
  };
  void limitsStored().catch(() => undefined); // surfaced by the first call that awaits it

  /** `work`, or SERVICE_UNAVAILABLE once Redis has not answered for commandTimeoutMs. */
  async function withinTimeout<T>(what: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(redisUnavailable(new Error(`${what}: Redis did not answer within ${commandTimeoutMs} ms`))), commandTimeoutMs);
    });
    try {
      return await Promise.race([work().catch((error: unknown) => Promise.reject(redisUnavailable(error))), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async enqueue(lane, job, delayMs = 0) {
      if (closed) return;
      await withinTimeout(`enqueue on ${QUEUE_NAMES[lane]}`, async () => {
        await limitsStored();
        await queues[lane].add(job.reason, { runId: job.runId, reason: job.reason }, {
        // Deduplication rather than a custom jobId: a jobId would also block re-adding while a failed
        // job with that id is kept for inspection (and BullMQ refuses ':' in custom ids). `keepLastIfActive`: an add while the same job runs
        // is kept and runs after it, so a wake-up that arrives mid-run is never lost.
        deduplication: { id: `${job.runId}:${job.reason}`, keepLastIfActive: true },
        ...(delayMs > 0 ? { delay: Math.ceil(delayMs) } : {}),
        // A handler that throws has its job run again (see the file's comment); 'custom' is the
        // workers' backoffStrategy below.
        attempts: Number.MAX_SAFE_INTEGER,
        backoff: { type: 'custom' },
        removeOnComplete: true,
        removeOnFail: KEEP_FAILED,
        });
      });
    },

    async startWorkers(handler: JobHandler) {
      if (started) throw new Error('startWorkers: workers are already started');
      if (closed) return;
      started = true;
      await limitsStored();
      for (const lane of LANES) {
        const worker = new Worker<RunJob>(
          QUEUE_NAMES[lane],
          (job: Job<RunJob>) => handler(lane, { runId: job.data.runId, reason: job.data.reason }),
          {
            connection: workerConnection,
            prefix: bullPrefix(lane),
            concurrency: workerConcurrency ?? settings[lane].concurrency,
            lockDuration: lockDurationMs,
            stalledInterval: stalledIntervalMs,
            // BullMQ fails a job that stalled more than maxStalledCount times (default 1). A job here
            // is only "look at run X", always safe to run again, and the only pointer to the run:
            // failing it would strand the run when workers die twice in a row. So it never gives up.
            maxStalledCount: Number.MAX_SAFE_INTEGER,
            settings: {
              backoffStrategy: (attemptsMade: number) => Math.min(MAX_RETRY_DELAY_MS, retryDelayMs * 2 ** Math.max(0, attemptsMade - 1)),
            },
            autorun: true,
          },
        );
        worker.on('failed', (job, error) =>
          logger.warn({ err: error, lane, runId: job?.data.runId, reason: job?.data.reason, attempt: job?.attemptsMade }, 'run job failed; it runs again after a backoff'),
        );
        worker.on('error', (error) => logger.error({ err: error, lane }, 'work queue worker error'));
        workers.push(worker);
      }
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    },

    async backlog() {
      const result = {} as Record<SystemName, LaneBacklog>;
      await Promise.all(
        LANES.map(async (lane) => {
          const counts = await queues[lane].getJobCounts('waiting', 'prioritized', 'active', 'delayed');
          result[lane] = {
            waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
            active: counts.active ?? 0,
            delayed: counts.delayed ?? 0,
          };
        }),
      );
      return result;
    },

    async close({ force = false } = {}) {
      if (closed) return;
      closed = true;
      // Workers first (they finish their current jobs unless forced), then the queues; each closes
      // the connections BullMQ opened for it.
      await Promise.all(workers.map((worker) => worker.close(force)));
      // The lane limits may still be waiting for a Redis that never answered: closing the queues
      // ends their connections, which settles that wait (a bounded wait, in case it does not).
      const pending = ready;
      await Promise.all(LANES.map((lane) => queues[lane].close()));
      if (pending) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pending.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
        clearTimeout(timer);
      }
      // A client given to BullMQ as an instance is the giver's to close.
      await Promise.all(clusters.map((cluster) => cluster.quit().catch(() => cluster.disconnect())));
    },
  };
}
