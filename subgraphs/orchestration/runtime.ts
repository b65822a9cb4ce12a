/**
 * Builds the orchestration engine on the store and queues the configuration asks for: Redis and
 * BullMQ when REDIS_URL is set, in-memory otherwise (embedded mode: one process, not durable).
 */
import type { ConcordConfig } from '../../core/config';
import type { Logger } from '../../core/log';
import { createOrderToCashEngine, type OrderToCashEngine } from './engine';
import type { Run } from './model';
import { createBullMqWorkQueues } from './queue-bullmq';
import { createMemoryWorkQueues } from './queue-memory';
import type { WorkQueues } from './queue';
import type { Ports } from './steps';
import { createMemoryRunStore } from './store-memory';
import { createRedisRunStore } from './store-redis';
import type { RunStore } from './store';

export interface OrchestrationRuntimeOptions {
  config: ConcordConfig;
  ports: Ports;
  logger: Logger;
  /** Told of every saved run change. */
  onRunChanged?: (run: Run) => void;
}

export interface OrchestrationRuntime {
  engine: OrderToCashEngine;
  store: RunStore;
  queues: WorkQueues;
  close(): Promise<void>;
}

export async function createOrchestrationRuntime(options: OrchestrationRuntimeOptions): Promise<OrchestrationRuntime> {
  const { config, ports, logger, onRunChanged } = options;
  const o2c = config.orchestration;
  const lanes = {
    CRM: { concurrency: o2c.concurrency.CRM },
    BILLING: { concurrency: o2c.concurrency.BILLING },
    ERP: { concurrency: o2c.concurrency.ERP },
  };
  const store = config.redisUrl ? createRedisRunStore({
        url: config.redisUrl,
        prefix: config.redisPrefix,
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
    onRunChanged,
  });
  if (o2c.workers) await queues.startWorkers(engine.handle);
  return {
    engine,
    store,
    queues,
    close: async () => {
      await queues.close();
      await store.close();
    },
  };
}
