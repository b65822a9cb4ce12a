/**
 * The KeyValueStore contract (reports, drifts, subject indexes and locks), run over the memory and
 * the Redis implementation alike (STYLE.md 2).
 */
import { createMemoryKeyValueStore } from '../../subgraphs/orchestration/kv-memory';
import { createRedisKeyValueStore } from '../../subgraphs/orchestration/kv-redis';
import type { KeyValueStore } from '../../subgraphs/orchestration/kv';
import { REDIS_URL, testPrefix } from '../helpers/redis';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How each implementation lets an expiry come without the test depending on the machine's speed:
 * the memory store takes a clock, moved on here; Redis keeps time itself, so a value that expires
 * is polled until it has gone (generous deadline), and "still there" is only asserted of values
 * whose expiry is far off (a minute), never of one about to lapse.
 */
interface Implementation {
  name: string;
  make: (prefix: string) => KeyValueStore;
  /** A TTL that does not lapse during the test (memory: the clock only moves when told to). */
  soonMs: number;
  /** Resolve once `ms` have passed for the store and `gone()` holds; reject if it never does. */
  elapse: (ms: number, gone: () => Promise<boolean>) => Promise<void>;
}

let clock = Date.parse('2026-01-01T00:00:00Z');

async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * Try `attempt(key, ttlMs)` with a short TTL on a fresh key; when it answers false (a busy machine
 * let the TTL lapse before the next command), again with twice the TTL. Returns what held.
 */
async function withShortTtl(base: string, ttlMs: number, attempt: (key: string, ttlMs: number) => Promise<boolean>): Promise<{ key: string; ttlMs: number }> {
  for (let i = 0; i <= 12; i++, ttlMs *= 2) {
    const key = `${base}-${i}`;
    if (await attempt(key, ttlMs)) return { key, ttlMs };
  }
  throw new Error(`${base}: the short TTL lapsed every time`);
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'memory',
    make: () => createMemoryKeyValueStore({ now: () => clock }),
    soonMs: 30,
    elapse: async (ms, gone) => {
      clock += ms;
      if (!(await gone())) throw new Error(`not expired ${ms} ms later`);
    },
  },
  {
    name: 'redis',
    make: (prefix) => createRedisKeyValueStore({ url: REDIS_URL, prefix }),
    // Set with a short TTL only where the test then waits for it to lapse.
    soonMs: 30,
    elapse: (_ms, gone) => pollUntil(gone, 'expired'),
  },
];

describe.each(IMPLEMENTATIONS)('KeyValueStore contract: $name', ({ name, make, soonMs, elapse }) => {
  const keys = testPrefix(`kv-${name}`);
  let kv: KeyValueStore;
  const MINUTE = 60_000;

  beforeAll(() => {
    kv = make(keys.prefix);
  });
  afterAll(async () => {
    await kv.close();
    await keys.cleanup();
  });

  test('get, set, getMany and setMany; an expiry ends a value', async () => {
    expect(await kv.get('a')).toBeNull();
    await kv.set('a', '1');
    await kv.setMany([['b', '2'], ['c', '3']]);
    expect(await kv.getMany(['a', 'b', 'c', 'none'])).toEqual(['1', '2', '3', null]);
    await kv.set('long', 'y', MINUTE);
    expect(await kv.get('long')).toBe('y'); // an expiry a minute off has not come
    await kv.set('short', 'x', soonMs);
    await elapse(soonMs + 1, async () => (await kv.get('short')) === null);
    expect(await kv.getMany(['short', 'long'])).toEqual([null, 'y']);
    expect(await kv.getMany([])).toEqual([]);
  });

  test('setIfAbsent is a lock: one holder, free again once it expires or its holder releases it', async () => {
    // Taken with a short TTL, renewed by its holder to a minute (only the holder renews).
    const { key: lock, ttlMs } = await withShortTtl('lock', soonMs, async (key, ttl) => {
      expect(await kv.setIfAbsent(key, 'holder-1', ttl)).toBe(true);
      expect(await kv.expireIfEquals(key, 'holder-2', MINUTE)).toBe(false);
      return kv.expireIfEquals(key, 'holder-1', MINUTE);
    });
    expect(await kv.setIfAbsent(lock, 'holder-2', MINUTE)).toBe(false);
    // Still held once the first expiry has passed (memory: the clock moves past it; Redis: a
    // probe with the same short TTL, set after the lock, is polled until it has lapsed).
    await kv.set('probe', 'p', ttlMs);
    await elapse(ttlMs + 1, async () => (await kv.get('probe')) === null);
    expect(await kv.get(lock)).toBe('holder-1');
    expect(await kv.deleteIfEquals(lock, 'holder-2')).toBe(false);
    expect(await kv.deleteIfEquals(lock, 'holder-1')).toBe(true);
    // Free again once a holder's lock expires.
    expect(await kv.setIfAbsent(lock, 'holder-2', soonMs)).toBe(true);
    await elapse(soonMs + 1, () => kv.setIfAbsent(lock, 'holder-3'));
    expect(await kv.get(lock)).toBe('holder-3');
  });

  test('compareAndSet moves a pointer only from the value the caller saw', async () => {
    expect(await kv.compareAndSet('ptr', null, 'run-1')).toBe(true);
    expect(await kv.compareAndSet('ptr', null, 'run-2')).toBe(false);
    expect(await kv.compareAndSet('ptr', 'run-0', 'run-2')).toBe(false);
    expect(await kv.compareAndSet('ptr', 'run-1', 'run-2')).toBe(true);
    expect(await kv.get('ptr')).toBe('run-2');
    // The expiry is kept unless a new one is given.
    const moved = await withShortTtl('ttl-ptr', soonMs, async (key, ttl) => {
      await kv.set(key, 'a', ttl);
      return kv.compareAndSet(key, 'a', 'b');
    });
    await elapse(moved.ttlMs + 1, async () => (await kv.get(moved.key)) === null);
  });

  test('a capped list keeps the newest entries, newest first', async () => {
    for (let i = 1; i <= 5; i++) await kv.pushCapped('list', `r${i}`, 3);
    expect(await kv.listRange('list', 10)).toEqual(['r5', 'r4', 'r3']);
    expect(await kv.listRange('list', 1)).toEqual(['r5']);
    expect(await kv.listRange('none', 5)).toEqual([]);
  });

  test('concurrent lock attempts: exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => kv.setIfAbsent('race', `h${i}`, 5000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const cas = await Promise.all(Array.from({ length: 20 }, (_, i) => kv.compareAndSet('race-ptr', null, `p${i}`)));
    expect(cas.filter(Boolean)).toHaveLength(1);
  });
});
