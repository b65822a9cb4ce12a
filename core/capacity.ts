/**
 * The capacity governor: one budget per vendor account, shared by every caller of every process.
 * Each vendor module declares its account's limits (a CapacityDescriptor) and takes its gate from
 * the process's governor in its client, so gateway reads, saga steps, change feeds and
 * reconciliation draw on the same budget. Three kinds of limit, any combination per account:
 *
 *   concurrency  at most N calls in flight across all processes (NetSuite, Business Central);
 *                each call holds a lease that its process renews while the call runs, so a crashed
 *                holder's slot comes back when its lease runs out;
 *   perSecond    at most N calls started in any rolling window (Stripe, Business Central);
 *   daily        the vendor reports its daily allocation on its answers (Salesforce's
 *                Sforce-Limit-Info); near its end, bulk work and then interactive reads are refused,
 *                saga steps go on until the vendor itself says no.
 *
 * Waiting callers are served by priority (saga `write` before `interactive` reads before `bulk`
 * reconciliation and polling), then in arrival order; each process puts its most urgent waiter in
 * the shared line. A caller gives up after `waitMs` with VENDOR_RATE_LIMITED (retryable): never a
 * hang. The algorithm runs against a backend: memory (embedded mode, below) or Redis
 * (capacity-redis.ts, every key of one account under one hash tag). test/contract/capacity.test.ts
 * runs the same cases against both.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { ConcordError, type SystemName } from './errors';

/** Who is asking: saga steps first, then interactive reads, then bulk work (reconciliation, polling). */
export type CapacityPriority = 'write' | 'interactive' | 'bulk';

export const CAPACITY_PRIORITIES: readonly CapacityPriority[] = ['write', 'interactive', 'bulk'];

/** What a vendor module declares about its account; only `vendor` and `account` are required. */
export interface CapacityDescriptor {
  system: SystemName;
  /** Vendor name, as in metrics ('netsuite', 'stripe', ...). */
  vendor: string;
  /**
   * The account the limits belong to, never a secret (an account id, an org host, a key's hash):
   * every process naming the same vendor and account shares one budget.
   */
  account: string;
  /** Most calls in flight at once, across all processes. Default: no such limit. */
  concurrency?: number;
  /** Most calls started in any one window of `rateWindowMs`, across all processes. Default: no such limit. */
  perSecond?: number;
  /**
   * The window `perSecond` counts in, ms. Default 1200: one second plus a 200 ms guard for the
   * differences in transit and queueing time between calls (measured under load: a 100 ms guard
   * let the vendor see the full rate in one second of its own), so the vendor, which counts on
   * arrival, never sees more than `perSecond` in any second.
   */
  rateWindowMs?: number;
  /**
   * The vendor reports a daily allocation (gate.report); a caller of a priority is refused once
   * that share of it is used. Default: no such limit.
   */
  daily?: Partial<Record<CapacityPriority, number>>;
}

/** A vendor's gate: every call to the account goes through `run`. */
export interface CapacityGate {
  readonly descriptor: CapacityDescriptor;
  /**
   * Runs `task` once the account has room for it. Priority: the option, else the caller's
   * (withCapacityPriority), else 'interactive'. Rejects with VENDOR_RATE_LIMITED (retryable) when no
   * room came within the governor's wait, or when the daily allocation is too far spent for this
   * priority; `task` is then not run.
   */
  run<T>(task: () => Promise<T>, options?: { priority?: CapacityPriority }): Promise<T>;
  /** The vendor's own account of its daily allocation (for example Sforce-Limit-Info). Never throws. */
  report(usage: { used: number; max: number }): void;
}

/** One account's budget as it stands, for metrics and the ops console. */
export interface CapacityUsage {
  system: SystemName;
  vendor: string;
  account: string;
  concurrency: { inFlight: number; max: number } | null;
  perSecond: { started: number; max: number; windowMs: number } | null;
  daily: { used: number; max: number } | null;
  /** Callers in the shared line (each process's most urgent one). */
  waiting: number;
  /** Callers of this process waiting for room (only the most urgent is in the shared line). */
  queuedHere: number;
}

export interface CapacityGovernor {
  /** The gate of one account (the same budget however often and in however many processes it is taken). */
  gate(descriptor: CapacityDescriptor): CapacityGate;
  /** Every account gated so far in this process. */
  usage(): Promise<CapacityUsage[]>;
  /** Stops renewing leases and waiting (waiters are refused); held leases run out on their own. */
  close(): Promise<void>;
}

export interface CapacityGovernorOptions {
  /** Longest a caller waits for room, ms (CONCORD_CAPACITY_WAIT_MS). Default 10000. */
  waitMs?: number;
  /** Lease of a concurrency slot, ms, renewed every third of it while the call runs (CONCORD_CAPACITY_LEASE_MS). Default 30000. */
  leaseMs?: number;
  /** Longest a waiter sleeps between looks when no release wakes it, ms. Default 250. */
  pollMs?: number;
  /** The clock leases, windows and daily reports are measured by. Default Date.now. */
  now?: () => number;
}

/** One look at the line: the head of a process's queue asks for room. */
export interface CapacityAttempt {
  id: string;
  /** Place in the shared line: priority first, then when it started waiting. */
  score: number;
  priority: CapacityPriority;
  now: number;
  leaseMs: number;
  /** How long its place is kept without a new look (a crashed process's waiter drops out). */
  waiterTtlMs: number;
}

export type CapacityDecision =
  | { status: 'granted' }
  | { status: 'wait'; retryInMs: number }
  | { status: 'refused'; used: number; max: number };

/** Where the shared state lives. Every method is atomic for one account. */
export interface CapacityBackend {
  attempt(descriptor: CapacityDescriptor, attempt: CapacityAttempt): Promise<CapacityDecision>;
  release(descriptor: CapacityDescriptor, id: string): Promise<void>;
  /** Extend a held lease to `leaseMs` from now. */
  renew(descriptor: CapacityDescriptor, id: string, now: number, leaseMs: number): Promise<void>;
  /** Leave the line (the waiter gave up, or a more urgent one of the same process came first). */
  abandon(descriptor: CapacityDescriptor, id: string): Promise<void>;
  report(descriptor: CapacityDescriptor, usage: { used: number; max: number }, now: number): Promise<void>;
  usage(descriptor: CapacityDescriptor, now: number): Promise<Omit<CapacityUsage, 'queuedHere'>>;
  /** Called whenever room may have come free (a release anywhere); returns the unsubscribe. */
  onRelease(listener: () => void): () => void;
  close(): Promise<void>;
}

/** A daily report older than this is not trusted to refuse work (an answer will bring a fresh one). */
export const DAILY_REPORT_STALE_MS = 5 * 60_000;
export const DEFAULT_RATE_WINDOW_MS = 1200;
/**
 * A rate window is cut in this many slices, and each slice of it (the last quarter of the window,
 * wherever it falls) starts at most its share of the rate, rounded down (at least 1): a quiet
 * account still lets a burst of a quarter of the rate through at once, a busy one is served
 * smoothly rather than in bursts of the whole rate, which the vendor would meet at its edge all at
 * once. With the window's guard, Concord keeps to about 80% of the configured rate.
 */
export const RATE_SLICES = 4;

const RANK: Record<CapacityPriority, number> = { write: 0, interactive: 1, bulk: 2 };
/** Ranks are far apart: a rank's every arrival time (ms since 1970) sorts before the next rank. */
const RANK_SPACING = 1e13;

const priorityContext = new AsyncLocalStorage<CapacityPriority>();

/** Runs `fn` with every vendor call in it made at `priority` (unless a call names its own). */
export function withCapacityPriority<T>(priority: CapacityPriority, fn: () => T): T {
  return priorityContext.run(priority, fn);
}

/** The priority of the current caller: set by withCapacityPriority, else 'interactive'. */
export function currentCapacityPriority(): CapacityPriority {
  return priorityContext.getStore() ?? 'interactive';
}

/** The share of the daily allocation at which a priority is refused (1 = only the vendor refuses). */
export function dailyStopsAt(descriptor: CapacityDescriptor, priority: CapacityPriority): number {
  return descriptor.daily?.[priority] ?? 1;
}

/** The key of an account's budget: `<vendor>:<account>`. */
export const accountKey = (d: CapacityDescriptor) => `${d.vendor}:${d.account}`;

interface Waiter {
  id: string;
  priority: CapacityPriority;
  score: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  /** Has a place in the shared line that it must leave if it stops being the head. */
  registered: boolean;
}

/**
 * A governor over a backend. Per account, a process keeps its waiters in priority order and only
 * the head asks the backend, so a burst costs one look per release rather than one per waiter.
 */
export function createCapacityGovernor(backend: CapacityBackend, options: CapacityGovernorOptions = {}): CapacityGovernor {
  const { waitMs = 10_000, leaseMs = 30_000, pollMs = 250, now = Date.now } = options;
  const gates = new Map<string, { gate: CapacityGate; wake(): void; refuseAll(): void; queued(): number }>();
  const renewals = new Set<NodeJS.Timeout>();
  let closed = false;
  const unsubscribe = backend.onRelease(() => {
    for (const entry of gates.values()) entry.wake();
  });

  function createGate(descriptor: CapacityDescriptor): { gate: CapacityGate; wake(): void; refuseAll(): void; queued(): number } {
    const queue: Waiter[] = [];
    let pumping = false;
    let wakeUp: (() => void) | null = null;
    const wake = () => wakeUp?.();
    const windowMs = descriptor.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;

    const limited = (message: string, retryAfterSeconds?: number) =>
      new ConcordError('VENDOR_RATE_LIMITED', message, { system: descriptor.system, retryable: true, vendorCode: 'CONCORD_CAPACITY', ...(retryAfterSeconds ? { retryAfterSeconds } : {}) });

    function remove(waiter: Waiter): void {
      const index = queue.indexOf(waiter);
      if (index !== -1) queue.splice(index, 1);
      clearTimeout(waiter.timer);
      if (waiter.registered) {
        waiter.registered = false;
        void backend.abandon(descriptor, waiter.id).catch(() => undefined);
      }
    }

    function sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const timer = setTimeout(done, Math.max(1, ms));
        function done() {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
        wakeUp = done;
      });
    }

    async function pump(): Promise<void> {
      if (pumping) return;
      pumping = true;
      try {
        while (queue.length > 0 && !closed) {
          const head = queue[0];
          // A waiter that is no longer the head leaves the shared line (it rejoins when it is again).
          for (const other of queue.slice(1)) {
            if (other.registered) {
              other.registered = false;
              await backend.abandon(descriptor, other.id).catch(() => undefined);
            }
          }
          let decision: CapacityDecision;
          try {
            head.registered = true;
            decision = await backend.attempt(descriptor, { id: head.id, score: head.score, priority: head.priority, now: now(), leaseMs, waiterTtlMs: Math.max(4 * pollMs, 2000) });
          } catch (error) {
            // The shared state cannot be reached: nothing was granted, the caller may try again.
            remove(head);
            head.reject(new ConcordError('SERVICE_UNAVAILABLE', `${descriptor.vendor} capacity could not be checked: ${(error as Error).message}`, { cause: error }));
            continue;
          }
          if (!queue.includes(head)) {
            // Gave up while asking; if it was granted meanwhile, hand the slot back.
            if (decision.status === 'granted' && descriptor.concurrency) await backend.release(descriptor, head.id).catch(() => undefined);
            continue;
          }
          if (decision.status === 'granted') {
            head.registered = false;
            remove(head);
            head.resolve();
          } else if (decision.status === 'refused') {
            head.registered = false;
            remove(head);
            head.reject(limited(`${descriptor.vendor}'s daily API allocation is ${Math.round((decision.used / decision.max) * 100)}% used (${decision.used}/${decision.max}): ${head.priority} work is deferred`, DAILY_REPORT_STALE_MS / 1000));
          } else {
            await sleep(Math.min(Math.max(decision.retryInMs, 1), pollMs));
          }
        }
      } finally {
        pumping = false;
      }
    }

    const gate: CapacityGate = {
      descriptor,
      async run(task, runOptions = {}) {
        if (closed) throw limited(`${descriptor.vendor} capacity governor is closed`);
        const priority = runOptions.priority ?? currentCapacityPriority();
        const id = randomUUID();
        await new Promise<void>((resolve, reject) => {
          const waiter: Waiter = {
            id,
            priority,
            score: RANK[priority] * RANK_SPACING + now(),
            resolve,
            reject,
            registered: false,
            timer: setTimeout(() => {
              remove(waiter);
              reject(limited(`${descriptor.vendor} had no room for this call within ${waitMs} ms (account capacity shared by every Concord process)`, Math.max(1, Math.ceil(windowMs / 1000))));
              wake();
            }, waitMs),
          };
          // Priority order, then arrival (a stable insert behind waiters of the same priority).
          let at = queue.findIndex((w) => RANK[w.priority] > RANK[priority]);
          if (at === -1) at = queue.length;
          queue.splice(at, 0, waiter);
          if (at === 0) wake();
          void pump();
        });
        let renewal: NodeJS.Timeout | null = null;
        if (descriptor.concurrency) {
          renewal = setInterval(() => void backend.renew(descriptor, id, now(), leaseMs).catch(() => undefined), Math.max(10, Math.floor(leaseMs / 3)));
          renewal.unref();
          renewals.add(renewal);
        }
        try {
          return await task();
        } finally {
          if (renewal) {
            clearInterval(renewal);
            renewals.delete(renewal);
            if (!closed) await backend.release(descriptor, id).catch(() => undefined);
          }
          void pump();
        }
      },
      report(usage) {
        if (!descriptor.daily || !(usage.max > 0)) return;
        void backend.report(descriptor, usage, now()).catch(() => undefined);
      },
    };
    return {
      gate,
      wake: () => {
        wake();
        void pump();
      },
      queued: () => queue.length,
      refuseAll: () => {
        for (const waiter of [...queue]) {
          remove(waiter);
          waiter.reject(limited(`${descriptor.vendor} capacity governor is closed`));
        }
        wake();
      },
    };
  }

  return {
    gate(descriptor) {
      const key = accountKey(descriptor);
      let entry = gates.get(key);
      if (!entry) gates.set(key, (entry = createGate(descriptor)));
      return entry.gate;
    },
    usage: () => Promise.all([...gates.values()].map(async ({ gate, queued }) => ({ ...(await backend.usage(gate.descriptor, now())), queuedHere: queued() }))),
    async close() {
      closed = true;
      unsubscribe();
      for (const timer of renewals) clearInterval(timer);
      renewals.clear();
      for (const entry of gates.values()) entry.refuseAll();
      await backend.close();
    },
  };
}

interface MemoryAccount {
  /** Lease expiry by holder. */
  holders: Map<string, number>;
  /** Place in line and until when it is kept, by waiter. */
  waiters: Map<string, { score: number; until: number }>;
  /** Start times of the calls in the rate window. */
  starts: number[];
  daily: { used: number; max: number; at: number } | null;
}

/**
 * The in-memory twin of the Redis backend (embedded mode: one process). Same decisions, same
 * order; the state is a Map per account. Governors made on the same backend share it, as processes
 * on one Redis do.
 */
export function createMemoryCapacityBackend(): CapacityBackend {
  const accounts = new Map<string, MemoryAccount>();
  const listeners = new Set<() => void>();
  const accountOf = (d: CapacityDescriptor) => {
    let account = accounts.get(accountKey(d));
    if (!account) accounts.set(accountKey(d), (account = { holders: new Map(), waiters: new Map(), starts: [], daily: null }));
    return account;
  };
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  function prune(d: CapacityDescriptor, account: MemoryAccount, now: number): void {
    for (const [id, expires] of account.holders) if (expires <= now) account.holders.delete(id);
    for (const [id, waiter] of account.waiters) if (waiter.until <= now) account.waiters.delete(id);
    const windowMs = d.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
    account.starts = account.starts.filter((at) => at > now - windowMs);
  }

  return {
    async attempt(d, { id, score, priority, now, leaseMs, waiterTtlMs }) {
      const account = accountOf(d);
      const stopsAt = dailyStopsAt(d, priority);
      if (d.daily && stopsAt < 1 && account.daily && account.daily.at + DAILY_REPORT_STALE_MS > now && account.daily.used >= stopsAt * account.daily.max) {
        account.waiters.delete(id);
        return { status: 'refused', used: account.daily.used, max: account.daily.max };
      }
      prune(d, account, now);
      let free = Number.POSITIVE_INFINITY;
      let retryInMs = 1000;
      if (d.concurrency) {
        free = d.concurrency - account.holders.size;
        if (free <= 0 && account.holders.size > 0) retryInMs = Math.min(...account.holders.values()) - now;
      }
      if (d.perSecond) {
        const windowMs = d.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
        const rateFree = d.perSecond - account.starts.length;
        if (rateFree < free) free = rateFree;
        if (rateFree <= 0) retryInMs = Math.min(...account.starts) + windowMs - now;
        const sliceMs = windowMs / RATE_SLICES;
        const inSlice = account.starts.filter((at) => at > now - sliceMs);
        const sliceFree = Math.max(1, Math.floor(d.perSecond / RATE_SLICES)) - inSlice.length;
        if (sliceFree < free) free = sliceFree;
        if (sliceFree <= 0 && rateFree > 0) retryInMs = Math.min(...inSlice) + sliceMs - now;
      }
      const place = account.waiters.get(id)?.score ?? score;
      account.waiters.set(id, { score: place, until: now + waiterTtlMs });
      const rank = [...account.waiters].filter(([other, w]) => w.score < place || (w.score === place && other < id)).length;
      if (free > 0 && rank < free) {
        account.waiters.delete(id);
        if (d.concurrency) account.holders.set(id, now + leaseMs);
        if (d.perSecond) account.starts.push(now);
        return { status: 'granted' };
      }
      return { status: 'wait', retryInMs: Math.max(1, retryInMs) };
    },
    async release(d, id) {
      if (accountOf(d).holders.delete(id)) notify();
    },
    async renew(d, id, now, leaseMs) {
      const account = accountOf(d);
      if (account.holders.has(id)) account.holders.set(id, now + leaseMs);
    },
    async abandon(d, id) {
      if (accountOf(d).waiters.delete(id)) notify();
    },
    async report(d, usage, now) {
      accountOf(d).daily = { ...usage, at: now };
    },
    async usage(d, now) {
      const account = accountOf(d);
      prune(d, account, now);
      const fresh = account.daily && account.daily.at + DAILY_REPORT_STALE_MS > now ? account.daily : null;
      return {
        system: d.system,
        vendor: d.vendor,
        account: d.account,
        concurrency: d.concurrency ? { inFlight: account.holders.size, max: d.concurrency } : null,
        perSecond: d.perSecond ? { started: account.starts.length, max: d.perSecond, windowMs: d.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS } : null,
        daily: d.daily && fresh ? { used: fresh.used, max: fresh.max } : null,
        waiting: account.waiters.size,
      };
    },
    onRelease(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      // Nothing to let go of: governors sharing this backend (tests' "processes") unsubscribe on their own.
    },
  };
}

/** The embedded-mode governor: one process, state in memory. */
export function createMemoryCapacityGovernor(options: CapacityGovernorOptions = {}): CapacityGovernor {
  return createCapacityGovernor(createMemoryCapacityBackend(), options);
}
