/**
 * The entity cache's store (core/entity-cache.ts, core/entity-cache-redis.ts), memory and Redis,
 * one contract: a fill is served until its unit is invalidated; a vendor read that was in flight
 * when its unit was invalidated cannot store what it read; a bypass read misses but may refill;
 * another client of the same Redis sees one's invalidation at once.
 */
import { createMemoryEntityCache, type EntityCacheStore } from '../../core/entity-cache';
import { createRedisEntityCache } from '../../core/entity-cache-redis';
import { REDIS_URL, testPrefix } from '../helpers/redis';

const key = (unit: string, kind = 'billing.stripe.contracts') => ({ unit, kind });

describe.each([
  ['memory', () => ({ stores: [createMemoryEntityCache({ ttlMs: 60_000, maxBytes: 1 << 20 })], cleanup: async () => {} })],
  [
    'redis',
    () => {
      const { prefix, cleanup } = testPrefix('entity-cache-store');
      const a = createRedisEntityCache({ url: REDIS_URL, prefix, ttlSeconds: 60 });
      const b = createRedisEntityCache({ url: REDIS_URL, prefix, ttlSeconds: 60 });
      return { stores: [a, b], cleanup };
    },
  ],
] as const)('entity cache store (%s)', (_name, make) => {
  let stores: EntityCacheStore[];
  let cleanup: () => Promise<void>;
  beforeAll(() => {
    ({ stores, cleanup } = make() as { stores: EntityCacheStore[]; cleanup: () => Promise<void> });
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await cleanup();
  });

  it('serves what was filled until the unit is invalidated', async () => {
    const [store] = stores;
    const k = key('billing/customer:c1');
    const miss = await store.read([k]);
    expect(miss.values).toEqual([undefined]);
    await store.fill(miss.ticket, [{ key: k, json: '{"v":[1]}' }]);
    expect((await store.read([k])).values).toEqual(['{"v":[1]}']);
    await store.invalidate(['billing/customer:c1']);
    expect((await store.read([k])).values).toEqual([undefined]);
  });

  it('does not store a read that was in flight when its unit was invalidated', async () => {
    const [store] = stores;
    const k = key('billing/customer:c2');
    const other = key('billing/customer:c3');
    const before = await store.read([k, other]);
    await store.invalidate(['billing/customer:c2']);
    await store.fill(before.ticket, [
      { key: k, json: '"old"' },
      { key: other, json: '"fine"' },
    ]);
    expect((await store.read([k, other])).values).toEqual([undefined, '"fine"']);
  });

  it('misses on a bypass read, and its fill replaces what was cached', async () => {
    const [store] = stores;
    const k = key('erp/customer:c4', 'erp.netsuite.profile');
    await store.fill((await store.read([k])).ticket, [{ key: k, json: '"cached"' }]);
    const bypass = await store.read([k], true);
    expect(bypass.values).toEqual([undefined]);
    await store.fill(bypass.ticket, [{ key: k, json: '"fresh"' }]);
    expect((await store.read([k])).values).toEqual(['"fresh"']);
  });

  it('shows one client the invalidation another made', async () => {
    const [a, b = a] = stores;
    const k = key('crm/customer:c5', 'crm.salesforce.account');
    await a.fill((await a.read([k])).ticket, [{ key: k, json: '"x"' }]);
    expect((await b.read([k])).values).toEqual(['"x"']);
    await b.invalidate(['crm/customer:c5']);
    expect((await a.read([k])).values).toEqual([undefined]);
  });
});

describe('memory entity cache bounds', () => {
  it('keeps at most its bytes, least recently used out first, and honours the TTL', async () => {
    let now = 0;
    const store = createMemoryEntityCache({ ttlMs: 1000, maxBytes: 10_000, now: () => now });
    const big = 'x'.repeat(1500);
    for (let i = 0; i < 10; i++) {
      const k = key(`billing/customer:b${i}`);
      await store.fill((await store.read([k])).ticket, [{ key: k, json: big }]);
    }
    const held = (await store.read(Array.from({ length: 10 }, (_, i) => key(`billing/customer:b${i}`)))).values.filter(Boolean);
    expect(held.length).toBeLessThan(10);
    expect((await store.read([key('billing/customer:b9')])).values).toEqual([big]);
    now = 1001;
    expect((await store.read([key('billing/customer:b9')])).values).toEqual([undefined]);
  });
});
