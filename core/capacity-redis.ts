/**
 * The capacity governor's Redis backend: one budget per vendor account for every process on the
 * same Redis (or Redis Cluster). An account's keys share one hash tag, `{<prefix>:capacity:<vendor>:<account>}`,
 * so each decision is one Lua script on one slot, and different accounts spread over a cluster:
 *
 *   ...:holders  zset  holder id -> lease expiry (ms)     concurrency slots in use
 *   ...:line     zset  waiter id -> place (priority, arrival)
 *   ...:seen     zset  waiter id -> until when its place is kept
 *   ...:starts   zset  call id   -> start (ms)            calls in the rate window
 *   ...:daily    hash  used, max, at                      the vendor's last report of its daily allocation
 *
 * Times come from the governor's clock (ARGV), not Redis TIME, so the contract suite can inject one;
 * processes on different hosts should run NTP (docs/deploy.md). A release is published on
 * `<prefix>:capacity:released` so waiters in other processes look again at once; without it they
 * look every pollMs anyway. Every key expires when its account is idle.
 */
import { createHash } from 'node:crypto';
import type { ConcordConfig } from './config';
import { tag, createRedisClient, type RedisClient } from './redis';
import {
  accountKey,
  createCapacityGovernor,
  createMemoryCapacityGovernor,
  dailyStopsAt,
  DAILY_REPORT_STALE_MS,
  DEFAULT_RATE_WINDOW_MS,
  RATE_SLICES,
  type CapacityBackend,
  type CapacityDescriptor,
  type CapacityGovernor,
  type CapacityGovernorOptions,
} from './capacity';

const ATTEMPT = `
--[[
  One look at an account's line by the head waiter of a process.
  Input:
    KEYS[1] holders  KEYS[2] line  KEYS[3] seen  KEYS[4] starts  KEYS[5] daily
    ARGV[1] waiter id   ARGV[2] now ms ('' = the server's TIME)   ARGV[3] place (score)   ARGV[4] lease ms
    ARGV[5] place kept ms   ARGV[6] concurrency (0 = none)   ARGV[7] per window (0 = none)
    ARGV[8] window ms   ARGV[9] daily share at which this priority is refused (1 = never)
    ARGV[10] a daily report is trusted this long, ms   ARGV[11] idle keys expire after ms
    ARGV[12] slices of the window, each holding at most its share of the rate
  Output: {1} granted | {0, retry in ms} wait | {-1, used, max} refused (daily allocation)
]]
local id = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local concurrency = tonumber(ARGV[6])
local perWindow = tonumber(ARGV[7])
local windowMs = tonumber(ARGV[8])
local stopsAt = tonumber(ARGV[9])
if stopsAt < 1 then
  local daily = redis.call('HMGET', KEYS[5], 'used', 'max', 'at')
  if daily[1] and tonumber(daily[3]) + tonumber(ARGV[10]) > now and tonumber(daily[1]) >= stopsAt * tonumber(daily[2]) then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    return {-1, tonumber(daily[1]), tonumber(daily[2])}
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, waiter in ipairs(gone) do redis.call('ZREM', KEYS[2], waiter) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - windowMs)
local free = 1e15
local retry = 1000
if concurrency > 0 then
  local held = redis.call('ZCARD', KEYS[1])
  free = concurrency - held
  if free <= 0 and held > 0 then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    retry = tonumber(first[2]) - now
  end
end
if perWindow > 0 then
  local rateFree = perWindow - redis.call('ZCARD', KEYS[4])
  if rateFree < free then free = rateFree end
  if rateFree <= 0 then
    local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    retry = tonumber(oldest[2]) + windowMs - now
  end
  -- A slice of the window holds at most its share: no burst of the whole rate at once.
  local sliceMs = windowMs / tonumber(ARGV[12])
  local inSlice = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. (now - sliceMs), '+inf', 'WITHSCORES')
  local sliceFree = math.max(1, math.floor(perWindow / tonumber(ARGV[12]))) - #inSlice / 2
  if sliceFree < free then free = sliceFree end
  if sliceFree <= 0 and rateFree > 0 then retry = tonumber(inSlice[2]) + sliceMs - now end
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], id)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), id)
local idle = tonumber(ARGV[11])
redis.call('PEXPIRE', KEYS[2], idle)
redis.call('PEXPIRE', KEYS[3], idle)
if free > 0 and redis.call('ZRANK', KEYS[2], id) < free then
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  if concurrency > 0 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), id)
    redis.call('PEXPIRE', KEYS[1], idle)
  end
  if perWindow > 0 then
    redis.call('ZADD', KEYS[4], now, id)
    redis.call('PEXPIRE', KEYS[4], idle)
  end
  return {1}
end
if retry < 1 then retry = 1 end
return {0, retry}
`;

const RENEW = `
--[[
  Extend a held lease (the call is still running). A lease that ran out stays gone.
  Input:
    KEYS[1] holders
    ARGV[1] holder id   ARGV[2] now ms ('' = the server's TIME)   ARGV[3] lease ms   ARGV[4] idle keys expire after ms
  Output: 1 renewed | 0 not held
]]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return renewed
`;

const USAGE = `
--[[
  An account's budget as it stands.
  Input: KEYS[1] holders  KEYS[2] line  KEYS[3] starts  KEYS[4] daily   ARGV[1] window ms   ARGV[2] now ms ('' = the server's TIME)
  Output: {in flight, started in the window, waiting, daily used or -1, daily max or -1, daily at or -1, now}
]]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local daily = redis.call('HMGET', KEYS[4], 'used', 'max', 'at')
return {
  redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf'),
  redis.call('ZCOUNT', KEYS[3], '(' .. (now - tonumber(ARGV[1])), '+inf'),
  redis.call('ZCARD', KEYS[2]),
  tonumber(daily[1] or -1), tonumber(daily[2] or -1), tonumber(daily[3] or -1), now,
}
`;

interface Script {
  source: string;
  sha: string;
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = { attempt: script(ATTEMPT), renew: script(RENEW), usage: script(USAGE) };

export interface RedisCapacityOptions extends CapacityGovernorOptions {
  /** REDIS_URL (a single server or a cluster); the governor opens its own two connections. */
  url: string;
  /** Key prefix (CONCORD_REDIS_PREFIX). Default 'concord'. */
  prefix?: string;
  /** Longest a capacity command waits for Redis, ms. Default 2000. */
  commandTimeoutMs?: number;
  /**
   * Measure leases and rate windows by the Redis server's clock (TIME) rather than by each
   * process's: one clock for every process, read where the decision is made, so neither clock skew
   * between hosts nor a command's time in transit shifts a window. Default: true unless `now` is given.
   */
  serverTime?: boolean;
}

/** The keys of one account, all under the account's hash tag. */
export function capacityKeys(prefix: string, d: CapacityDescriptor) {
  // The account is hashed into the tag so that no vendor's account id shape breaks the key.
  const unit = `capacity:${d.vendor}:${createHash('sha256').update(d.account).digest('hex').slice(0, 16)}`;
  const key = (part: string) => tag(prefix, unit, part);
  return { holders: key('holders'), line: key('line'), seen: key('seen'), starts: key('starts'), daily: key('daily') };
}

export function createRedisCapacityBackend(options: RedisCapacityOptions): CapacityBackend {
  const { url, prefix = 'concord', commandTimeoutMs = 2000, leaseMs = 30_000, serverTime = options.now === undefined } = options;
  const clock = (now: number) => (serverTime ? '' : now);
  // No offline queue: a decision that cannot reach Redis fails at once (SERVICE_UNAVAILABLE) rather than waiting.
  const redis: RedisClient = createRedisClient(url, { commandTimeout: commandTimeoutMs, maxRetriesPerRequest: 1 });
  const subscriber: RedisClient = createRedisClient(url, { maxRetriesPerRequest: null });
  const channel = `${prefix}:capacity:released`;
  const listeners = new Set<() => void>();
  subscriber.on('message', () => {
    for (const listener of [...listeners]) listener();
  });
  // Errors are reported by the calls that meet them; the connections reconnect by themselves.
  redis.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  void subscriber.subscribe(channel).catch(() => undefined);
  const keysOf = new Map<string, ReturnType<typeof capacityKeys>>();
  const keys = (d: CapacityDescriptor) => {
    let found = keysOf.get(accountKey(d));
    if (!found) keysOf.set(accountKey(d), (found = capacityKeys(prefix, d)));
    return found;
  };
  const idleMs = (d: CapacityDescriptor) => Math.max(2 * leaseMs, 2 * (d.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS), DAILY_REPORT_STALE_MS);

  async function run(s: Script, keyList: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(s.sha, keyList.length, ...keyList, ...args);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return redis.eval(s.source, keyList.length, ...keyList, ...args);
    }
  }

  return {
    async attempt(d, { id, score, priority, now, leaseMs: lease, waiterTtlMs }) {
      const k = keys(d);
      const result = (await run(SCRIPTS.attempt, [k.holders, k.line, k.seen, k.starts, k.daily], [
        id,
        clock(now),
        score,
        lease,
        waiterTtlMs,
        d.concurrency ?? 0,
        d.perSecond ?? 0,
        d.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
        d.daily ? dailyStopsAt(d, priority) : 1,
        DAILY_REPORT_STALE_MS,
        idleMs(d),
        RATE_SLICES,
      ])) as number[];
      if (result[0] === 1) return { status: 'granted' };
      if (result[0] === -1) return { status: 'refused', used: Number(result[1]), max: Number(result[2]) };
      return { status: 'wait', retryInMs: Number(result[1]) };
    },
    async release(d, id) {
      if ((await redis.zrem(keys(d).holders, id)) > 0) await redis.publish(channel, accountKey(d));
    },
    async renew(d, id, now, lease) {
      await run(SCRIPTS.renew, [keys(d).holders], [id, clock(now), lease, idleMs(d)]);
    },
    async abandon(d, id) {
      const k = keys(d);
      // Both keys share the account's slot, so one MULTI is fine on a cluster.
      await redis.multi().zrem(k.line, id).zrem(k.seen, id).exec();
      await redis.publish(channel, accountKey(d));
    },
    async report(d, usage, now) {
      const k = keys(d);
      await redis.multi().hset(k.daily, 'used', usage.used, 'max', usage.max, 'at', now).pexpire(k.daily, idleMs(d)).exec();
    },
    async usage(d, now) {
      const k = keys(d);
      const windowMs = d.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
      const [inFlight, started, waiting, used, max, at, measured] = ((await run(SCRIPTS.usage, [k.holders, k.line, k.starts, k.daily], [windowMs, clock(now)])) as number[]).map(Number);
      const fresh = used >= 0 && max > 0 && at + DAILY_REPORT_STALE_MS > measured;
      return {
        system: d.system,
        vendor: d.vendor,
        account: d.account,
        concurrency: d.concurrency ? { inFlight, max: d.concurrency } : null,
        perSecond: d.perSecond ? { started, max: d.perSecond, windowMs } : null,
        daily: d.daily && fresh ? { used, max } : null,
        waiting,
      };
    },
    onRelease(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      // Nothing to flush (held leases run out by themselves): drop the connections at once, even
      // when Redis is gone, so a stopping process never waits on a reconnect.
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}

/** The governor of a process on Redis: one budget per vendor account with every other process on it. */
export function createRedisCapacityGovernor(options: RedisCapacityOptions): CapacityGovernor {
  return createCapacityGovernor(createRedisCapacityBackend(options), options);
}

/**
 * The process's governor from the configuration: on REDIS_URL (shared with every process there),
 * or in memory in embedded mode (one process, so one budget all the same).
 */
export function capacityGovernorFromConfig(config: Pick<ConcordConfig, 'redisUrl' | 'redisPrefix' | 'redisCommandTimeoutMs' | 'capacity'>): CapacityGovernor {
  const { waitMs, leaseMs } = config.capacity;
  if (!config.redisUrl) return createMemoryCapacityGovernor({ waitMs, leaseMs });
  return createRedisCapacityGovernor({ url: config.redisUrl, prefix: config.redisPrefix, commandTimeoutMs: config.redisCommandTimeoutMs, waitMs, leaseMs });
}
