/**
 * Builds the orchestration engine on the store and queues the configuration asks for: Redis and
 * BullMQ when REDIS_URL is set, in-memory otherwise (embedded mode: one process, not durable).
 */
import type { RetryPolicies } from '../../core/retry';
import type { ConcordConfig } from '../../core/config';
import type { EventLog } from '../../core/events/event-log';
import { createRedisEventLog } from '../../core/events/redis-log';
import type { Logger } from '../../core/log';
import { traceJob, type Tracing } from '../../core/tracing';
import { runEventPublisher } from '../events/run-events';
import { createMemoryAuditTrail } from './audit/memory';
import { createOperatorAudit, type OperatorAudit } from './audit/recorder';
import { createRedisAuditTrail } from './audit/redis';
import { createConsistency, type Consistency } from './consistency';
import { createOrderToCashEngine, type EngineHooks, type OrderToCashEngine } from './engine';
import { createMemoryKeyValueStore } from './kv-memory';
import { createRedisKeyValueStore } from './kv-redis';
import type { Run } from './model';
import { createOpsRunList, type OpsRunList } from './ops-runs';
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
  /** Each vendor's retry policy by system, as the vendor modules declare it (vendors/index.ts retryPolicies). Default: the engine's. */
  retryPolicies?: RetryPolicies;
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
  /** Hooks of the order-to-cash engine (engine.ts EngineHooks; tests park runs at step boundaries). Default: none. */
  hooks?: EngineHooks;
  /** Wraps the work queues every engine uses (tests inject enqueue failures). Default: as made. */
  decorateQueues?: (queues: WorkQueues) => WorkQueues;
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
  /** The workflow runs' store (customer sync, amendment, repair). */
  workflowStore: RunStore;
  /** Runs of every kind for operators (opsRuns), read from both run stores. */
  opsRuns: OpsRunList;
  /** The audit trail of operator actions (Redis with REDIS_URL, memory otherwise) and its recorder. */
  audit: OperatorAudit;
  /** Null when runs can be read and written now, else why not (the subgraph's /ready). */
  readiness(): Promise<string | null>;
  /**
   * One sweep for runs making no progress (both engines), if this process wins the deployment's
   * sweeper lock; the workers run it every CONCORD_O2C_SWEEP_INTERVAL_MS. Null when another holds the lock.
   */
  sweep(): Promise<string[] | null>;
  close(): Promise<void>;
}

export async function createOrchestrationRuntime(options: OrchestrationRuntimeOptions): Promise<OrchestrationRuntime> {
  const { config, ports, logger, onRunChanged, retryPolicies } = options;
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
  const made = config.redisUrl
    ? createBullMqWorkQueues({ connection: config.redisUrl, prefix: config.redisPrefix, lanes, lockDurationMs: o2c.queueLockMs, commandTimeoutMs: config.redisCommandTimeoutMs, logger })
    : createMemoryWorkQueues({ lanes });
  const queues = options.decorateQueues ? options.decorateQueues(made) : made;
  const engine = createOrderToCashEngine({
    store,
    queues,
    ports,
    logger: logger.child({ component: 'order-to-cash' }),
    maxAttempts: o2c.maxAttempts,
    leaseMs: o2c.leaseMs,
    retryPolicies,
    hooks: options.hooks,
    onRunChanged: (run) => {
      publish?.(run);
      onRunChanged?.(run);
    },
  });
  // The workflows' runs: their own store (order-to-cash's lists and per-deal rule stay as they were),
  // the same queues. In Redis under `<prefix>:wf`, so their keys are `{<prefix>:wf:o2c:run:<id>}` and so on.
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
    retryPolicies,
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
  const trail = config.redisUrl
    ? createRedisAuditTrail({ url: config.redisUrl, prefix: config.redisPrefix, onError: (error) => logger.warn({ err: error }, 'audit trail connection error; reconnecting') })
    : createMemoryAuditTrail();
  const audit = createOperatorAudit({ trail, events, logger: logger.child({ component: 'audit' }) });
  const opsRuns = createOpsRunList({ orderToCash: (filter, page) => store.list(filter, page), workflows: (filter, page) => workflowStore.list(filter, page) });
  // The sweeper: a safety net under the hand-off between lanes (engine.ts sweep). One sweep per
  // interval in the whole deployment: the process that takes the lock (for one interval) sweeps.
  const sweeperId = `sweeper:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  const sweepLockMs = Math.max(1000, o2c.sweepIntervalMs || 1000);
  async function sweep(): Promise<string[] | null> {
    if (!(await kv.setIfAbsent('o2c:sweeper', sweeperId, sweepLockMs))) return null;
    const [runs, workflows] = await Promise.all([engine.sweep(o2c.staleMs), workflowEngine.sweep(o2c.staleMs)]);
    return [...runs.requeued, ...workflows.requeued];
  }
  let sweeper: NodeJS.Timeout | null = null;
  // A job names its run; the run's id says which engine owns it.
  const tracing = options.tracing;
  if (o2c.workers) {
    await queues.startWorkers((lane, job) => {
      const owner = isWorkflowRunId(job.runId) ? workflowEngine : engine;
      if (!tracing) return owner.handle(lane, job);
      const attributes = { 'concord.run_id': job.runId, 'concord.lane': lane, 'concord.job_reason': job.reason };
      return traceJob(tracing, `run job ${lane}`, attributes, async () => (await owner.get(job.runId))?.correlationId ?? null, () => owner.handle(lane, job));
    });
    if (o2c.sweepIntervalMs > 0) {
      sweeper = setInterval(() => {
        sweep().catch((error: unknown) => logger.warn({ err: error }, 'run sweep failed; the next one tries again'));
      }, o2c.sweepIntervalMs);
      sweeper.unref();
    }
  }
  return {
    engine,
    store,
    queues,
    consistency,
    workflowStore,
    opsRuns,
    audit,
    // A read of the run store: fails within the command timeout while Redis cannot be reached.
    readiness: async () => {
      try {
        await store.get('readiness-probe');
        return null;
      } catch (error) {
        return error instanceof Error ? `run store unavailable: ${error.message}` : 'run store unavailable';
      }
    },
    sweep,
    close: async () => {
      if (sweeper) clearInterval(sweeper);
      await consistency.close();
      await trail.close();
      await queues.close();
      await store.close();
      await workflowStore.close();
      await kv.close();
      // Last: the workers' final changes are appended before the log's connection goes.
      await ownEvents?.close();
    },
  };
}
