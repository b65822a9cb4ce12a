/**
 * The audit trail of operator actions: who (the token's subject) did what (retry, cancel, repair,
 * run reconciliation, ...) to which run, drift or report, when, under which correlation id, and how
 * it ended. One interface, two implementations (memory for embedded mode, a Redis stream for
 * production: memory.ts and redis.ts) and one contract suite over both
 * (test/contract/audit-trail.test.ts). Entries are only ever appended.
 */
import type { Page } from '../../../core/canonical';

export const OPERATOR_ACTIONS = ['RETRY_RUN', 'CANCEL_RUN', 'RUN_RECONCILIATION', 'REPAIR_DRIFT'] as const;
export type OperatorActionKind = (typeof OPERATOR_ACTIONS)[number];

/** How the action ended, as the operator saw it answered. */
export type OperatorActionOutcome =
  | { status: 'SUCCEEDED'; detail: string | null }
  | { status: 'FAILED'; code: string; detail: string };

export interface NewOperatorAction {
  action: OperatorActionKind;
  /** The token's subject (`sub`). */
  subject: string;
  /** What was acted on: a run id, a drift id, a reconciliation report id. */
  target: string | null;
  correlationId: string;
  /** ISO-8601. */
  at: string;
  outcome: OperatorActionOutcome;
}

export interface OperatorAction extends NewOperatorAction {
  /** Ordered: later entries have greater ids; also the paging cursor. */
  id: string;
}

export interface AuditTrail {
  append(entry: NewOperatorAction): Promise<OperatorAction>;
  /** Newest first; `after` is the previous page's endCursor; `subject` keeps one operator's. */
  list(filter: { subject?: string | null }, page: { first: number; after?: string | null }): Promise<Page<OperatorAction>>;
  close(): Promise<void>;
}
