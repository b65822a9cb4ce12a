/**
 * One capacity-governor contract, both backends: memory (embedded mode) and Redis at 127.0.0.1:6379
 * under a key prefix of each test's own. A "process" is a governor of its own on the same shared
 * state (the same memory backend, or its own Redis connections), so the cases show one budget per
 * account across processes. Time that matters (leases, rate windows, daily reports) is an
 * injected clock; every wait is on a polled condition, never a fixed sleep.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createCapacityGovernor,
  createMemoryCapacityBackend,
  withCapacityPriority,
  type CapacityBackend,
  type CapacityDescriptor,
  type CapacityGovernor,
  type CapacityGovernorOptions,
  type CapacityPriority,
} from '../../core/capacity';
import { capacityKeys, createRedisCapacityBackend } from '../../core/capacity-redis';
import { ConcordError } from '../../core/errors';
import { REDIS_URL, testPrefix } from '../helpers/redis';

interface Implementation {
  name: string;
  /** A fresh shared state; `process()` opens one more governor (process) on it. */
  open(): { process(options?: CapacityGovernorOptions): CapacityGovernor; prefix: string | null; renewals(): number; cleanup(): Promise<void> };
}

/** The backend, with its lease renewals counted (the signal that a renewal has happened). */
function counted(backend: CapacityBackend, count: { renewals: number }): CapacityBackend {
  return {
    ...backend,
    renew: async (...args) => {
      await backend.renew(...args);
      count.renewals += 1;
    },
  };
}

const implementations: Implementation[] = [
  {
    name: 'memory',
    open() {
      const count = { renewals: 0 };
      const backend = counted(createMemoryCapacityBackend(), count);
      return { process: (options) => createCapacityGovernor(backend, options), prefix: null, renewals: () => count.renewals, cleanup: async () => undefined };
    },
  },
  {
    name: 'redis',
    open() {
      const { prefix, cleanup } = testPrefix('capacity');
      const count = { renewals: 0 };
      return {
        process: (options = {}) => createCapacityGovernor(counted(createRedisCapacityBackend({ url: REDIS_URL, prefix, ...options }), count), options),
        prefix,
        renewals: () => count.renewals,
        cleanup,
      };
    },
  },
];

/** A clock the test moves. */
function fakeClock(start = 1_750_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A task that runs until the test lets it finish. */
function held() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { task: () => done, finish };
}

describe.each(implementations)('capacity governor contract: $name', (impl) => {
  let state: ReturnType<Implementation['open']>;
  const governors: CapacityGovernor[] = [];
  const account = () => `acct-${randomUUID().slice(0, 8)}`;
  const open = (options: CapacityGovernorOptions = {}) => {
    const governor = state.process({ waitMs: 10_000, pollMs: 20, ...options });
    governors.push(governor);
    return governor;
  };
  const inFlight = async (governor: CapacityGovernor, vendor: string) => (await governor.usage()).find((u) => u.vendor === vendor);
  /** Callers waiting in these processes. */
  const queued = async (a: CapacityGovernor, b: CapacityGovernor, vendor: string) => (await inFlight(a, vendor))!.queuedHere + (await inFlight(b, vendor))!.queuedHere;

  beforeEach(() => {
    state = impl.open();
  });
  afterEach(async () => {
    await Promise.all(governors.splice(0).map((g) => g.close()));
    await state.cleanup();
  });

  it('keeps an account to its concurrency across processes, and lets the next caller in on a release', async () => {
    const descriptor: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 2 };
    const [a, b] = [open(), open()];
    const tasks = [held(), held(), held(), held()];
    const started: number[] = [];
    const runs = tasks.map((t, i) => (i % 2 ? b : a).gate(descriptor).run(async () => {
      started.push(i);
      await t.task();
    }));
    await until('two calls running', () => started.length === 2);
    // The other two are waiting (each process's most urgent one in the shared line): they had their chance.
    await until('the others waiting', async () => await queued(a, b, 'netsuite') === 2 && (await inFlight(a, 'netsuite'))!.waiting >= 1);
    expect(started).toHaveLength(2);
    expect((await inFlight(b, 'netsuite'))?.concurrency).toEqual({ inFlight: 2, max: 2 });
    tasks[started[0]].finish();
    await until('a third call running', () => started.length === 3);
    expect((await inFlight(a, 'netsuite'))?.concurrency?.inFlight).toBe(2);
    for (const t of tasks) t.finish();
    await Promise.all(runs);
    expect(started.sort()).toEqual([0, 1, 2, 3]);
    expect((await inFlight(a, 'netsuite'))?.concurrency?.inFlight).toBe(0);
  });

  it('serves waiting saga writes before interactive reads before bulk reads, across processes', async () => {
    const descriptor: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 1 };
    const holder = open();
    const blocker = held();
    const blocking = holder.gate(descriptor).run(blocker.task);
    await until('the slot taken', async () => (await inFlight(holder, 'netsuite'))?.concurrency?.inFlight === 1);
    const order: CapacityPriority[] = [];
    const waiting: Promise<void>[] = [];
    // Arrival order is the reverse of priority: bulk first, write last.
    for (const [i, priority] of (['bulk', 'interactive', 'write'] as const).entries()) {
      const governor = open();
      waiting.push(governor.gate(descriptor).run(async () => void order.push(priority), { priority }));
      await until(`${priority} in line`, async () => (await inFlight(holder, 'netsuite'))?.waiting === i + 1);
    }
    blocker.finish();
    await Promise.all([blocking, ...waiting]);
    expect(order).toEqual(['write', 'interactive', 'bulk']);
  });

  it('orders one process\'s own waiters by priority too, taking the priority from the caller\'s context', async () => {
    const descriptor: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 1 };
    const governor = open();
    const gate = governor.gate(descriptor);
    const blocker = held();
    const blocking = gate.run(blocker.task);
    await until('the slot taken', async () => (await inFlight(governor, 'netsuite'))?.concurrency?.inFlight === 1);
    const order: string[] = [];
    const bulk = withCapacityPriority('bulk', () => gate.run(async () => void order.push('bulk')));
    const interactive = gate.run(async () => void order.push('interactive'));
    const write = withCapacityPriority('write', () => gate.run(async () => void order.push('write')));
    await until('the head in line', async () => (await inFlight(governor, 'netsuite'))?.waiting === 1);
    blocker.finish();
    await Promise.all([blocking, bulk, interactive, write]);
    expect(order).toEqual(['write', 'interactive', 'bulk']);
  });

  it('starts at most perSecond calls in a rate window across processes, a quarter of them at once; the rest as the window moves', async () => {
    const clock = fakeClock();
    const descriptor: CapacityDescriptor = { system: 'BILLING', vendor: 'stripe', account: account(), perSecond: 8, rateWindowMs: 1000 };
    const [a, b] = [open({ now: clock.now }), open({ now: clock.now })];
    const started: number[] = [];
    const runs = Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).gate(descriptor).run(async () => void started.push(i)));
    await until('a quarter started', () => started.length === 2);
    await until('the rest waiting', async () => (await queued(a, b, 'stripe')) === 8 && (await inFlight(a, 'stripe'))!.waiting >= 1);
    expect(started).toHaveLength(2);
    for (const expected of [4, 6, 8]) {
      clock.advance(250);
      await until(`${expected} started`, () => started.length === expected);
    }
    expect((await inFlight(a, 'stripe'))?.perSecond).toEqual({ started: 8, max: 8, windowMs: 1000 });
    clock.advance(249);
    // Still inside the window of the first two: a caller that waits its whole wait meanwhile (the
    // others look every 20 ms) is turned away, and nobody else got in.
    expect(await open({ now: clock.now, waitMs: 150 }).gate(descriptor).run(async () => 'ran').catch((e: ConcordError) => e.code)).toBe('VENDOR_RATE_LIMITED');
    expect(started).toHaveLength(8);
    clock.advance(2);
    await Promise.all(runs);
    expect(started).toHaveLength(10);
  });

  it('gives a crashed holder\'s slot back when its lease runs out', async () => {
    const clock = fakeClock();
    const descriptor: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 1 };
    const crashed = open({ now: clock.now, leaseMs: 30_000 });
    void crashed.gate(descriptor).run(() => new Promise<void>(() => undefined)).catch(() => undefined);
    const survivor = open({ now: clock.now, leaseMs: 30_000 });
    survivor.gate(descriptor);
    await until('the slot taken', async () => (await inFlight(survivor, 'netsuite'))?.concurrency?.inFlight === 1);
    // The holder's process dies: it renews nothing and releases nothing.
    await crashed.close();
    let ran = false;
    const waiting = survivor.gate(descriptor).run(async () => void (ran = true));
    await until('the survivor in line', async () => (await inFlight(survivor, 'netsuite'))?.waiting === 1);
    clock.advance(29_000);
    // Within the lease: a caller that waits its whole wait meanwhile is turned away; the survivor still waits.
    expect(await open({ now: clock.now, waitMs: 150 }).gate(descriptor).run(async () => 'ran').catch((e: ConcordError) => e.code)).toBe('VENDOR_RATE_LIMITED');
    expect(ran).toBe(false);
    clock.advance(1_001);
    await waiting;
    expect(ran).toBe(true);
  });

  it('renews a running call\'s lease, so a long call keeps its slot', async () => {
    const clock = fakeClock();
    const descriptor: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 1 };
    const governor = open({ now: clock.now, leaseMs: 300 });
    const long = held();
    const running = governor.gate(descriptor).run(long.task);
    await until('the slot taken', async () => (await inFlight(governor, 'netsuite'))?.concurrency?.inFlight === 1);
    // Each step moves the clock 200 ms, waits for a renewal, then is past the lease it had before it.
    for (let i = 0; i < 4; i++) {
      clock.advance(200);
      const renewed = state.renewals();
      await until('a renewal', () => state.renewals() > renewed);
      clock.advance(200);
      expect((await inFlight(governor, 'netsuite'))?.concurrency?.inFlight).toBe(1);
    }
    long.finish();
    await running;
  });

  it('gives up after the configured wait with a retryable VENDOR_RATE_LIMITED, without running the call', async () => {
    const descriptor: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 1 };
    const holder = open();
    const blocker = held();
    const blocking = holder.gate(descriptor).run(blocker.task);
    await until('the slot taken', async () => (await inFlight(holder, 'netsuite'))?.concurrency?.inFlight === 1);
    const impatient = open({ waitMs: 200 });
    let ran = false;
    const error = await impatient.gate(descriptor).run(async () => void (ran = true)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcordError);
    expect(error).toMatchObject({ code: 'VENDOR_RATE_LIMITED', retryable: true, system: 'ERP' });
    expect((error as Error).message).toMatch(/netsuite had no room for this call within 200 ms/);
    expect(ran).toBe(false);
    // It left the line: nobody waits, the holder still runs.
    await until('the line empty', async () => (await inFlight(holder, 'netsuite'))?.waiting === 0);
    blocker.finish();
    await blocking;
  });

  it('refuses bulk work, then interactive reads, as the reported daily allocation runs out; saga writes go on', async () => {
    const clock = fakeClock();
    const descriptor: CapacityDescriptor = { system: 'CRM', vendor: 'salesforce', account: account(), daily: { bulk: 0.9, interactive: 0.97 } };
    const [reporter, other] = [open({ now: clock.now }), open({ now: clock.now })];
    other.gate(descriptor);
    const attempt = (priority: CapacityPriority) => other.gate(descriptor).run(async () => priority, { priority }).catch((e: ConcordError) => e.code);
    reporter.gate(descriptor).report({ used: 500, max: 1000 });
    await until('the report shared', async () => (await inFlight(other, 'salesforce'))?.daily?.used === 500);
    expect(await attempt('bulk')).toBe('bulk');
    reporter.gate(descriptor).report({ used: 920, max: 1000 });
    await until('the next report shared', async () => (await inFlight(other, 'salesforce'))?.daily?.used === 920);
    expect(await attempt('bulk')).toBe('VENDOR_RATE_LIMITED');
    expect(await attempt('interactive')).toBe('interactive');
    reporter.gate(descriptor).report({ used: 980, max: 1000 });
    await until('the last report shared', async () => (await inFlight(other, 'salesforce'))?.daily?.used === 980);
    expect(await attempt('interactive')).toBe('VENDOR_RATE_LIMITED');
    expect(await attempt('write')).toBe('write');
    // A report nobody has refreshed for five minutes is not trusted to refuse: an answer will bring a new one.
    clock.advance(5 * 60_000 + 1);
    expect(await attempt('bulk')).toBe('bulk');
  });

  it('keeps separate accounts of one vendor apart', async () => {
    const one: CapacityDescriptor = { system: 'ERP', vendor: 'netsuite', account: account(), concurrency: 1 };
    const two: CapacityDescriptor = { ...one, account: account() };
    const governor = open();
    const blocker = held();
    const blocking = governor.gate(one).run(blocker.task);
    await until('the first account full', async () => (await governor.usage()).some((u) => u.account === one.account && u.concurrency?.inFlight === 1));
    expect(await governor.gate(two).run(async () => 'ran')).toBe('ran');
    blocker.finish();
    await blocking;
  });

  if (impl.name === 'redis') {
    it('keeps every key of an account under one hash tag (one Redis Cluster slot), and names no secret', async () => {
      const descriptor: CapacityDescriptor = { system: 'BILLING', vendor: 'stripe', account: 'sk_test_would_be_secret', perSecond: 5, concurrency: 2, daily: {} };
      const governor = open();
      await governor.gate(descriptor).run(async () => undefined);
      governor.gate(descriptor).report({ used: 1, max: 10 });
      await until('the report written', async () => (await governor.usage())[0].daily?.used === 1);
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`{${state.prefix}:capacity:*`);
        expect(keys.length).toBeGreaterThanOrEqual(2);
        const tags = new Set(keys.map((key) => /^\{[^}]+\}/.exec(key)![0]));
        expect(tags.size).toBe(1);
        expect(Object.values(capacityKeys(state.prefix!, descriptor)).every((key) => key.startsWith([...tags][0]))).toBe(true);
        expect(keys.join(' ')).not.toContain('would_be_secret');
        for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
      } finally {
        redis.disconnect();
      }
    });
  }
});
