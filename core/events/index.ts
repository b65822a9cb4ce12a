/**
 * The event log and coordination the configuration asks for: Redis Streams and Redis keys when
 * REDIS_URL is set, in memory otherwise (embedded mode: one process, not durable).
 */
import type { ConcordConfig } from '../config';
import type { Logger } from '../log';
import { createMemoryCoordination, createRedisCoordination, type Coordination } from './coordination';
import type { EventLog } from './event-log';
import { createMemoryEventLog } from './memory-log';
import { createRedisEventLog } from './redis-log';

export interface EventInfrastructure {
  log: EventLog;
  coordination: Coordination;
  close(): Promise<void>;
}

export function createEventInfrastructure(config: ConcordConfig, logger: Logger): EventInfrastructure {
  const { retention, dedupeTtlSeconds } = config.events;
  const onError = (error: Error) => logger.warn({ err: error }, 'event log connection error; reconnecting');
  const log = config.redisUrl
    ? createRedisEventLog({ url: config.redisUrl, prefix: config.redisPrefix, retention, dedupeTtlMs: dedupeTtlSeconds * 1000, onError })
    : createMemoryEventLog({ retention, dedupeTtlMs: dedupeTtlSeconds * 1000 });
  const coordination = config.redisUrl ? createRedisCoordination({ url: config.redisUrl, prefix: config.redisPrefix, onError }) : createMemoryCoordination();
  return {
    log,
    coordination,
    async close() {
      await log.close();
      await coordination.close();
    },
  };
}

export type { BusinessEvent, EventLog, EventType, NewBusinessEvent } from './event-log';
