/**
 * KeyValueStore in Redis, shared by every replica.
 *
 * Key layout: `{<prefix>:kv:<key>}`. Each entry is its own unit of atomicity (every operation here
 * touches one key), so each has its own hash tag and a Redis Cluster spreads entries over its
 * masters. Many-key reads and writes are one command per key, not MGET or a pipeline (neither may
 * span slots on a cluster); ioredis still sends them together. Conditional writes are single-key Lua scripts (atomic, and
 * legal in cluster mode); they are inline so that `npm run build` (tsc only) ships them.
 */
import { failFastRedisOptions, guardRedis } from '../../core/redis-availability';
import { createHash } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';
import { createRedisClient, tag } from '../../core/redis';
import type { KeyValueStore } from './kv';

export interface RedisKeyValueStoreOptions {
  /** An ioredis client owned by the caller (never quit by the store). Default: none, `url` is used. */
  redis?: Redis | Cluster;
  /** Redis URL for a client the store creates and quits on close(). Default redis://127.0.0.1:6379. */
  url?: string;
  /** Namespace of every key (one per tenant or test). Default 'concord'. */
  prefix?: string;
  /** Longest a command waits (connecting included) before it fails as SERVICE_UNAVAILABLE, in ms. Default 2000. */
  commandTimeoutMs?: number;
  /** Told of connection errors of a client the store made (it reconnects by itself). */
  onError?: (error: Error) => void;
}

const COMPARE_AND_SET = `
--[[
  Set KEYS[1] to ARGV[2] if its value is ARGV[1] (ARGV[1] = '' with ARGV[4] = '1' means: if absent).
  Input:  KEYS[1] key   ARGV[1] expected   ARGV[2] value   ARGV[3] ttl ms ('' = keep the expiry)   ARGV[4] '1' if expecting absence
  Output: 1 set | 0 not set
]]
local current = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`;

const DELETE_IF_EQUALS = `
--[[
  Compare-and-delete (a lock released only by its holder).
  Input:  KEYS[1] key   ARGV[1] expected value
  Output: 1 deleted | 0 not
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const EXPIRE_IF_EQUALS = `
--[[
  Compare-and-expire (a lock renewed only by its holder).
  Input:  KEYS[1] key   ARGV[1] expected value   ARGV[2] ttl ms
  Output: 1 renewed | 0 not
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

const PUSH_CAPPED = `
--[[
  Prepend to a list and keep the newest entries.
  Input:  KEYS[1] list   ARGV[1] value   ARGV[2] max length
  Output: the new length
]]
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return redis.call('LLEN', KEYS[1])
`;

interface Script {
  source: string;
  sha: string;
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = {
  compareAndSet: script(COMPARE_AND_SET),
  deleteIfEquals: script(DELETE_IF_EQUALS),
  expireIfEquals: script(EXPIRE_IF_EQUALS),
  pushCapped: script(PUSH_CAPPED),
};

export function createRedisKeyValueStore(options: RedisKeyValueStoreOptions = {}): KeyValueStore {
  const { redis: given, url = 'redis://127.0.0.1:6379', prefix = 'concord', onError, commandTimeoutMs = 2000 } = options;
  // Every command fails fast and as SERVICE_UNAVAILABLE when Redis cannot be reached (core/redis-availability.ts).
  const client: Redis | Cluster = given ?? createRedisClient(url, failFastRedisOptions(commandTimeoutMs));
  const redis = guardRedis(client);
  if (!given) client.on('error', (error: Error) => onError?.(error));
  const k = (key: string) => tag(prefix, `kv:${key}`);

  /** EVALSHA, falling back to EVAL when the server has not cached the script (restart, failover). */
  async function run(s: Script, key: string, args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(s.sha, 1, k(key), ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(s.source, 1, k(key), ...args);
    }
  }

  const ttl = (ttlMs: number | undefined) => Math.max(1, Math.ceil(ttlMs ?? 0));

  return {
    get: (key) => redis.get(k(key)),
    async getMany(keys) {
      if (keys.length === 0) return [];
      // One GET per key, sent together: MGET and pipelines across slots are refused by a Redis Cluster.
      return Promise.all(keys.map((key) => redis.get(k(key))));
    },
    async set(key, value, ttlMs) {
      if (ttlMs === undefined) await redis.set(k(key), value);
      else await redis.set(k(key), value, 'PX', ttl(ttlMs));
    },
    async setMany(entries, ttlMs) {
      if (entries.length === 0) return;
      await Promise.all(entries.map(([key, value]) => (ttlMs === undefined ? redis.set(k(key), value) : redis.set(k(key), value, 'PX', ttl(ttlMs)))));
    },
    async setIfAbsent(key, value, ttlMs) {
      const reply = ttlMs === undefined ? await redis.set(k(key), value, 'NX') : await redis.set(k(key), value, 'PX', ttl(ttlMs), 'NX');
      return reply === 'OK';
    },
    async compareAndSet(key, expected, value, ttlMs) {
      const reply = await run(SCRIPTS.compareAndSet, key, [expected ?? '', value, ttlMs === undefined ? '' : ttl(ttlMs), expected === null ? '1' : '0']);
      return reply === 1;
    },
    async deleteIfEquals(key, expected) {
      return (await run(SCRIPTS.deleteIfEquals, key, [expected])) === 1;
    },
    async expireIfEquals(key, expected, ttlMs) {
      return (await run(SCRIPTS.expireIfEquals, key, [expected, ttl(ttlMs)])) === 1;
    },
    async pushCapped(key, value, max) {
      await run(SCRIPTS.pushCapped, key, [value, Math.max(1, Math.floor(max))]);
    },
    async listRange(key, count) {
      if (count <= 0) return [];
      return redis.lrange(k(key), 0, count - 1);
    },
    async close() {
      if (!given) await redis.quit();
    },
  };
}
