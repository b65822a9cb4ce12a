/**
 * Records operator actions: each one goes to the audit trail (durable, queryable as
 * `operatorActions`) and is appended to the event log as an OPERATOR_ACTION business event, so it
 * can be exported with the rest. The trail is the record: an event that cannot be appended is
 * logged and the action still stands; an entry that cannot be written fails the request loudly
 * after the action ran (logged at error with the whole entry, so nothing is lost silently).
 */
import type { EventLog } from '../../../core/events/event-log';
import { isConcordError } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import type { AuditTrail, NewOperatorAction, OperatorAction, OperatorActionKind, OperatorActionOutcome } from './trail';

export interface OperatorAuditOptions {
  trail: AuditTrail;
  /** Where OPERATOR_ACTION events go. Default: none. */
  events?: EventLog | null;
  logger: Logger;
  /** Clock, for tests. Default: the system clock. */
  now?: () => Date;
}

export interface ActionSpec<T> {
  action: OperatorActionKind;
  subject: string;
  target: string | null;
  correlationId: string;
  /** What a successful result says about the outcome (a run's status, a report's drift count). */
  describe?: (result: T) => string | null;
}

export interface OperatorAudit {
  trail: AuditTrail;
  /** Run the action and record it, with its outcome, whether it succeeds or throws. */
  perform<T>(spec: ActionSpec<T>, act: () => Promise<T>): Promise<T>;
}

export function createOperatorAudit(options: OperatorAuditOptions): OperatorAudit {
  const { trail, events, logger, now = () => new Date() } = options;

  async function record(entry: NewOperatorAction): Promise<OperatorAction> {
    const stored = await trail.append(entry).catch((error: unknown) => {
      logger.error({ err: error, audit: entry }, 'audit trail entry could not be written');
      throw error;
    });
    await events
      ?.append({
        type: 'OPERATOR_ACTION',
        occurredAt: entry.at,
        correlationId: entry.correlationId,
        source: null,
        customerId: null,
        contractId: null,
        invoiceId: null,
        runId: null,
        dedupeKey: `audit:${stored.id}`,
        data: {
          auditId: stored.id,
          action: entry.action,
          subject: entry.subject,
          target: entry.target,
          outcome: entry.outcome.status,
          code: entry.outcome.status === 'FAILED' ? entry.outcome.code : null,
          detail: entry.outcome.detail,
        },
      })
      .catch((error: unknown) => logger.warn({ err: error, auditId: stored.id }, 'OPERATOR_ACTION event could not be appended'));
    return stored;
  }

  return {
    trail,
    async perform(spec, act) {
      const base = { action: spec.action, subject: spec.subject, target: spec.target, correlationId: spec.correlationId };
      let result;
      try {
        result = await act();
      } catch (error) {
        const outcome: OperatorActionOutcome = {
          status: 'FAILED',
          code: isConcordError(error) ? error.code : 'INTERNAL',
          detail: error instanceof Error ? error.message : String(error),
        };
        await record({ ...base, at: now().toISOString(), outcome }).catch(() => undefined);
        throw error;
      }
      await record({ ...base, at: now().toISOString(), outcome: { status: 'SUCCEEDED', detail: spec.describe?.(result) ?? null } });
      return result;
    },
  };
}
