/**
 * What a process needs before it should be sent work, as named checks that `/ready` reports:
 * Redis (the run store, queues and event log live there) and the vendors it calls. The gateway adds
 * its subgraphs (gateway/server.ts probes them signed). A check answers 'up' or 'down (<why>)' and
 * never throws, so one slow dependency cannot hide the state of the others.
 */
import { Cluster } from 'ioredis';
import { createRedisClient } from './redis';

/** One dependency's state: 'up', or 'down (<reason>)'. */
export type ReadinessCheck = () => Promise<string>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

/** Run every check at once; ready when all are 'up'. */
export async function runReadinessChecks(checks: Record<string, ReadinessCheck>): Promise<ReadinessReport> {
  const results = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await check().catch((e: Error) => `down (${e.message})`)] as const));
  return { ready: results.every(([, state]) => state === 'up'), checks: Object.fromEntries(results) };
}

/**
 * Redis answers PING (a Redis Cluster: CLUSTER INFO says cluster_state:ok, i.e. every slot is
 * served). The client is its own, without an offline queue and with one try per command,
 * so a Redis outage answers 'down' at once rather than after ioredis' reconnect backoff.
 */
export function redisReadiness(url: string): { check: ReadinessCheck; close(): Promise<void> } {
  const redis = createRedisClient(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  return {
    check: async () => {
      if (redis.status === 'wait' || redis.status === 'end') await redis.connect().catch(() => undefined);
      try {
        if (redis instanceof Cluster) {
          const state = /cluster_state:(\w+)/.exec(String(await redis.cluster('INFO')))?.[1] ?? 'unknown';
          return state === 'ok' ? 'up' : `down (cluster_state:${state})`;
        }
        return (await redis.ping()) === 'PONG' ? 'up' : 'down (unexpected PING answer)';
      } catch (error) {
        return `down (${(error as Error).message})`;
      }
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

/**
 * The vendor's API host answers HTTP at all (any status below 500: an unauthenticated GET of an API
 * root gets 401 or 404 from a healthy vendor). Credentials are not spent on a probe: a rejected key
 * shows up as VENDOR_REJECTED on the first real call, and in the vendor's metrics.
 */
export function vendorReadiness(baseUrl: string, timeoutMs = 2000): ReadinessCheck {
  return async () => {
    try {
      const response = await fetch(baseUrl, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel().catch(() => undefined);
      return response.status < 500 ? 'up' : `down (${response.status})`;
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : 'unreachable';
      return `down (${reason})`;
    }
  };
}
