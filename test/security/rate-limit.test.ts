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

/**
 * Time without the machine's speed in it: the memory limiter takes a clock, which only moves when a
 * test moves it (`advance`); the Redis one reads Redis's own clock, so its tests use a rate slow
 * enough that nothing refills while they run (`slow`), and poll for a refill that must come.
 */
interface Made {
  limiter: RateLimiter;
  cleanup(): Promise<void>;
  /** Memory only: move the limiter's clock on. */
  advance?: (ms: number) => void;
}
type Make = (opts: { perSecond: number; burst: number }) => Made;

const implementations: [string, Make, { slow: number }][] = [
  [
    'memory',
    (opts) => {
      let clock = 1_000_000;
      return { limiter: createMemoryRateLimiter({ ...opts, now: () => clock }), cleanup: async () => undefined, advance: (ms) => void (clock += ms) };
    },
    { slow: 1 }, // the clock stands still: even 1 a second refills nothing
  ],
  [
    'redis',
    (opts) => {
      const keys = testPrefix('ratelimit');
      const limiter = createRedisRateLimiter({ ...opts, url: REDIS_URL, prefix: keys.prefix });
      return { limiter, cleanup: () => keys.cleanup() };
    },
    { slow: 0.01 }, // one token per 100 s
  ],
];

describe.each(implementations)('rate limiter contract (%s)', (_name, make, { slow }) => {
  let made: ReturnType<typeof make>;
  afterEach(async () => {
    await made.limiter.close();
    await made.cleanup();
  });

  it('allows a burst, then refuses with a Retry-After', async () => {
    made = make({ perSecond: slow, burst: 5 });
    const decisions = [];
    for (let i = 0; i < 7; i++) decisions.push(await made.limiter.take('alice'));
    expect(decisions.slice(0, 5).every((d) => d.allowed)).toBe(true);
    expect(decisions[4].remaining).toBe(0);
    // One token takes 1 / rate seconds (the Redis clock may have moved a little: not more than that).
    expect(decisions[5].allowed).toBe(false);
    expect(decisions[5].retryAfterSeconds).toBeGreaterThanOrEqual(Math.ceil(1 / slow) - 1);
    expect(decisions[5].retryAfterSeconds).toBeLessThanOrEqual(Math.ceil(1 / slow));
    expect(decisions[6].allowed).toBe(false);
  });

  it('keeps subjects apart', async () => {
    made = make({ perSecond: slow, burst: 2 });
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
    const advance = made.advance;
    if (advance) {
      // 20 a second: one token per 50 ms, and not before.
      expect((await made.limiter.take('carol')).allowed).toBe(false);
      advance(49);
      expect((await made.limiter.take('carol')).allowed).toBe(false);
      advance(1);
      expect((await made.limiter.take('carol')).allowed).toBe(true);
      advance(100);
      expect((await made.limiter.take('carol')).allowed).toBe(true);
      expect((await made.limiter.take('carol')).allowed).toBe(true);
      expect((await made.limiter.take('carol')).allowed).toBe(false); // two refilled, no more than the burst
    } else {
      // Redis's clock: the refill must come (polled, generous deadline); its exact rate is the memory case's.
      const deadline = Date.now() + 30_000;
      let allowed = false;
      while (!allowed && Date.now() < deadline) {
        allowed = (await made.limiter.take('carol')).allowed;
        if (!allowed) await sleep(20);
      }
      expect(allowed).toBe(true);
    }
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
