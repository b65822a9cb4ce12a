/**
 * (a) Concord's gateway as users run it: createGateway (gateway/server.ts) over the bench
 * supergraph, auth 'required' (an HS256 bearer token verified on every request), the default
 * query limits (depth, aliases, cost) and the admission step (parse and validation cache,
 * authorization rewrite), a per-subject rate limit (in memory, set high enough never to refuse),
 * and subgraph signing on: every subgraph request carries the principal and an HMAC signature,
 * which the bench subgraphs verify (`/signed/<name>`; an unsigned request would be a 401).
 * Executions in flight are bounded and identical fetches in flight shared, as by default; the
 * benchmark's variants set BENCH_CONCORD_MAX_IN_FLIGHT (0: no bound, `--overload`) and
 * BENCH_CONCORD_FETCH_DEDUP=off (`--no-dedup`) in the gateway's process, and the concord-redis row
 * BENCH_CONCORD_REDIS_URL (the rate limiter in Redis).
 */
import { createLogger } from '../../../core/log';
import { createGateway } from '../../../gateway/server';
import { SUBGRAPH_NAMES } from '../schema';
import type { BenchGateway, GatewayStartOptions } from './types';

export async function startConcord(options: GatewayStartOptions): Promise<BenchGateway> {
  const { supergraphSdl, subgraphBaseUrl, subgraphSecret, jwtSecret } = options;
  const running = await createGateway({
    supergraphSdl,
    subgraphUrls: Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, `${subgraphBaseUrl}/signed/${name}`])),
    subgraphSecret,
    jwtSecret,
    auth: 'required',
    production: true,
    security: {
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      // The concord-redis row: the rate limiter in Redis, as with REDIS_URL (gateway/rate-limit.ts).
      ...(process.env.BENCH_CONCORD_REDIS_URL ? { redisUrl: process.env.BENCH_CONCORD_REDIS_URL, redisPrefix: process.env.BENCH_CONCORD_REDIS_PREFIX } : {}),
    },
    ...(process.env.BENCH_CONCORD_MAX_IN_FLIGHT ? { overload: { maxInFlight: Number(process.env.BENCH_CONCORD_MAX_IN_FLIGHT) } } : {}),
    dedupFetches: process.env.BENCH_CONCORD_FETCH_DEDUP !== 'off',
    logger: createLogger({ level: 'silent' }),
  }).listen(0);
  return { port: running.port, close: () => running.close() };
}
