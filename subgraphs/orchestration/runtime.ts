/**
 * Builds the orchestration engine on the store and queues the configuration asks for: Redis and
 * BullMQ when REDIS_URL is set, in-memory otherwise (embedded mode: one process, not durable).
 */
import type { ConcordConfig } from '../../core/config';
import type { EventLog } from '../../core/events/event-log';
import { createRedisEventLog } from '../../core/events/redis-log';
import type { Logger } from '../../core/log';
import { traceJob, type Tracing } from '../../core/tracing';
import { runEventPublisher } from '../events/run-events';
import { createConsistency, type Consistency } from './consistency';
import { createOrderToCashEngine, type OrderToCashEngine } from './engine';
import { createMemoryKeyValueStore } from './kv-memory';
import { createRedisKeyValueStore } from './kv-redis';
import type { Run } from './model';
import { createBullMqWorkQueues } from './queue-bullmq';
import { createMemoryWorkQueues } from './queue-memory';
import type { WorkQueues } from './queue';
import type { Ports } from './steps';
import { createMemoryRunStore } from './store-memory';
import { createRedisRunStore } from './store-redis';
import type { RunStore } from './store';
import { isWorkflowRunId } from './workflow-model';

export interface OrchestrationRuntimeOptions {
  config: ConcordConfig;
  ports: Ports;
  logger: Logger;
  /** Told of every saved run change. */
  onRunChanged?: (run: Run) => void;
  /**
   * Where every run change is appended as RUN_STATUS_CHANGED (subgraphs/events/run-events.ts).
   * Default: with REDIS_URL, the shared Redis log (so worker processes publish too); without, none.
   */
  events?: EventLog;
  /**
   * Each job a worker takes is a trace of its own (linked to what enqueued it), with the run's
   * correlation id as its scope: the step's vendor calls are its child spans. Default: none.
   */
  tracing?: Tracing;
}

export interface OrchestrationRuntime {
  engine: OrderToCashEngine;
  store: RunStore;
  queues: WorkQueues;
  /**
   * Customer master, amendments, reconciliation and repair (consistency.ts): their runs are on a
   * second engine instance with its own run store, sharing `queues` (and so the vendors' limits).
   */
  consistency: Consistency;
  /** Null when runs can be read and written now, else why not (the subgraph's /ready). */
  readiness(): Promise<string | null>;
  close(): Promise<void>;
}

export async function createOrchestrationRuntime(options: OrchestrationRuntimeOptions): Promise<OrchestrationRuntime> {
  const { config, ports, logger, onRunChanged } = options;
  const ownEvents = !options.events && config.redisUrl
    ? createRedisEventLog({ url: config.redisUrl, prefix: config.redisPrefix, retention: config.events.retention, dedupeTtlMs: config.events.dedupeTtlSeconds * 1000 })
    : null;
  const events = options.events ?? ownEvents;
  const publish = events ? runEventPublisher(events, logger.child({ component: 'run-events' })) : null;
  const o2c = config.orchestration;
  const lanes = {
    CRM: { concurrency: o2c.concurrency.CRM },
    BILLING: { concurrency: o2c.concurrency.BILLING },
    ERP: { concurrency: o2c.concurrency.ERP },
  };
  const store = config.redisUrl ? createRedisRunStore({
        url: config.redisUrl,
        prefix: config.redisPrefix,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        onError: (error) => logger.warn({ err: error }, 'run store connection error; reconnecting'),
      }) : createMemoryRunStore();
  const queues = config.redisUrl
    ? createBullMqWorkQueues({ connection: config.redisUrl, prefix: config.redisPrefix, lanes, lockDurationMs: o2c.queueLockMs, logger })
    : createMemoryWorkQueues({ lanes });
  const engine = createOrderToCashEngine({
    store,
    queues,
    ports,
    logger: logger.child({ component: 'order-to-cash' }),
    maxAttempts: o2c.maxAttempts,
    leaseMs: o2c.leaseMs,
    onRunChanged: (run) => {
      publish?.(run);
      onRunChanged?.(run);
    },
  });
  // The workflows' runs: their own store (order-to-cash's lists and per-deal rule stay as they were),
  // the same queues. In Redis under `<prefix>:wf`, so their keys are `{<prefix>:wf}:o2c:...`.
  const workflowStore = config.redisUrl
    ? createRedisRunStore({
        url: config.redisUrl,
        prefix: `${config.redisPrefix}:wf`,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        onError: (error) => logger.warn({ err: error }, 'workflow run store connection error; reconnecting'),
      })
    : createMemoryRunStore();
  const kv = config.redisUrl
    ? createRedisKeyValueStore({ url: config.redisUrl, prefix: config.redisPrefix, commandTimeoutMs: config.redisCommandTimeoutMs, onError: (error) => logger.warn({ err: error }, 'key-value store connection error; reconnecting') })
    : createMemoryKeyValueStore();
  const workflowPorts: Ports = { ...ports, ...(events ? { events } : {}) };
  const workflowEngine = createOrderToCashEngine({
    store: workflowStore,
    queues,
    ports: workflowPorts,
    logger: logger.child({ component: 'workflows' }),
    maxAttempts: o2c.maxAttempts,
    leaseMs: o2c.leaseMs,
  });
  const consistency = createConsistency({
    config: config.consistency,
    ports: workflowPorts,
    events: events ?? undefined,
    kv,
    store: workflowStore,
    engine: workflowEngine,
    queues,
    logger,
  });
  // A job names its run; the run's id says which engine owns it.
  const tracing = options.tracing;
  if (o2c.workers) {
    await queues.startWorkers((lane, job) => {
      const owner = isWorkflowRunId(job.runId) ? workflowEngine : engine;
      if (!tracing) return owner.handle(lane, job);
      const attributes = { 'concord.run_id': job.runId, 'concord.lane': lane, 'concord.job_reason': job.reason };
      return traceJob(tracing, `run job ${lane}`, attributes, async () => (await owner.get(job.runId))?.correlationId ?? null, () => owner.handle(lane, job));
    });
  }
  return {
    engine,
    store,
    queues,
    consistency,
    // A read of the run store: fails within the command timeout while Redis cannot be reached.
    readiness: async () => {
      try {
        await store.get('readiness-probe');
        return null;
      } catch (error) {
        return error instanceof Error ? `run store unavailable: ${error.message}` : 'run store unavailable';
      }
    },
    close: async () => {
      await consistency.close();
      await queues.close();
      await store.close();
      await workflowStore.close();
      await kv.close();
      // Last: the workers' final changes are appended before the log's connection goes.
      await ownEvents?.close();
    },
  };
}
