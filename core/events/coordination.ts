/**
 * What the event workers need to share between processes, besides the log: durable checkpoints
 * (the pollers' high-water marks), leases (one poller of a kind at a time across replicas) and
 * per-key locks (one reaction per customer at a time). Memory for embedded mode, Redis otherwise.
 *
 * Redis keys, each its own unit (every operation touches one key), so each has its own hash tag and
 * a Redis Cluster spreads them: `{<prefix>:events:hwm:<name>}`, `{<prefix>:events:lease:<name>}`,
 * `{<prefix>:events:mark:<name>}`.
 */
import { randomUUID } from 'node:crypto';
import { createRedisClient, tag, type RedisClient } from '../redis';

export interface Coordination {
  /** A checkpoint's value, or null when it was never set. */
  getCheckpoint(name: string): Promise<string | null>;
  setCheckpoint(name: string, value: string): Promise<void>;
  /** Take `name` for `ttlMs` when it is free or already held by `holder` (which renews it). */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Give `name` up, if `holder` still holds it. */
  release(name: string, holder: string): Promise<void>;
  /** Set a short-lived mark (for example "Concord just wrote this record"). */
  mark(name: string, ttlMs: number): Promise<void>;
  /** Whether a mark is set and not yet expired. */
  marked(name: string): Promise<boolean>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Run `fn` while holding lock `name`, waiting for it up to `waitMs` (then throwing, so the caller
 * retries later). The lock is renewed while `fn` runs and expires by itself if this process dies.
 */
export async function withLock<T>(
  coordination: Coordination,
  name: string,
  fn: () => Promise<T>,
  options: { ttlMs?: number; waitMs?: number } = {},
): Promise<T> {
  const { ttlMs = 15_000, waitMs = 10_000 } = options;
  const holder = randomUUID();
  const deadline = Date.now() + waitMs;
  for (let pause = 10; !(await coordination.acquire(name, holder, ttlMs)); pause = Math.min(pause * 2, 250)) {
    if (Date.now() > deadline) throw new Error(`lock ${name} is busy`);
    await sleep(pause);
  }
  const renew = setInterval(() => void coordination.acquire(name, holder, ttlMs).catch(() => undefined), Math.ceil(ttlMs / 3));
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    await coordination.release(name, holder).catch(() => undefined);
  }
}

export function createMemoryCoordination(): Coordination {
  const checkpoints = new Map<string, string>();
  const leases = new Map<string, { holder: string; expires: number }>();
  const marks = new Map<string, number>();
  return {
    async getCheckpoint(name) {
      return checkpoints.get(name) ?? null;
    },
    async setCheckpoint(name, value) {
      checkpoints.set(name, value);
    },
    async acquire(name, holder, ttlMs) {
      const current = leases.get(name);
      if (current && current.holder !== holder && current.expires > Date.now()) return false;
      leases.set(name, { holder, expires: Date.now() + ttlMs });
      return true;
    },
    async release(name, holder) {
      if (leases.get(name)?.holder === holder) leases.delete(name);
    },
    async mark(name, ttlMs) {
      if (marks.size > 10_000) for (const [key, expires] of marks) if (expires <= Date.now()) marks.delete(key);
      marks.set(name, Date.now() + ttlMs);
    },
    async marked(name) {
      return (marks.get(name) ?? 0) > Date.now();
    },
    async close() {},
  };
}

const ACQUIRE = `
--[[
  Take or renew a lease.
  Input: KEYS[1] lease key; ARGV[1] holder; ARGV[2] ttl ms
  Output: 1 when held by ARGV[1] now, 0 when someone else holds it
]]
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const RELEASE = `
--[[ Give a lease up only if ARGV[1] still holds it. KEYS[1] lease key. ]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

type LeaseClient = RedisClient & {
  concordAcquire(key: string, holder: string, ttlMs: number): Promise<number>;
  concordRelease(key: string, holder: string): Promise<number>;
};

export interface RedisCoordinationOptions {
  url?: string;
  prefix?: string;
  onError?: (error: Error) => void;
}

export function createRedisCoordination(options: RedisCoordinationOptions = {}): Coordination {
  const { url = 'redis://127.0.0.1:6379', prefix = 'concord', onError = () => undefined } = options;
  const key = (kind: 'hwm' | 'lease' | 'mark', name: string) => tag(prefix, `events:${kind}:${name}`);
  const redis = createRedisClient(url) as LeaseClient;
  redis.on('error', onError);
  redis.defineCommand('concordAcquire', { numberOfKeys: 1, lua: ACQUIRE });
  redis.defineCommand('concordRelease', { numberOfKeys: 1, lua: RELEASE });
  return {
    getCheckpoint: (name) => redis.get(key('hwm', name)),
    async setCheckpoint(name, value) {
      await redis.set(key('hwm', name), value);
    },
    async acquire(name, holder, ttlMs) {
      return (await redis.concordAcquire(key('lease', name), holder, ttlMs)) === 1;
    },
    async release(name, holder) {
      await redis.concordRelease(key('lease', name), holder);
    },
    async mark(name, ttlMs) {
      await redis.set(key('mark', name), '1', 'PX', ttlMs);
    },
    async marked(name) {
      return (await redis.exists(key('mark', name))) === 1;
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
