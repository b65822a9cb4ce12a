/**
 * One RunStore contract, every implementation: the in-memory store (embedded mode) and the Redis
 * store, against the test Redis (TEST_REDIS_URL, test/helpers/redis.ts) under a unique key prefix per suite.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Page } from '../../core/canonical';
import { fromMinorUnits } from '../../core/money';
import { STEP_NAMES, emptyContext, newStep, type Run, type RunStatus } from '../../subgraphs/orchestration/model';
import type { RunStore } from '../../subgraphs/orchestration/store';
import { createMemoryRunStore } from '../../subgraphs/orchestration/store-memory';
import { createRedisRunStore } from '../../subgraphs/orchestration/store-redis';
import { REDIS_URL, testPrefix } from '../helpers/redis';

interface Implementation {
  name: string;
  open(): Promise<RunStore>;
  cleanup(): Promise<void>;
}

/** Each Redis suite has its own prefix and its own client, and deletes its keys afterwards. */
function redisImplementation(): Implementation {
  const keys = testPrefix('run-store');
  let redis: Redis | null = null;
  return {
    name: 'redis',
    async open() {
      redis = new Redis(REDIS_URL);
      return createRedisRunStore({ redis, prefix: keys.prefix });
    },
    async cleanup() {
      await redis?.quit();
      await keys.cleanup();
    },
  };
}

const implementations: Implementation[] = [
  { name: 'memory', open: async () => createMemoryRunStore(), cleanup: async () => {} },
  redisImplementation(),
];

let clock = Date.parse('2025-01-01T00:00:00.000Z');

/** A run as the engine creates it; createdAt increases strictly so "newest first" is unambiguous. */
function makeRun(overrides: Partial<Run> = {}): Run {
  clock += 1000;
  const at = new Date(clock).toISOString();
  return {
    id: randomUUID(),
    correlationId: randomUUID(),
    idempotencyKey: `key-${randomUUID()}`,
    inputHash: 'hash-1',
    opportunityId: `opp-${randomUUID()}`,
    status: 'PENDING',
    version: 1,
    steps: STEP_NAMES.map(newStep),
    context: { ...emptyContext(), lines: [{ productCode: 'PRO', quantity: 3 }], amount: fromMinorUnits(12000, 'USD') },
    cancelRequested: false,
    deadLetter: null,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

/** Save a status change, failing the test if the save is refused. */
async function moveTo(store: RunStore, run: Run, status: RunStatus): Promise<Run> {
  const saved = await store.save({ ...run, status, updatedAt: new Date(clock).toISOString() });
  expect(saved).not.toBeNull();
  return saved!;
}

describe.each(implementations)('RunStore contract: $name', (implementation) => {
  let store: RunStore;

  beforeAll(async () => {
    store = await implementation.open();
  });

  afterAll(async () => {
    await store.close();
    await implementation.cleanup();
  });

  test('create then get and findByKey return the same run', async () => {
    const run = makeRun();
    const result = await store.create(run);
    expect(result).toEqual({ outcome: 'created', run });
    expect(await store.get(run.id)).toEqual(run);
    expect(await store.findByKey(run.idempotencyKey)).toEqual(run);
    expect(await store.get(randomUUID())).toBeNull();
    expect(await store.findByKey('no-such-key')).toBeNull();
  });

  test('a taken idempotency key returns the first run', async () => {
    const first = makeRun();
    await store.create(first);
    const second = makeRun({ idempotencyKey: first.idempotencyKey, inputHash: 'hash-2' });
    const result = await store.create(second);
    expect(result).toEqual({ outcome: 'existing-key', run: first });
    expect(await store.get(second.id)).toBeNull();
    // Nothing of the refused run is left: its opportunity is free.
    expect(await store.forOpportunity(second.opportunityId)).toBeNull();
  });

  test('concurrent creates: one run per idempotency key and one live run per opportunity', async () => {
    const sameKey = makeRun();
    const racers = Array.from({ length: 5 }, () => makeRun({ idempotencyKey: sameKey.idempotencyKey, opportunityId: sameKey.opportunityId }));
    const keyResults = await Promise.all(racers.map((run) => store.create(run)));
    const winner = keyResults.find((r) => r.outcome === 'created')!;
    expect(keyResults.filter((r) => r.outcome === 'created')).toHaveLength(1);
    // The others are replays of the winner, whichever of the two checks they met first.
    for (const result of keyResults) expect(result.run.id).toBe(winner.run.id);
    expect(keyResults.filter((r) => r.outcome !== 'created').every((r) => r.outcome === 'existing-key')).toBe(true);

    const deal = `opp-${randomUUID()}`;
    const dealResults = await Promise.all(Array.from({ length: 5 }, () => store.create(makeRun({ opportunityId: deal }))));
    expect(dealResults.map((r) => r.outcome).sort()).toEqual(['created', 'existing-opportunity', 'existing-opportunity', 'existing-opportunity', 'existing-opportunity']);
    const live = dealResults.find((r) => r.outcome === 'created')!.run;
    expect(await store.forOpportunity(deal)).toEqual(live);
    for (const result of dealResults) if (result.outcome !== 'created') expect(result.run.id).toBe(live.id);
  });

  test('an opportunity with a live run refuses a second run until the first is compensated', async () => {
    const first = makeRun();
    await store.create(first);
    const second = makeRun({ opportunityId: first.opportunityId });
    expect(await store.create(second)).toEqual({ outcome: 'existing-opportunity', run: first });
    expect(await store.get(second.id)).toBeNull();

    // COMPLETED and DEAD_LETTERED runs still hold the opportunity; only COMPENSATED frees it
    const completed = await moveTo(store, first, 'COMPLETED');
    expect((await store.create(second)).outcome).toBe('existing-opportunity');
    await moveTo(store, completed, 'COMPENSATED');

    const created = await store.create(second);
    expect(created).toEqual({ outcome: 'created', run: second });
    expect(await store.forOpportunity(first.opportunityId)).toEqual(second);
  });

  test('save bumps the version and refuses a stale copy', async () => {
    const run = makeRun();
    await store.create(run);
    const changed = { ...run, status: 'RUNNING' as const, updatedAt: '2025-02-01T00:00:00.000Z' };
    const saved = await store.save(changed);
    expect(saved).toEqual({ ...changed, version: run.version + 1 });
    expect(await store.get(run.id)).toEqual(saved);

    // `run` still has the old version: refused, stored copy unchanged
    expect(await store.save({ ...run, status: 'DEAD_LETTERED' })).toBeNull();
    expect(await store.get(run.id)).toEqual(saved);
    expect(await store.save(makeRun())).toBeNull(); // never created
  });

  test('two concurrent saves from the same version: exactly one wins', async () => {
    const run = makeRun();
    await store.create(run);
    const results = await Promise.all([
      store.save({ ...run, status: 'RUNNING', correlationId: 'a' }),
      store.save({ ...run, status: 'WAITING_RETRY', correlationId: 'b' }),
    ]);
    const winners = results.filter((r): r is Run => r !== null);
    expect(winners).toHaveLength(1);
    expect(await store.get(run.id)).toEqual(winners[0]);
  });

  test('list pages newest first without duplicates or gaps', async () => {
    const created: Run[] = [];
    for (let i = 0; i < 25; i++) {
      const run = makeRun({ status: 'WAITING_RETRY' });
      await store.create(run);
      created.push(run);
    }
    const expected = created.map((r) => r.id).reverse();
    const seen: string[] = [];
    let after: string | null = null;
    for (let pageNo = 0; pageNo < 3; pageNo++) {
      const page = await store.list({ status: 'WAITING_RETRY' }, { first: 10, after });
      seen.push(...page.items.map((r) => r.id));
      expect(page.hasNextPage).toBe(pageNo < 2);
      expect(page.endCursor).toBe(page.items[page.items.length - 1].id);
      after = page.endCursor;
    }
    expect(seen).toEqual(expected);

    // unfiltered: the newest of everything comes first
    const all = await store.list({}, { first: 3 });
    expect(all.items.map((r) => r.id)).toEqual(expected.slice(0, 3));
    expect(all.hasNextPage).toBe(true);
  });

  test('a run created during paging does not disturb the remaining pages', async () => {
    const created: Run[] = [];
    for (let i = 0; i < 6; i++) {
      const run = makeRun({ status: 'COMPENSATING' });
      await store.create(run);
      created.push(run);
    }
    const firstPage = await store.list({ status: 'COMPENSATING' }, { first: 3 });
    await store.create(makeRun({ status: 'COMPENSATING' })); // newer than everything listed
    const secondPage = await store.list({ status: 'COMPENSATING' }, { first: 3, after: firstPage.endCursor });
    expect([...firstPage.items, ...secondPage.items].map((r) => r.id)).toEqual(created.map((r) => r.id).reverse());
    expect(secondPage.hasNextPage).toBe(false);
  });

  test('runs created in the same millisecond page without duplicates or gaps', async () => {
    // the order among ties is the implementation's own (insertion, or id); only completeness is contract
    const at = new Date((clock += 1000)).toISOString();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await created(store, makeRun({ status: 'PENDING', createdAt: at }))).id);
    clock += 1000;
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Page<Run> = await store.list({}, { first: 2, after });
      seen.push(...page.items.map((r) => r.id));
      after = page.items.some((r) => r.createdAt < at) ? null : page.endCursor;
    } while (after);
    const ties = seen.filter((id) => ids.has(id));
    expect(ties).toHaveLength(5);
    expect(new Set(ties).size).toBe(5);
  });

  test('a status filter follows saves', async () => {
    const run = await moveTo(store, await created(store, makeRun()), 'RUNNING');
    const ids = async (status: RunStatus) => (await store.list({ status }, { first: 200 })).items.map((r) => r.id);
    expect(await ids('RUNNING')).toContain(run.id);
    const done = await moveTo(store, run, 'COMPLETED');
    expect(await ids('RUNNING')).not.toContain(run.id);
    expect(await ids('COMPLETED')).toContain(run.id);
    const listed = (await store.list({ status: 'COMPLETED' }, { first: 200 })).items;
    expect(listed.find((r) => r.id === run.id)).toEqual(done);
  });

  test('countByStatus has every status and follows creates and saves', async () => {
    const before = await store.countByStatus();
    expect(Object.keys(before).sort()).toEqual(
      ['COMPENSATED', 'COMPENSATING', 'COMPLETED', 'DEAD_LETTERED', 'PENDING', 'RUNNING', 'WAITING_RETRY'].sort(),
    );
    const run = await created(store, makeRun());
    await created(store, makeRun());
    await moveTo(store, run, 'DEAD_LETTERED');
    const after = await store.countByStatus();
    expect(after.PENDING).toBe(before.PENDING + 1);
    expect(after.DEAD_LETTERED).toBe(before.DEAD_LETTERED + 1);
    expect(after.RUNNING).toBe(before.RUNNING);
  });

  test('forOpportunity returns the latest run or null', async () => {
    const run = await created(store, makeRun());
    expect(await store.forOpportunity(run.opportunityId)).toEqual(run);
    expect(await store.forOpportunity(`opp-${randomUUID()}`)).toBeNull();
  });

  test('a lease is exclusive, renewable by its holder, and free after release or expiry', async () => {
    const runId = randomUUID();
    expect(await store.lease(runId, 'worker-a', 5000)).toBe(true);
    expect(await store.lease(runId, 'worker-b', 5000)).toBe(false);
    expect(await store.lease(runId, 'worker-a', 5000)).toBe(true); // renew
    await store.release(runId, 'worker-b'); // not the holder: no effect
    expect(await store.lease(runId, 'worker-b', 5000)).toBe(false);
    await store.release(runId, 'worker-a');
    expect(await store.lease(runId, 'worker-b', 80)).toBe(true);
    expect(await store.lease(runId, 'worker-a', 5000)).toBe(false); // b holds it until it expires
    // b's lease expires: polled with a generous deadline, not slept (a busy machine may take longer).
    const deadline = Date.now() + 30_000;
    let taken = false;
    while (!taken && Date.now() < deadline) {
      taken = await store.lease(runId, 'worker-a', 5000);
      if (!taken) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(taken).toBe(true);
  });
});

async function created(store: RunStore, run: Run): Promise<Run> {
  expect((await store.create(run)).outcome).toBe('created');
  return run;
}

/**
 * Redis only: a start is four single-slot steps (store-redis.ts), so a process may stop between
 * them; what it leaves must block nothing. The keys are written here as the store writes them.
 */
describe('RunStore on Redis, after a process stopped half-way', () => {
  const keys = testPrefix('run-store-half-way');
  const prefix = keys.prefix;
  let redis: Redis;
  let store: RunStore;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    store = createRedisRunStore({ redis, prefix });
  });
  afterAll(async () => {
    await store.close();
    await redis.quit();
    await keys.cleanup();
  });

  test('pointers to a run whose provisional record expired do not block a new start', async () => {
    const run = makeRun();
    // The dead start's opportunity and key pointers; its record expired (or was never written).
    await redis.set(`{${prefix}:o2c:opp:${run.opportunityId}}`, 'run-of-a-dead-start');
    await redis.set(`{${prefix}:o2c:idem:${run.idempotencyKey}}`, 'run-of-a-dead-start');
    expect(await store.findByKey(run.idempotencyKey)).toBeNull();
    expect(await store.create(run)).toEqual({ outcome: 'created', run });
    expect(await store.findByKey(run.idempotencyKey)).toEqual(run);
    expect(await store.forOpportunity(run.opportunityId)).toEqual(run);
    expect(await redis.pttl(`{${prefix}:o2c:run:${run.id}}`)).toBe(-1); // permanent
  });

  test('a start that stopped after claiming the deal blocks it only until its provisional record expires', async () => {
    // What steps 1 and 2 leave: a record with an expiry (here a short one) and the deal's pointer.
    const orphan = makeRun();
    await redis.hset(`{${prefix}:o2c:run:${orphan.id}}`, 'json', JSON.stringify(orphan), 'status', orphan.status, 'version', orphan.version, 'created', Date.parse(orphan.createdAt));
    await redis.pexpire(`{${prefix}:o2c:run:${orphan.id}}`, 60_000);
    await redis.set(`{${prefix}:o2c:opp:${orphan.opportunityId}}`, orphan.id);
    const blocked = makeRun({ opportunityId: orphan.opportunityId });
    expect((await store.create(blocked)).outcome).toBe('existing-opportunity'); // the dead start's record still lives
    // Its expiry comes (brought forward, so the test does not wait a minute or race a short one).
    await expireNow(`{${prefix}:o2c:run:${orphan.id}}`);
    expect(await store.create(blocked)).toEqual({ outcome: 'created', run: blocked });
  });

  /** What steps 1 and 2 (and 3, with `key`) of a create leave: a provisional record and its pointers. */
  async function halfCreated(run: Run, { key }: { key: boolean }): Promise<string> {
    const record = `{${prefix}:o2c:run:${run.id}}`;
    await redis.hset(record, 'json', JSON.stringify(run), 'status', run.status, 'version', run.version, 'created', Date.parse(run.createdAt));
    await redis.pexpire(record, 30_000);
    await redis.set(`{${prefix}:o2c:opp:${run.opportunityId}}`, run.id);
    if (key) await redis.set(`{${prefix}:o2c:idem:${run.idempotencyKey}}`, run.id);
    return record;
  }

  /** The record's expiry comes (brought forward: the test neither waits the provisional time nor races a short one). */
  async function expireNow(record: string): Promise<void> {
    await redis.pexpire(record, 1);
    const deadline = Date.now() + 30_000;
    while ((await redis.exists(record)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  test('a start that stopped after claiming its key is kept for good by the replay that finds it (issue 15)', async () => {
    const run = makeRun();
    const record = await halfCreated(run, { key: true });
    // The caller's retry replays it: from this answer on, the run id is the caller's ...
    expect(await store.findByKey(run.idempotencyKey)).toEqual(run);
    // ... so it never expires, even if no worker saves it before the provisional time is up.
    expect(await redis.pttl(record)).toBe(-1);
    expect(await store.get(run.id)).toEqual(run);
    // A replay through create finds the same run; the first save lists it.
    expect((await store.create(makeRun({ idempotencyKey: run.idempotencyKey, opportunityId: run.opportunityId }))).run.id).toBe(run.id);
    await moveTo(store, run, 'RUNNING');
    expect((await store.list({ status: 'RUNNING' }, { first: 50 })).items.map((r) => r.id)).toContain(run.id);
  });

  test('a replay through the deal keeps the run it answers with (issue 15)', async () => {
    // The first start stopped after step 2 (it holds the deal, not yet the key).
    const run = makeRun();
    const record = await halfCreated(run, { key: false });
    const replay = await store.create(makeRun({ idempotencyKey: run.idempotencyKey, opportunityId: run.opportunityId }));
    expect(replay).toEqual({ outcome: 'existing-key', run });
    expect(await redis.pttl(record)).toBe(-1);
    expect(await store.findByKey(run.idempotencyKey)).toEqual(run);
  });

  test('a replay after the provisional record expired finds nothing, and the retry starts afresh', async () => {
    const run = makeRun();
    const record = await halfCreated(run, { key: true });
    await expireNow(record);
    const retry = makeRun({ idempotencyKey: run.idempotencyKey, opportunityId: run.opportunityId });
    expect(await store.findByKey(run.idempotencyKey)).toBeNull();
    expect(await store.create(retry)).toEqual({ outcome: 'created', run: retry });
    expect(await redis.pttl(`{${prefix}:o2c:run:${retry.id}}`)).toBe(-1);
  });

  test('a create whose key a replay through the deal pointed at it meanwhile keeps its own run (issue 15)', async () => {
    // The interleaving: this create did steps 1 and 2; a replay of the same key met the deal's
    // record and pointed the key at it (and answered the caller with its id); then this create's
    // step 3 meets its own id under the key. Set up here as the key already pointing at the run.
    const run = makeRun();
    await redis.set(`{${prefix}:o2c:idem:${run.idempotencyKey}}`, run.id);
    expect(await store.create(run)).toEqual({ outcome: 'created', run });
    expect(await store.get(run.id)).toEqual(run);
    expect(await redis.pttl(`{${prefix}:o2c:run:${run.id}}`)).toBe(-1);
    expect(await store.forOpportunity(run.opportunityId)).toEqual(run);
  });

  test('a listing index left behind by a save is brought up to date by a filtered list', async () => {
    const run = makeRun();
    await store.create(run);
    const before = await store.countByStatus();
    // The record saved as COMPLETED (what the save script does), the index update never made.
    const saved = { ...run, status: 'COMPLETED' as const, version: run.version + 1 };
    await redis.hset(`{${prefix}:o2c:run:${run.id}}`, 'json', JSON.stringify(saved), 'status', 'COMPLETED', 'version', saved.version);
    const pending = await store.list({ status: 'PENDING' }, { first: 50 });
    expect(pending.items.map((r) => r.id)).not.toContain(run.id); // never shown under a status it no longer has
    const deadline = Date.now() + 10_000;
    while ((await store.countByStatus()).COMPLETED === before.COMPLETED && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await store.countByStatus()).toEqual({ ...before, PENDING: before.PENDING - 1, COMPLETED: before.COMPLETED + 1 });
    expect((await store.list({ status: 'COMPLETED' }, { first: 50 })).items.map((r) => r.id)).toContain(run.id);
  });
});
