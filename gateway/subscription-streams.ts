/**
 * The events each subscription field of the API receives, from the event log: which events match
 * (arguments and portal isolation), where the stream starts (a cursor, now, or a run's latest
 * change), and the checks made before a subscription is accepted. Nothing here knows GraphQL
 * execution or sockets.
 */
import { ConcordError } from '../core/errors';
import { EVENT_TYPES, compareEventIds, type BusinessEvent, type EventLog, type EventType } from '../core/events/event-log';
import { assertCanSeeCustomer, canSeeCustomer, type Principal } from '../core/principal';
import { createPullQueue } from './pull-queue';

export interface EventStream {
  /** Events to deliver, in log order; ends when the signal aborts. */
  events(signal: AbortSignal): AsyncIterable<BusinessEvent>;
}

export interface StreamDeps {
  log: EventLog;
  /**
   * The customer of a run as the orchestration subgraph reports it to this principal: null when the
   * run does not exist (or is not visible). Used when the log holds no event of the run yet.
   */
  runCustomer(runId: string, principal: Principal): Promise<{ customerId: string | null } | null>;
}

function cursorOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new ConcordError('BAD_USER_INPUT', 'after must be an event id');
  compareEventIds(value, value); // EventCursorError (BAD_USER_INPUT) when malformed
  return value;
}

async function* filtered(
  log: EventLog,
  after: string | null,
  signal: AbortSignal,
  keep: (event: BusinessEvent) => boolean,
  first: BusinessEvent | null = null,
): AsyncGenerator<BusinessEvent> {
  if (first && keep(first)) yield first;
  // The filter goes to the log: a subscriber is not woken for events that are not its own.
  yield* log.follow(after, signal, keep);
}

/**
 * The stream of one subscription, after its checks: FORBIDDEN for another customer's events on a
 * portal token, NOT_FOUND for an unknown run, BAD_USER_INPUT for a malformed cursor.
 */
export async function openStream(field: string, args: Record<string, unknown>, principal: Principal, deps: StreamDeps): Promise<EventStream> {
  const { log } = deps;
  switch (field) {
    case 'customerEvents': {
      const customerId = String(args.customerId);
      assertCanSeeCustomer(principal, customerId, `customer ${customerId}`);
      const after = cursorOf(args.after);
      return { events: (signal) => filtered(log, after, signal, (e) => e.customerId === customerId) };
    }
    case 'businessEvents': {
      const types = Array.isArray(args.types) && args.types.length ? new Set(args.types as EventType[]) : null;
      if (types) for (const type of types) if (!(EVENT_TYPES as readonly string[]).includes(type)) throw new ConcordError('BAD_USER_INPUT', `unknown event type ${type}`);
      const after = cursorOf(args.after);
      // A portal token sees its own customer's events only; other tokens see every event, but the
      // audit trail's OPERATOR_ACTION (who did what) is for operators (ops:read) only.
      const operator = principal.scopes.has('ops:read');
      return {
        events: (signal) =>
          filtered(log, after, signal, (e) => (!types || types.has(e.type)) && canSeeCustomer(principal, e.customerId) && (operator || e.type !== 'OPERATOR_ACTION')),
      };
    }
    case 'orderToCashRunUpdated': {
      const runId = String(args.runId);
      // Position first, then the latest change: a change between the two is replayed, not lost.
      const head = await log.head();
      const latest = await log.latest(`run:${runId}`);
      // A portal, or a token without ops:read (its own runs only), is checked by the orchestration
      // subgraph itself, as its orderToCashRun query is: ownership, and "absent" looking like "not yours".
      const restricted = principal.customerId !== null || !principal.scopes.has('ops:read');
      if (latest && !restricted) {
        assertCanSeeCustomer(principal, latest.customerId, `run ${runId}`);
      } else {
        const run = await deps.runCustomer(runId, principal);
        if (!run) throw new ConcordError('NOT_FOUND', `no run ${runId}`);
        assertCanSeeCustomer(principal, run.customerId, `run ${runId}`);
      }
      const keep = (e: BusinessEvent) => e.type === 'RUN_STATUS_CHANGED' && e.runId === runId && canSeeCustomer(principal, e.customerId);
      return { events: (signal) => filtered(log, latest?.id ?? head ?? '0-0', signal, keep, latest) };
    }
    default:
      throw new ConcordError('BAD_USER_INPUT', `no subscription ${field}`);
  }
}

/**
 * Map events to payloads with up to `window` computed at once, delivered in event order. The
 * returned iterator stops the source when it is returned (client completes, socket closes); an
 * abort of `signal` with an Error reason ends it with that error (gateway/pull-queue.ts).
 */
export function orderedDeliveries<T>(
  source: (signal: AbortSignal) => AsyncIterable<BusinessEvent>,
  compute: (event: BusinessEvent) => Promise<T>,
  options: { window?: number; signal?: AbortSignal } = {},
): AsyncGenerator<T> {
  const { window = 16, signal } = options;
  const controller = new AbortController();
  const queue = createPullQueue<T>(() => controller.abort());
  if (signal?.aborted) queue.abort(signal.reason);
  else signal?.addEventListener('abort', () => queue.abort(signal.reason), { once: true });

  void (async () => {
    try {
      for await (const event of source(controller.signal)) {
        // Back-pressure: the log is read no faster than the client takes payloads.
        await queue.room(window);
        if (queue.stopped) break;
        queue.push(compute(event));
      }
      queue.end();
    } catch (error) {
      queue.end(error);
    }
  })();
  return queue.iterator;
}
