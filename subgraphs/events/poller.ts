/**
 * Change polling for vendors without webhooks Concord can rely on (Salesforce, NetSuite): each
 * change feed is asked "what changed since <high-water mark>?" every interval, its events are
 * appended (each with a dedupe key, so re-reading an overlap window appends nothing twice) and the
 * mark moves on, durably (Coordination checkpoint; Redis with REDIS_URL). One replica polls a feed
 * at a time (a lease that the holder renews each round; another replica takes over when it lapses).
 * A customer change of a record Concord itself just wrote is not reported: Concord announced it
 * already (echo.ts).
 */
import { randomUUID } from 'node:crypto';
import { withCapacityPriority } from '../../core/capacity';
import type { Coordination } from '../../core/events/coordination';
import type { EventLog, NewBusinessEvent } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import { echoMark } from './echo';

/** One vendor's changes, in canonical events. */
export interface ChangeFeed {
  /** Name of the feed: its checkpoint and lease key ('salesforce', 'netsuite'). */
  readonly name: string;
  /**
   * Events of the changes after `since` (the mark the previous poll returned; null the first time,
   * when a feed starts from now rather than replaying history), and the next mark.
   */
  poll(since: string | null): Promise<{ events: NewBusinessEvent[]; next: string }>;
}

export interface PollerOptions {
  feed: ChangeFeed;
  log: EventLog;
  coordination: Coordination;
  logger: Logger;
  /** Time between polls, in ms. */
  intervalMs: number;
  signal: AbortSignal;
  /**
   * Told at the end of each round what it did: 'polled' (this replica held the lease and the mark
   * moved on), 'idle' (another replica holds the lease) or 'failed' (logged; the same mark is tried
   * next round). A signal for tests and metrics that a round has happened. Default: none.
   */
  onRound?: (outcome: PollRound) => void;
}

export type PollRound = 'polled' | 'idle' | 'failed';

/** Poll until `signal` aborts. Failures are logged and the same mark is tried next round. */
export async function runPoller(options: PollerOptions): Promise<void> {
  const { feed, log, coordination, logger, intervalMs, signal, onRound } = options;
  const holder = randomUUID();
  const leaseMs = Math.max(3 * intervalMs, 10_000);
  const wait = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, intervalMs);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  while (!signal.aborted) {
    let outcome: PollRound = 'idle';
    try {
      if (await coordination.acquire(`poller:${feed.name}`, holder, leaseMs)) {
        const since = await coordination.getCheckpoint(`poller:${feed.name}`);
        // Background reads: behind saga steps and interactive reads in the vendor's shared budget.
        const { events, next } = await withCapacityPriority('bulk', () => feed.poll(since));
        let appended = 0;
        for (const event of events) {
          const customerChange = event.type === 'CUSTOMER_CREATED' || event.type === 'CUSTOMER_UPDATED';
          const system = event.source === 'CRM' || event.source === 'ERP' ? event.source : null;
          if (customerChange && system && event.customerId && (await coordination.marked(echoMark(system, event.customerId)))) continue;
          if (await log.append(event)) appended += 1;
        }
        await coordination.setCheckpoint(`poller:${feed.name}`, next);
        if (appended) logger.info({ feed: feed.name, since, next, changes: events.length, appended }, 'vendor changes polled');
        outcome = 'polled';
      }
    } catch (error) {
      outcome = 'failed';
      logger.warn({ err: error, feed: feed.name }, 'change polling failed; trying again next round');
    }
    onRound?.(outcome);
    await wait();
  }
  await coordination.release(`poller:${feed.name}`, holder).catch(() => undefined);
}
