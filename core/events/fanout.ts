/**
 * `follow` for both event log implementations: one tail per process reads the log's new events
 * (Redis: one blocking XREAD connection, however many subscribers) and hands them to every
 * follower; a follower that starts from a cursor replays the log up to where the tail was when it
 * joined, then takes the tail's events from there. The seam is exact:
 *
 *   - a follower joins at tail position c, synchronously (no await between reading c and joining),
 *     so every event with an id above c reaches its queue;
 *   - every event at or below c was appended before the follower joined (ids only grow), so the
 *     replay, which reads the log after joining, sees all of them;
 *   - a queued event is yielded only when its id is above the last one yielded: no duplicate.
 *
 * A follower whose queue passes `maxQueue` (a slow consumer) is dropped from the tail and goes back
 * to replaying from the log where it stopped: the log is the buffer, memory stays bounded.
 */
import { compareEventIds, type BusinessEvent } from './event-log';

/** What the fanout needs from a log implementation. */
export interface TailSource {
  /** Id of the newest event, or null when the log is empty. */
  head(): Promise<string | null>;
  /** Events after `cursor`, oldest first, waiting up to `blockMs` for one; [] when none came. */
  next(cursor: string, blockMs: number): Promise<BusinessEvent[]>;
  /** Events after `after`, oldest first (replay). */
  read(after: string, limit: number): Promise<BusinessEvent[]>;
}

export interface FanoutOptions {
  source: TailSource;
  /** Longest single wait of the tail, in ms (it loops). Default 5000. */
  blockMs?: number;
  /** Events a follower may have queued before it falls back to replaying. Default 10000. */
  maxQueue?: number;
  /** Events per replay read. Default 500. */
  pageSize?: number;
  /** Told when the tail's read fails (it retries after a pause). */
  onError?: (error: unknown) => void;
}

/** The empty log's position: every real id is above it. */
const ORIGIN = '0-0';

class Follower {
  queue: BusinessEvent[] = [];
  overflowed = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly maxQueue: number,
    readonly accept: (event: BusinessEvent) => boolean,
  ) {}

  push(event: BusinessEvent): boolean {
    if (this.queue.length >= this.maxQueue) {
      this.overflowed = true;
      this.notify();
      return false;
    }
    this.queue.push(event);
    this.notify();
    return true;
  }

  notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

export class Fanout {
  private readonly source: TailSource;
  private readonly blockMs: number;
  private readonly maxQueue: number;
  private readonly pageSize: number;
  private readonly onError: (error: unknown) => void;
  private readonly followers = new Set<Follower>();
  private cursor: string = ORIGIN;
  private started: Promise<void> | null = null;
  private closed = false;
  private loop: Promise<void> | null = null;

  constructor(options: FanoutOptions) {
    const { source, blockMs = 5000, maxQueue = 10_000, pageSize = 500, onError = () => undefined } = options;
    this.source = source;
    this.blockMs = blockMs;
    this.maxQueue = maxQueue;
    this.pageSize = pageSize;
    this.onError = onError;
  }

  /** Followers attached to the tail right now (for metrics and tests). */
  get size(): number {
    return this.followers.size;
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      this.cursor = (await this.source.head()) ?? ORIGIN;
      this.loop = this.run();
    })();
    // A failed start (log unreachable) is retried by the next follower.
    this.started.catch(() => {
      this.started = null;
    });
    return this.started;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      let events: BusinessEvent[];
      try {
        events = await this.source.next(this.cursor, this.blockMs);
      } catch (error) {
        if (this.closed) return;
        this.onError(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      for (const event of events) {
        this.cursor = event.id;
        for (const follower of this.followers) {
          if (follower.accept(event) && !follower.push(event)) this.followers.delete(follower);
        }
      }
    }
  }

  async *follow(after: string | null, signal: AbortSignal, accept: (event: BusinessEvent) => boolean = () => true): AsyncGenerator<BusinessEvent> {
    if (after !== null) compareEventIds(after, after); // validates the cursor's form
    let last = after;
    while (!signal.aborted && !this.closed) {
      await this.start();
      const follower = new Follower(this.maxQueue, accept);
      // Read the position and join in one synchronous step: the seam the module comment relies on.
      const joinedAt = this.cursor;
      this.followers.add(follower);
      const onAbort = () => follower.notify();
      signal.addEventListener('abort', onAbort);
      try {
        if (last === null) {
          last = joinedAt;
        } else if (compareEventIds(last, joinedAt) < 0) {
          replay: for (;;) {
            const page = await this.source.read(last, this.pageSize);
            for (const event of page) {
              if (compareEventIds(event.id, joinedAt) > 0) break replay; // the queue has it
              if (signal.aborted) return;
              if (accept(event)) yield event;
              last = event.id;
            }
            if (page.length < this.pageSize) break;
          }
        }
        for (;;) {
          if (signal.aborted || this.closed) return;
          const event = follower.queue.shift();
          if (event) {
            if (compareEventIds(event.id, last) > 0) {
              yield event;
              last = event.id;
            }
            continue;
          }
          if (follower.overflowed) break; // fell behind: replay from `last`, then join again
          await follower.wait();
        }
      } finally {
        this.followers.delete(follower);
        signal.removeEventListener('abort', onAbort);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const follower of this.followers) follower.notify();
    this.followers.clear();
  }

  /** Resolves when the tail loop has ended (after close and the source's read returning). */
  async stopped(): Promise<void> {
    await this.loop;
  }
}
