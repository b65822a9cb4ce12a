/**
 * One EventLog contract, both implementations: memory (embedded mode) and Redis Streams, against
 * the test Redis (TEST_REDIS_URL, test/helpers/redis.ts) under a unique key prefix per log.
 */
import { randomUUID } from 'node:crypto';
import { EventCursorError, compareEventIds, type BusinessEvent, type EventLog, type NewBusinessEvent } from '../../core/events/event-log';
import { createMemoryEventLog } from '../../core/events/memory-log';
import { createRedisEventLog } from '../../core/events/redis-log';
import { REDIS_URL, removeKeys } from '../helpers/redis';

// Deadlines below are generous (a busy machine is slow, not wrong); the test timeout is above them.
jest.setTimeout(90_000);

interface Options {
  retention?: number;
  followerQueue?: number;
}

interface Implementation {
  name: string;
  open(options?: Options): EventLog;
  cleanup(): Promise<void>;
}

function redisImplementation(): Implementation {
  const prefixes: string[] = [];
  return {
    name: 'redis',
    open(options = {}) {
      const prefix = `concord-test:events:${randomUUID().slice(0, 8)}`;
      prefixes.push(prefix);
      return createRedisEventLog({ url: REDIS_URL, prefix, blockMs: 500, ...options });
    },
    async cleanup() {
      for (const prefix of prefixes.splice(0)) await removeKeys(prefix);
    },
  };
}

const implementations: Implementation[] = [
  { name: 'memory', open: (options = {}) => createMemoryEventLog(options), cleanup: async () => {} },
  redisImplementation(),
];

function event(overrides: Partial<NewBusinessEvent> = {}): NewBusinessEvent {
  return {
    type: 'INVOICE_PAID',
    occurredAt: new Date().toISOString(),
    correlationId: null,
    source: 'BILLING',
    customerId: 'cus-1',
    contractId: null,
    invoiceId: `in_${randomUUID().slice(0, 8)}`,
    runId: null,
    ...overrides,
  };
}

/** A promise and its resolver: a one-shot signal from a hook. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Take events from a follow until `count` arrived (or fail after `timeoutMs`). */
async function take(iterable: AsyncIterable<BusinessEvent>, count: number, timeoutMs = 30_000): Promise<BusinessEvent[]> {
  const got: BusinessEvent[] = [];
  if (count === 0) return got;
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${got.length}/${count} events`)), timeoutMs).unref());
  const run = (async () => {
    for await (const e of iterable) {
      got.push(e);
      if (got.length >= count) break;
    }
    return got;
  })();
  return Promise.race([run, timeout]);
}

describe.each(implementations)('EventLog contract ($name)', (impl) => {
  const opened: EventLog[] = [];
  const open = (options?: Options) => {
    const log = impl.open(options);
    opened.push(log);
    return log;
  };
  // Each test's log closed and its keys removed after it.
  afterEach(async () => {
    for (const log of opened.splice(0)) await log.close();
    await impl.cleanup();
  });

  it('appends with ordered ids and reads back oldest first from a cursor (exclusive)', async () => {
    const log = open();
    expect(await log.head()).toBeNull();
    const appended: BusinessEvent[] = [];
    for (let i = 0; i < 5; i++) appended.push((await log.append(event({ data: { i } })))!);
    for (let i = 1; i < appended.length; i++) expect(compareEventIds(appended[i].id, appended[i - 1].id)).toBeGreaterThan(0);
    expect(await log.head()).toBe(appended[4].id);
    expect((await log.read(null, 10)).map((e) => e.data?.i)).toEqual([0, 1, 2, 3, 4]);
    expect((await log.read(appended[1].id, 2)).map((e) => e.id)).toEqual([appended[2].id, appended[3].id]);
    expect(await log.read(appended[4].id, 10)).toEqual([]);
    // What was appended is what is read: every field survives the round trip.
    const full = await log.append(
      event({ correlationId: 'corr-1', contractId: 'sub_1', runId: 'run_1', state: { status: 'RUNNING', steps: [{ name: 'x' }] }, data: { ok: true, n: null } }),
    );
    expect((await log.read(appended[4].id, 1))[0]).toEqual(full);
  });

  it('drops a second event with the same dedupe key, atomically with the append', async () => {
    const log = open();
    const first = await log.append(event({ dedupeKey: 'stripe:evt_1' }));
    expect(first).not.toBeNull();
    expect(await log.append(event({ dedupeKey: 'stripe:evt_1' }))).toBeNull();
    // Concurrent redeliveries: exactly one is appended.
    const racing = await Promise.all(Array.from({ length: 10 }, () => log.append(event({ dedupeKey: 'stripe:evt_2' }))));
    expect(racing.filter(Boolean)).toHaveLength(1);
    expect(await log.read(null, 100)).toHaveLength(2);
  });

  it('keeps one subject in version order and indexes its latest event', async () => {
    const log = open();
    const v2 = await log.append(event({ type: 'RUN_STATUS_CHANGED', sequence: { key: 'run:1', version: 2 } }));
    expect(v2).not.toBeNull();
    // A late, older version (another process saved it first but appended it last) is dropped.
    expect(await log.append(event({ type: 'RUN_STATUS_CHANGED', sequence: { key: 'run:1', version: 1 } }))).toBeNull();
    expect(await log.append(event({ type: 'RUN_STATUS_CHANGED', sequence: { key: 'run:1', version: 2 } }))).toBeNull();
    const v3 = await log.append(event({ type: 'RUN_STATUS_CHANGED', sequence: { key: 'run:1', version: 3 } }));
    expect((await log.latest('run:1'))?.id).toBe(v3!.id);
    expect(await log.latest('run:unknown')).toBeNull();
  });

  it('refuses malformed cursors and cursors older than retention, rather than serving a gap', async () => {
    const log = open({ retention: 10 });
    await expect(log.read('not-an-id', 10)).rejects.toBeInstanceOf(EventCursorError);
    const first = (await log.append(event()))!;
    // Redis trims whole stream nodes (MAXLEN ~), so append well past them.
    for (let i = 0; i < 400; i++) await log.append(event());
    const error = await log.read(first.id, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventCursorError);
    expect((error as EventCursorError).expired).toBe(true);
    expect((error as EventCursorError).code).toBe('BAD_USER_INPUT');
    // At least `retention` events are kept, and a recent cursor still reads.
    const kept = await log.read(null, 1000);
    expect(kept.length).toBeGreaterThanOrEqual(10);
    expect(await log.read(kept[kept.length - 2].id, 10)).toHaveLength(1);
  });

  it('follows from a cursor: replays what was missed, then continues live, with no gap and no duplicate', async () => {
    const log = open();
    const before: BusinessEvent[] = [];
    for (let i = 0; i < 30; i++) before.push((await log.append(event({ data: { i } })))!);
    const controller = new AbortController();
    const following = take(log.follow(before[9].id, controller.signal), 20 + 50);
    // Live appends race the replay.
    const live: BusinessEvent[] = [];
    for (let i = 30; i < 80; i++) {
      live.push((await log.append(event({ data: { i } })))!);
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const got = await following;
    controller.abort();
    expect(got.map((e) => e.data?.i)).toEqual(Array.from({ length: 70 }, (_, k) => k + 10));
  });

  it('follows from now with a null cursor, and stops when the signal aborts', async () => {
    const log = open();
    await log.append(event({ data: { old: true } }));
    const controller = new AbortController();
    const iterator = log.follow(null, controller.signal)[Symbol.asyncIterator]();
    const first = iterator.next();
    // The follower joins at the head at some point after next(); when is not observable through the
    // log, so append fresh events until it yields one (no sleep that a busy machine can outrun).
    // What it yields must be one appended after the old one, and the earliest it could have seen.
    const fresh: string[] = [];
    let got: IteratorResult<BusinessEvent> | undefined;
    const settled = first.then((result) => (got = result));
    const deadline = Date.now() + 30_000;
    while (!got && Date.now() < deadline) {
      fresh.push((await log.append(event({ data: { fresh: true } })))!.id);
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 25))]);
    }
    expect(got?.value.data).toEqual({ fresh: true });
    expect(fresh).toContain(got!.value.id);
    // Aborted, it ends: even with more fresh events queued for it (the loop above may have appended several).
    controller.abort();
    expect((await iterator.next()).done).toBe(true);
  });

  it('follows only the events a filter accepts, in replay and live alike', async () => {
    const log = open();
    const start = (await log.append(event({ data: { i: -1 } })))!;
    for (let i = 0; i < 10; i++) await log.append(event({ customerId: i % 2 ? 'odd' : 'even', data: { i } }));
    const controller = new AbortController();
    const following = take(log.follow(start.id, controller.signal, (e) => e.customerId === 'odd'), 10);
    for (let i = 10; i < 20; i++) await log.append(event({ customerId: i % 2 ? 'odd' : 'even', data: { i } }));
    const got = await following;
    controller.abort();
    expect(got.map((e) => e.data?.i)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  });

  it('serves many followers from one tail, each gap-free, from different cursors', async () => {
    const log = open();
    const base: BusinessEvent[] = [];
    for (let i = 0; i < 10; i++) base.push((await log.append(event({ data: { i } })))!);
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const followers = controllers.map((c, f) => take(log.follow(base[f % 10].id, c.signal), 9 - (f % 10) + 40));
    for (let i = 10; i < 50; i++) await log.append(event({ data: { i } }));
    const results = await Promise.all(followers);
    for (const c of controllers) c.abort();
    results.forEach((got, f) => expect(got.map((e) => e.data?.i)).toEqual(Array.from({ length: 49 - (f % 10) }, (_, k) => k + (f % 10) + 1)));
  });

  it('bounds a slow follower: past its queue it replays from the log, still gap-free', async () => {
    const log = open({ followerQueue: 5 });
    const start = (await log.append(event({ data: { i: 0 } })))!;
    const controller = new AbortController();
    const iterator = log.follow(start.id, controller.signal)[Symbol.asyncIterator]();
    const first = iterator.next();
    await log.append(event({ data: { i: 1 } }));
    expect((await first).value.data.i).toBe(1); // joined the tail
    const got: number[] = [];
    // The follower does not read while 60 events arrive (its queue overflows at 5).
    for (let i = 2; i < 62; i++) await log.append(event({ data: { i } }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let k = 0; k < 60; k++) got.push((await iterator.next()).value.data.i);
    controller.abort();
    expect(got).toEqual(Array.from({ length: 60 }, (_, k) => k + 2));
  }, 15_000);

  it('consumes durably in a group: each event once per group, a failed one again later, new groups from now', async () => {
    const log = open();
    await log.append(event({ data: { before: true } }));
    const controller = new AbortController();
    const handled: string[] = [];
    const failedOnce = new Set<string>();
    const started = signal();
    const consuming = log.consume(
      'test-group',
      async (e) => {
        if (e.data?.fail && !failedOnce.has(e.id)) {
          failedOnce.add(e.id);
          throw new Error('first try fails');
        }
        handled.push(String(e.data?.n));
      },
      { signal: controller.signal, retryAfterMs: 200, onStarted: () => started.resolve() },
    );
    await started.promise; // group created at the head: what follows reaches it
    for (let n = 0; n < 5; n++) await log.append(event({ data: { n, fail: n === 2 } }));
    const deadline = Date.now() + 30_000;
    while (handled.length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await consuming;
    expect([...handled].sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(failedOnce.size).toBe(1);
  });

  it('shares a group between consumers: the work is split, nothing handled twice', async () => {
    const log = open();
    const controller = new AbortController();
    const seen = new Map<string, number>();
    const handler = (who: string) => async (e: BusinessEvent) => {
      seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 2));
      void who;
    };
    const startedA = signal();
    const startedB = signal();
    const a = log.consume('shared', handler('a'), { signal: controller.signal, consumer: 'a', onStarted: () => startedA.resolve() });
    const b = log.consume('shared', handler('b'), { signal: controller.signal, consumer: 'b', onStarted: () => startedB.resolve() });
    await Promise.all([startedA.promise, startedB.promise]); // the group is at the head for both
    for (let n = 0; n < 40; n++) await log.append(event({ data: { n } }));
    const deadline = Date.now() + 30_000;
    while (seen.size < 40 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await Promise.all([a, b]);
    expect(seen.size).toBe(40);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
  });
});
