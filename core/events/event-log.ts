/**
 * The canonical event log: BusinessEvents (shared/API.md) appended by the orchestrator, ingestion
 * and reconciliation, read back from a cursor and followed live by subscriptions. One interface,
 * two implementations (memory for embedded mode, Redis Streams for production) and one contract
 * suite over both.
 */
import type { SystemName } from '../errors';

export const EVENT_TYPES = [
  'CUSTOMER_CREATED',
  'CUSTOMER_UPDATED',
  'CONTRACT_ACTIVATED',
  'CONTRACT_AMENDED',
  'INVOICE_CREATED',
  'INVOICE_FINALIZED',
  'INVOICE_PAID',
  'PAYMENT_FAILED',
  'INVOICE_POSTED',
  'POSTING_FAILED',
  'ACCOUNT_STATUS_CHANGED',
  'RUN_STATUS_CHANGED',
  'DRIFT_DETECTED',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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
}

export interface BusinessEvent extends NewBusinessEvent {
  /** Log position; also the resume cursor (`after`). Ordered: later events have greater ids. */
  id: string;
}

export interface EventLog {
  /** Append; returns the stored event, or null when its dedupeKey was seen before. */
  append(event: NewBusinessEvent): Promise<BusinessEvent | null>;
  /** Events after `after` (exclusive; null = from the oldest retained), oldest first. */
  read(after: string | null, limit: number): Promise<BusinessEvent[]>;
  /**
   * Follow the log: every event after `after` (null = only new ones), in order, with no gap or
   * duplicate between what was missed and what is live. Ends when `signal` aborts.
   */
  follow(after: string | null, signal: AbortSignal): AsyncIterable<BusinessEvent>;
  close(): Promise<void>;
}
