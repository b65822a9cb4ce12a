/**
 * One contract, both rate limiters: the in-memory token bucket (embedded mode) and the Redis one
 * (a Lua script, shared by every gateway replica). Then the limit through the real gateway, with
 * Redis behind it: two gateways share one subject's bucket.
 */
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from '../../gateway/rate-limit';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { claims, hs256, post } from './helpers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const implementations: [string, (opts: { perSecond: number; burst: number }) => { limiter: RateLimiter; cleanup(): Promise<void> }][] = [
  ['memory', (opts) => ({ limiter: createMemoryRateLimiter(opts), cleanup: async () => undefined })],
  [
    'redis',
    (opts) => {
      const keys = testPrefix('ratelimit');
      const limiter = createRedisRateLimiter({ ...opts, url: REDIS_URL, prefix: keys.prefix });
      return { limiter, cleanup: () => keys.cleanup() };
    },
  ],
];

describe.each(implementations)('rate limiter contract (%s)', (_name, make) => {
  let made: ReturnType<typeof make>;
  afterEach(async () => {
    await made.limiter.close();
    await made.cleanup();
  });

  it('allows a burst, then refuses with a Retry-After', async () => {
    made = make({ perSecond: 1, burst: 5 });
    const decisions = [];
    for (let i = 0; i < 7; i++) decisions.push(await made.limiter.take('alice'));
    expect(decisions.slice(0, 5).every((d) => d.allowed)).toBe(true);
    expect(decisions[4].remaining).toBe(0);
    expect(decisions[5]).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(decisions[6].allowed).toBe(false);
  });

  it('keeps subjects apart', async () => {
    made = make({ perSecond: 1, burst: 2 });
    await made.limiter.take('alice');
    await made.limiter.take('alice');
    expect((await made.limiter.take('alice')).allowed).toBe(false);
    expect((await made.limiter.take('bob')).allowed).toBe(true);
    expect((await made.limiter.take('a subject with spaces, unicode é and {braces}')).allowed).toBe(true);
  });

  it('refills at the sustained rate', async () => {
    made = make({ perSecond: 20, burst: 2 });
    await made.limiter.take('carol');
    await made.limiter.take('carol');
    expect((await made.limiter.take('carol')).allowed).toBe(false);
    await sleep(120); // 20 a second: two requests' worth refilled after 100 ms
    expect((await made.limiter.take('carol')).allowed).toBe(true);
  });

  it('is atomic under concurrency: exactly the burst gets through', async () => {
    made = make({ perSecond: 0.001, burst: 10 });
    const decisions = await Promise.all(Array.from({ length: 40 }, () => made.limiter.take('dave')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
  });
});

describe('rate limits through the gateway, shared across replicas in Redis', () => {
  const keys = testPrefix('ratelimit-gw');
  let a: TestSystem;
  let b: TestSystem;
  beforeAll(async () => {
    const env = { REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_RATE_LIMIT_RPS: '1', CONCORD_RATE_LIMIT_BURST: '6', CONCORD_WORKERS: '0' };
    [a, b] = await Promise.all([startTestSystem({ env }), startTestSystem({ env })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await keys.cleanup();
  });

  it('counts one subject across two gateways, and answers RATE_LIMITED with Retry-After', async () => {
    const token = await hs256(claims('shared-subject'));
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 8; i++) {
      const response = await post((i % 2 ? a : b).gateway.url, token, { query: '{ __typename }' });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    expect(limited!.headers.get('retry-after')).toBe('1');
    expect(limited!.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1, correlationId: expect.any(String) });
    // Another subject is not affected.
    const other = await post(a.gateway.url, await hs256(claims('another-subject')), { query: '{ __typename }' });
    expect(other.status).toBe(200);
  });
});
