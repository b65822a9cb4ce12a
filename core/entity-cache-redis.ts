/**
 * The entity cache in Redis (core/entity-cache.ts), shared by every API replica and worker on the
 * same REDIS_URL and prefix. Keys are hash-tagged per unit, `{<prefix>:cache:<unit>}:gen` and
 * `{<prefix>:cache:<unit>}:<kind>`, so one unit's keys share a slot (each script below touches one
 * unit) while a Redis Cluster spreads the units (core/redis.ts `tag`).
 *
 * A value is stored as `<generation>|<json>`: it counts only while the unit's `gen` key still holds
 * that generation. Invalidation is one INCR of `gen` (every value of the unit is invalid from that
 * instant, for every replica); the values themselves are left to expire with their TTL. The `gen`
 * key outlives every value (twice the TTL and a minute), so a generation can never come back.
 *
 * A Redis that cannot be reached makes every read a miss and every fill a no-op: the cache must not
 * make a read fail, it only saves vendor calls. Invalidations are retried by the caller's retry
 * of the write or event (they throw).
 */
import type { Redis } from 'ioredis';
import type { ConcordConfig } from './config';
import { createMemoryEntityCache, type CacheKey, type EntityCacheStore, type FillTicket } from './entity-cache';
import { createRedisClient, tag, type RedisClient } from './redis';

/** KEYS[1] gen, KEYS[2..] values; ARGV[1] the generation the read saw ('' = none), ARGV[2] ttl s, ARGV[3..] payloads. */
const FILL = `
local gen = redis.call('GET', KEYS[1]) or ''
if gen ~= ARGV[1] then return 0 end
for i = 2, #KEYS do redis.call('SET', KEYS[i], gen .. '|' .. ARGV[i + 1], 'EX', tonumber(ARGV[2])) end
return 1
`;

/** KEYS[1] gen; ARGV[1] its lifetime in seconds. */
const INVALIDATE = `
local gen = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return gen
`;

type CacheClient = RedisClient & {
  concordCacheFill(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  concordCacheInvalidate(gen: string, lifetime: number): Promise<number>;
};

export interface RedisEntityCacheOptions {
  url: string;
  prefix: string;
  ttlSeconds: number;
  /** Longest a cache command may take before the read goes to the vendor, ms (CONCORD_REDIS_COMMAND_TIMEOUT_MS). Default 2000. */
  commandTimeoutMs?: number;
  onError?: (error: Error) => void;
}

export function createRedisEntityCache(options: RedisEntityCacheOptions): EntityCacheStore {
  const { url, prefix, ttlSeconds, commandTimeoutMs = 2000, onError } = options;
  // Commands wait for a (re)connection at most commandTimeoutMs: then a read is a miss.
  const redis = createRedisClient(url, { commandTimeout: commandTimeoutMs, maxRetriesPerRequest: 1 }) as CacheClient;
  (redis as unknown as Redis).on('error', (error: Error) => onError?.(error));
  (redis as unknown as Redis).defineCommand('concordCacheFill', { lua: FILL });
  (redis as unknown as Redis).defineCommand('concordCacheInvalidate', { numberOfKeys: 1, lua: INVALIDATE });
  const base = `${prefix}:cache`;
  const genKey = (unit: string) => tag(base, unit, 'gen');
  const valueKey = (key: CacheKey) => tag(base, key.unit, key.kind);
  const genLifetime = 2 * ttlSeconds + 60;

  /** The keys of a read, grouped by unit (one MGET per unit: one slot each). */
  function byUnit<T extends { key: CacheKey }>(items: readonly T[]): Map<string, T[]> {
    const groups = new Map<string, T[]>();
    for (const item of items) {
      const group = groups.get(item.key.unit);
      if (group) group.push(item);
      else groups.set(item.key.unit, [item]);
    }
    return groups;
  }

  return {
    async read(keys, bypass = false) {
      const values: (string | undefined)[] = keys.map(() => undefined);
      const gens = new Map<string, string>();
      const groups = byUnit(keys.map((key, index) => ({ key, index })));
      try {
        await Promise.all(
          [...groups].map(async ([unit, items]) => {
            const found = await redis.mget(genKey(unit), ...(bypass ? [] : items.map((i) => valueKey(i.key))));
            const gen = found[0] ?? '';
            gens.set(unit, gen);
            if (bypass) return;
            items.forEach((item, n) => {
              const stored = found[n + 1];
              if (stored === null || stored === undefined) return;
              const bar = stored.indexOf('|');
              if (bar >= 0 && stored.slice(0, bar) === gen) values[item.index] = stored.slice(bar + 1);
            });
          }),
        );
      } catch (error) {
        onError?.(error as Error);
        // Nothing is known: every key a miss, and no fill (an empty ticket matches no unit).
        return { values: keys.map(() => undefined), ticket: { gens: new Map() } };
      }
      return { values, ticket: { gens } };
    },
    async fill(ticket: FillTicket, entries) {
      const groups = byUnit(entries);
      await Promise.all(
        [...groups].map(async ([unit, items]) => {
          const seen = ticket.gens.get(unit);
          if (seen === undefined) return;
          const keysOf = [genKey(unit), ...items.map((i) => valueKey(i.key))];
          await redis.concordCacheFill(keysOf.length, ...keysOf, seen, ttlSeconds, ...items.map((i) => i.json)).catch((error: Error) => onError?.(error));
        }),
      );
    },
    async invalidate(units) {
      await Promise.all([...new Set(units)].map((unit) => redis.concordCacheInvalidate(genKey(unit), genLifetime)));
    },
    async close() {
      (redis as unknown as Redis).disconnect();
    },
  };
}

/**
 * The store the configuration asks for: null when the cache is off (CONCORD_ENTITY_CACHE_TTL_S=0),
 * Redis with REDIS_URL (shared by every replica), else memory bounded by CONCORD_ENTITY_CACHE_MB.
 */
export function entityCacheFromConfig(config: ConcordConfig, onError?: (error: Error) => void): EntityCacheStore | null {
  const { ttlSeconds, maxMb } = config.entityCache;
  if (ttlSeconds <= 0) return null;
  if (config.redisUrl) return createRedisEntityCache({ url: config.redisUrl, prefix: config.redisPrefix, ttlSeconds, onError });
  return createMemoryEntityCache({ ttlMs: ttlSeconds * 1000, maxBytes: maxMb * 1024 * 1024 });
}
