/**
 * The KeyValueStore contract (reports, drifts, subject indexes and locks), run over the memory and
 * the Redis implementation alike (STYLE.md 2).
 */
import { createMemoryKeyValueStore } from '../../subgraphs/orchestration/kv-memory';
import { createRedisKeyValueStore } from '../../subgraphs/orchestration/kv-redis';
import type { KeyValueStore } from '../../subgraphs/orchestration/kv';
import { REDIS_URL, testPrefix } from '../helpers/redis';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const IMPLEMENTATIONS: { name: string; make: (prefix: string) => KeyValueStore }[] = [
  { name: 'memory', make: () => createMemoryKeyValueStore() },
  { name: 'redis', make: (prefix) => createRedisKeyValueStore({ url: REDIS_URL, prefix }) },
];

describe.each(IMPLEMENTATIONS)('KeyValueStore contract: $name', ({ name, make }) => {
  const keys = testPrefix(`kv-${name}`);
  let kv: KeyValueStore;

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
    await kv.set('short', 'x', 30);
    expect(await kv.get('short')).toBe('x');
    await sleep(80);
    expect(await kv.get('short')).toBeNull();
    expect(await kv.getMany([])).toEqual([]);
  });

  test('setIfAbsent is a lock: one holder, free again once it expires or its holder releases it', async () => {
    expect(await kv.setIfAbsent('lock', 'holder-1', 60)).toBe(true);
    expect(await kv.setIfAbsent('lock', 'holder-2', 60)).toBe(false);
    // Only the holder renews or releases.
    expect(await kv.expireIfEquals('lock', 'holder-2', 1000)).toBe(false);
    expect(await kv.expireIfEquals('lock', 'holder-1', 1000)).toBe(true);
    await sleep(100);
    expect(await kv.get('lock')).toBe('holder-1');
    expect(await kv.deleteIfEquals('lock', 'holder-2')).toBe(false);
    expect(await kv.deleteIfEquals('lock', 'holder-1')).toBe(true);
    expect(await kv.setIfAbsent('lock', 'holder-2', 40)).toBe(true);
    await sleep(90);
    expect(await kv.setIfAbsent('lock', 'holder-3')).toBe(true);
  });

  test('compareAndSet moves a pointer only from the value the caller saw', async () => {
    expect(await kv.compareAndSet('ptr', null, 'run-1')).toBe(true);
    expect(await kv.compareAndSet('ptr', null, 'run-2')).toBe(false);
    expect(await kv.compareAndSet('ptr', 'run-0', 'run-2')).toBe(false);
    expect(await kv.compareAndSet('ptr', 'run-1', 'run-2')).toBe(true);
    expect(await kv.get('ptr')).toBe('run-2');
    // The expiry is kept unless a new one is given.
    await kv.set('ttl-ptr', 'a', 60);
    expect(await kv.compareAndSet('ttl-ptr', 'a', 'b')).toBe(true);
    await sleep(110);
    expect(await kv.get('ttl-ptr')).toBeNull();
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
