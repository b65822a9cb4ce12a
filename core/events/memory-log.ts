/**
 * EventLog in memory, for embedded mode (one process, nothing durable). Same contract as the Redis
 * Streams log: ids of the same `<ms>-<seq>` form, bounded retention, dedupe with a TTL, ordered
 * sequences, gap-free follow (fanout.ts) and at-least-once group consumption.
 */
import {
  EventCursorError,
  compareEventIds,
  type BusinessEvent,
  type ConsumeOptions,
  type EventHandler,
  type EventLog,
  type NewBusinessEvent,
} from './event-log';
import { Fanout } from './fanout';

export interface MemoryEventLogOptions {
  /** Events kept (at least; trimmed in batches of a tenth). Default 100000. */
  retention?: number;
  /** How long a dedupeKey is remembered, in ms. Default 7 days (Stripe retries for 3). */
  dedupeTtlMs?: number;
  /** Events a follower may have queued before it falls back to replaying (fanout.ts). Default 10000. */
  followerQueue?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

export function createMemoryEventLog(options: MemoryEventLogOptions = {}): EventLog {
  const { retention = 100_000, dedupeTtlMs = 7 * 86_400_000, followerQueue, now = Date.now } = options;
  const events: BusinessEvent[] = [];
  const dedupe = new Map<string, number>();
  const sequences = new Map<string, { version: number; id: string }>();
  /** Newest id dropped by retention: a cursor at or above it has lost nothing. */
  let maxDeleted: string | null = null;
  let lastMs = 0;
  let lastSeq = 0;
  let waiters: (() => void)[] = [];
  let closed = false;
  const groups = new Map<string, { cursor: string; returned: BusinessEvent[] }>();

  function nextId(): string {
    const ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      lastSeq = 0;
    } else {
      lastSeq += 1;
    }
    return `${lastMs}-${lastSeq}`;
  }

  const headNow = () => (events.length ? events[events.length - 1].id : maxDeleted);

  /** Index of the first event newer than `after` (binary search: ids are ordered). */
  function indexAfter(after: string): number {
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareEventIds(events[mid].id, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  let pruneAt = 10_000;
  /** Drop expired dedupe keys and sequences of events no longer kept; amortised O(1) per append. */
  function prune(at: number): void {
    if (dedupe.size + sequences.size < pruneAt) return;
    for (const [key, expires] of dedupe) if (expires <= at) dedupe.delete(key);
    if (maxDeleted !== null) {
      for (const [key, entry] of sequences) if (compareEventIds(entry.id, maxDeleted) <= 0) sequences.delete(key);
    }
    pruneAt = Math.max(10_000, 2 * (dedupe.size + sequences.size));
  }

  const log = {
    async append(input: NewBusinessEvent): Promise<BusinessEvent | null> {
      if (closed) throw new Error('event log is closed');
      const at = now();
      if (input.dedupeKey) {
        const expires = dedupe.get(input.dedupeKey);
        if (expires !== undefined && expires > at) return null;
      }
      if (input.sequence) {
        const current = sequences.get(input.sequence.key);
        if (current && current.version >= input.sequence.version) return null;
      }
      const event: BusinessEvent = Object.freeze({ ...structuredClone(input), id: nextId() });
      events.push(event);
      if (input.dedupeKey) dedupe.set(input.dedupeKey, at + dedupeTtlMs);
      if (input.sequence) sequences.set(input.sequence.key, { version: input.sequence.version, id: event.id });
      // Trimmed in batches (like Redis' MAXLEN ~): splicing one event off the front per append
      // would move the whole array each time. At least `retention` events are kept.
      if (events.length > retention + Math.ceil(retention / 10)) {
        const dropped = events.splice(0, events.length - retention);
        maxDeleted = dropped[dropped.length - 1].id;
      }
      prune(at);
      const wake = waiters;
      waiters = [];
      for (const w of wake) w();
      return event;
    },

    async read(after: string | null, limit: number): Promise<BusinessEvent[]> {
      if (after === null) return events.slice(0, limit);
      compareEventIds(after, after);
      if (maxDeleted !== null && compareEventIds(after, maxDeleted) < 0) {
        throw new EventCursorError(`cursor ${after} is older than the retained log; follow again without a cursor`, true);
      }
      const start = indexAfter(after);
      return events.slice(start, start + limit);
    },

    async head(): Promise<string | null> {
      return headNow();
    },

    async next(cursor: string, blockMs: number): Promise<BusinessEvent[]> {
      const ready = () => {
        const start = indexAfter(cursor);
        return events.slice(start, start + 500);
      };
      const found = ready();
      if (found.length || closed) return found;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, blockMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        waiters.push(done);
      });
      return ready();
    },

    async latest(sequenceKey: string): Promise<BusinessEvent | null> {
      const entry = sequences.get(sequenceKey);
      if (!entry) return null;
      const index = indexAfter(entry.id) - 1;
      return index >= 0 && events[index].id === entry.id ? events[index] : null;
    },
  };

  const fanout = new Fanout({ source: log, maxQueue: followerQueue });

  async function consume(group: string, handler: EventHandler, options: ConsumeOptions): Promise<void> {
    const { signal, retryAfterMs = 5000, maxDeliveries = 10, onGiveUp = () => undefined, onStarted = () => undefined } = options;
    // A group starts at the log's head when first seen (Redis: XGROUP CREATE ... $), then keeps its
    // place. Consumers of one group claim events from a shared cursor, so each event goes to one.
    let state = groups.get(group);
    if (!state) {
      // Synchronously (no await before set): two consumers starting together share one group.
      state = { cursor: headNow() ?? '0-0', returned: [] };
      groups.set(group, state);
    }
    const group_ = state;
    onStarted(); // the group has its cursor: what is appended from here on reaches it
    // One abort promise for the whole loop: a listener per wait would pile up on the signal.
    const aborted = new Promise<BusinessEvent[]>((resolve) => signal.addEventListener('abort', () => resolve([]), { once: true }));
    const sleep = async (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([aborted, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
    };
    while (!signal.aborted && !closed) {
      let batch = group_.returned.splice(0, 50);
      if (!batch.length) {
        batch = await Promise.race([log.next(group_.cursor, 1000), aborted]);
        // Claim synchronously: another consumer of the group takes what follows.
        if (batch.length && compareEventIds(batch[batch.length - 1].id, group_.cursor) > 0) {
          batch = batch.filter((e) => compareEventIds(e.id, group_.cursor) > 0);
          if (batch.length) group_.cursor = batch[batch.length - 1].id;
        } else {
          batch = [];
        }
      }
      for (let i = 0; i < batch.length; i++) {
        const event = batch[i];
        for (let delivery = 1; ; delivery++) {
          try {
            await handler(event);
            break;
          } catch (error) {
            if (delivery >= maxDeliveries) {
              onGiveUp(event, error);
              break;
            }
            await sleep(retryAfterMs);
            if (signal.aborted) {
              // Not acknowledged: the group's next consumer gets it (and the rest of the batch).
              group_.returned.unshift(...batch.slice(i));
              return;
            }
          }
        }
        if (signal.aborted) {
          group_.returned.unshift(...batch.slice(i + 1));
          return;
        }
      }
    }
  }

  return {
    append: log.append,
    read: log.read,
    head: log.head,
    latest: log.latest,
    follow: (after, signal, accept) => fanout.follow(after, signal, accept),
    consume,
    async close() {
      closed = true;
      await fanout.close();
      const wake = waiters;
      waiters = [];
      for (const w of wake) w();
    },
  };
}
