/**
 * The canonical event log: BusinessEvents (docs/api.md, docs/events.md) appended by the orchestrator, ingestion
 * and reconciliation, read back from a cursor and followed live by subscriptions. One interface,
 * two implementations (memory for embedded mode, Redis Streams for production) and one contract
 * suite over both (test/events/event-log-contract.test.ts).
 */
import { ConcordError, type SystemName } from '../errors';

export const EVENT_TYPES = [
  'CUSTOMER_CREATED',
  'CUSTOMER_UPDATED',
  'CONTRACT_ACTIVATED',
  'CONTRACT_AMENDED',
  'INVOICE_CREATED',
  'INVOICE_FINALIZED',
  'INVOICE_PAID',
  'PAYMENT_FAILED',
  // Added after API.md's first list (additive): a voided invoice no longer counts as owed.
  'INVOICE_VOIDED',
  'INVOICE_POSTED',
  'POSTING_FAILED',
  'ACCOUNT_STATUS_CHANGED',
  'RUN_STATUS_CHANGED',
  'DRIFT_DETECTED',
  // Added for the audit trail (issue 18): an operator's retry, cancel, repair or reconciliation.
  'OPERATOR_ACTION',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** JSON that can be stored with an event as it is. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An event as appended: what happened and which entities it is about (ids only). */
export interface NewBusinessEvent {
  type: EventType;
  /** When it happened at the source (ISO-8601). */
  occurredAt: string;
  correlationId: string | null;
  source: SystemName | null;
  customerId: string | null;
  contractId: string | null;
  invoiceId: string | null;
  runId: string | null;
  /**
   * Source-side identity of the event (for example the Stripe event id), used to drop
   * duplicates: an event whose dedupeKey was appended before is not appended again.
   */
  dedupeKey?: string | null;
  /** Small, non-sensitive detail for consoles (for example { status: 'COMPLETED' }). */
  data?: Record<string, string | number | boolean | null>;
  /**
   * The subject's own state at the event, written by the system that owns it (for
   * RUN_STATUS_CHANGED: the run's status and steps as the orchestrator saved them). Subscribers are
   * served this snapshot for the owner's fields, so every change is seen as it was, not as it is
   * by the time the event is delivered. Keep it small: it is stored with every event.
   */
  state?: { [key: string]: JsonValue } | null;
  /**
   * Orders the events of one subject: an event whose `version` is not above the last one appended
   * under `key` is dropped (append returns null), so a late save from another process can never
   * put an older state after a newer one. Also indexes the latest event per key (`latest`).
   */
  sequence?: { key: string; version: number } | null;
}

export interface BusinessEvent extends NewBusinessEvent {
  /** Log position; also the resume cursor (`after`). Ordered: later events have greater ids. */
  id: string;
}

/** What a durable consumer's handler is given; throw to have the event delivered again later. */
export type EventHandler = (event: BusinessEvent) => Promise<void>;

export interface ConsumeOptions {
  /** Stops consuming (the current handler call is finished first). */
  signal: AbortSignal;
  /** This consumer's name within the group. Default: host:pid. */
  consumer?: string;
  /** A failed (or abandoned) event is tried again after this long, in ms. Default 5000. */
  retryAfterMs?: number;
  /** Deliveries of one event before it is given up (logged through onGiveUp). Default 10. */
  maxDeliveries?: number;
  /** Told of an event given up after maxDeliveries. Default: nothing. */
  onGiveUp?: (event: BusinessEvent, error: unknown) => void;
  /**
   * Told once, when the group exists and has its place: every event appended after this reaches
   * the group. Lets a caller (and a test) know when "from now on" begins, without waiting a while.
   */
  onStarted?: () => void;
}

export interface EventLog {
  /** Append; returns the stored event, or null when its dedupeKey was seen before or its sequence version is stale. */
  append(event: NewBusinessEvent): Promise<BusinessEvent | null>;
  /**
   * Events after `after` (exclusive; null = from the oldest retained), oldest first.
   * Throws EventCursorError when `after` is malformed or older than what retention kept.
   */
  read(after: string | null, limit: number): Promise<BusinessEvent[]>;
  /**
   * Follow the log: every event after `after` (null = only new ones), in order, with no gap or
   * duplicate between what was missed and what is live. Ends when `signal` aborts. With `accept`,
   * only the events it accepts are delivered (and queued: a follower is not woken for the others).
   */
  follow(after: string | null, signal: AbortSignal, accept?: (event: BusinessEvent) => boolean): AsyncIterable<BusinessEvent>;
  /** Id of the newest event, or null when the log is empty: a position to follow from. */
  head(): Promise<string | null>;
  /** The latest event appended under a sequence key, or null (none, or no longer retained). */
  latest(sequenceKey: string): Promise<BusinessEvent | null>;
  /**
   * Durable, at-least-once processing by a named group: each event appended after the group was
   * first created is handled by one consumer of the group (Redis: a consumer group, shared by every
   * process). A handler that throws, or whose process dies, gets the event again after
   * `retryAfterMs`. Resolves when `signal` aborts. Handlers must be idempotent.
   */
  consume(group: string, handler: EventHandler, options: ConsumeOptions): Promise<void>;
  close(): Promise<void>;
}

/** A cursor that is not an event id, or one older than the retained log. */
export class EventCursorError extends ConcordError {
  constructor(message: string, readonly expired: boolean) {
    super('BAD_USER_INPUT', message);
    this.name = 'EventCursorError';
  }
}

const EVENT_ID = /^(\d{1,16})-(\d{1,16})$/;

/** Event ids are Redis stream ids, `<ms>-<seq>`, in both implementations. */
export function isEventId(value: string): boolean {
  return EVENT_ID.test(value);
}

export function parseEventId(value: string): [number, number] {
  const m = EVENT_ID.exec(value);
  if (!m) throw new EventCursorError(`"${value.slice(0, 40)}" is not an event id (expected <ms>-<seq>)`, false);
  return [Number(m[1]), Number(m[2])];
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareEventIds(a: string, b: string): number {
  const [am, as] = parseEventId(a);
  const [bm, bs] = parseEventId(b);
  return am - bm || as - bs;
}

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
