/**
 * Per-subject rate limits: a token bucket per token subject (`sub`). A subject may make `burst`
 * requests at once and `perSecond` requests a second sustained; beyond that the gateway answers
 * 429 RATE_LIMITED with Retry-After, before reading the body.
 *
 * Two implementations of one interface: in Redis (one Lua script, so replicas share the bucket and
 * a take is atomic; the clock is Redis's own TIME, so replicas with skewed clocks agree), and in
 * memory for embedded mode (one process). The same contract suite runs against both
 * (test/security/rate-limit.test.ts).
 */
import { createHash } from 'node:crypto';
import { createRedisClient, tag, type RedisClient } from '../core/redis';

export interface RateDecision {
  allowed: boolean;
  /** Whole requests left in the bucket after this one. */
  remaining: number;
  /** When refused: seconds until one request's worth has refilled (at least 1). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Take `cost` (default 1) from the subject's bucket. */
  take(subject: string, cost?: number): Promise<RateDecision>;
  close(): Promise<void>;
}

export interface RateLimitOptions {
  /** Sustained requests per second per subject. */
  perSecond: number;
  /** Bucket size: requests a subject may make at once. At least 1. */
  burst: number;
}

/** Never refuses (rate limiting turned off with CONCORD_RATE_LIMIT_RPS=0). */
export function createUnlimitedRateLimiter(): RateLimiter {
  return { take: async () => ({ allowed: true, remaining: Number.MAX_SAFE_INTEGER, retryAfterSeconds: 0 }), close: async () => undefined };
}

interface Bucket {
  tokens: number;
  at: number;
}

export interface MemoryRateLimitOptions extends RateLimitOptions {
  /** Clock in ms, for tests. Default Date.now. */
  now?: () => number;
  /** Most buckets kept; the least recently used go first (a full bucket is the default anyway). Default 100000. */
  maxBuckets?: number;
}

export function createMemoryRateLimiter(options: MemoryRateLimitOptions): RateLimiter {
  const { perSecond, now = Date.now, maxBuckets = 100_000 } = options;
  const burst = Math.max(1, options.burst);
  const buckets = new Map<string, Bucket>();
  return {
    async take(subject, cost = 1) {
      const at = now();
      const bucket = buckets.get(subject) ?? { tokens: burst, at };
      buckets.delete(subject); // re-inserted below: Map order is the LRU order
      const tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) * perSecond) / 1000);
      const allowed = tokens >= cost;
      const left = allowed ? tokens - cost : tokens;
      buckets.set(subject, { tokens: left, at });
      if (buckets.size > maxBuckets) buckets.delete(buckets.keys().next().value!);
      return {
        allowed,
        remaining: Math.floor(left),
        retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((cost - left) / perSecond)),
      };
    },
    async close() {
      buckets.clear();
    },
  };
}

const TAKE = `
--[[
  Token bucket take.
  Input:
    KEYS[1] bucket hash  {P:ratelimit:<subject hash>} (one bucket, one slot)   fields: tokens, at (ms)
    ARGV[1] burst (bucket size)   ARGV[2] refill per second   ARGV[3] cost
  Output:
    {allowed 0|1, whole tokens left, ms until cost is available (0 when allowed)}
  The clock is Redis TIME, so every gateway replica sees the same time. The key expires once the
  bucket would be full again: an idle subject costs no memory.
]]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, math.floor(tokens), wait}
`;

export interface RedisRateLimitOptions extends RateLimitOptions {
  /** Redis URL; the limiter makes its own client and quits it on close(). */
  url: string;
  /** Key namespace (CONCORD_REDIS_PREFIX); keys are `{<prefix>:ratelimit:<sha256(subject)>}`, one slot per bucket. Default 'concord'. */
  prefix?: string;
  /** Told of connection errors (the client reconnects by itself). Default: ignored. */
  onError?: (error: Error) => void;
}

type WithTake = RedisClient & { concordRateTake(key: string, burst: number, rate: number, cost: number): Promise<[number, number, number]> };

export function createRedisRateLimiter(options: RedisRateLimitOptions): RateLimiter {
  const { url, perSecond, prefix = 'concord', onError } = options;
  const burst = Math.max(1, options.burst);
  // Few retries and a short command timeout: a rate-limit check must not hang a request while Redis
  // is away (the gateway then lets the request through and logs it).
  const redis = createRedisClient(url, { maxRetriesPerRequest: 1, commandTimeout: 500, enableOfflineQueue: true }) as WithTake;
  redis.on('error', (error: Error) => onError?.(error));
  redis.defineCommand('concordRateTake', { numberOfKeys: 1, lua: TAKE });
  // Subjects are hashed: any characters, bounded key length, and no subject names in Redis.
  const keyOf = (subject: string) => tag(prefix, `ratelimit:${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`);
  return {
    async take(subject, cost = 1) {
      const [allowed, remaining, waitMs] = await redis.concordRateTake(keyOf(subject), burst, perSecond, cost);
      return { allowed: allowed === 1, remaining, retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)) };
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
