/**
 * Order-to-cash runs as events: every saved change of a run (the engine's onRunChanged) becomes a
 * RUN_STATUS_CHANGED carrying the run's own state at that change, and the ERP posting step's
 * outcome becomes INVOICE_POSTED or POSTING_FAILED.
 *
 * Appends are not awaited by the engine (its hook is synchronous) and are issued in save order on
 * one connection, so they reach the log in order. Across processes (an operator's retry on an API
 * replica while a worker saves) the run's version orders them: the log drops a version older than
 * the last one appended (`sequence`). A lost append (Redis briefly down) is logged; the next change
 * carries the whole state again, so subscribers converge.
 */
import type { EventLog, JsonValue, NewBusinessEvent } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import type { Run } from '../orchestration/model';

/** Sequence key of a run's events (EventLog.latest(runSequenceKey(id)) = its latest change). */
export const runSequenceKey = (runId: string) => `run:${runId}`;

/**
 * Who started the run (core/principal.ts callerScope, a hash): never served, but the events
 * subgraph shows a run's id only to its owner when the token lacks ops:read (resolvers/events.ts),
 * as orderToCashRun does.
 */
const ownerState = (run: Run) => ({ owner: run.owner ?? null });

/** The run's own fields as the events subgraph serves them (schema/events.graphql @provides), and its owner. */
function runState(run: Run): { [key: string]: JsonValue } {
  return {
    ...ownerState(run),
    status: run.status,
    updatedAt: run.updatedAt,
    customerId: run.context.customerId,
    contractId: run.context.contractId,
    invoiceId: run.context.invoiceId,
    steps: run.steps.map((step) => ({
      name: step.name,
      system: step.system,
      status: step.status,
      attempts: step.attempts,
      lastError: step.lastError ? { ...step.lastError } : null,
      startedAt: step.startedAt,
      finishedAt: step.finishedAt,
      externalId: step.externalId,
      nextAttemptAt: step.nextAttemptAt,
    })),
  };
}

/** The events one saved change of a run stands for. */
export function eventsOfRunChange(run: Run): NewBusinessEvent[] {
  const base = {
    occurredAt: run.updatedAt,
    correlationId: run.correlationId,
    customerId: run.context.customerId,
    contractId: run.context.contractId,
    invoiceId: run.context.invoiceId,
    runId: run.id,
  };
  const current = run.steps.find((s) => s.status !== 'SUCCEEDED') ?? run.steps[run.steps.length - 1];
  const events: NewBusinessEvent[] = [
    {
      ...base,
      type: 'RUN_STATUS_CHANGED',
      source: null,
      sequence: { key: runSequenceKey(run.id), version: run.version },
      state: runState(run),
      data: { status: run.status, version: run.version, step: current.name, stepStatus: current.status },
    },
  ];
  const posting = run.steps.find((s) => s.name === 'erpPosting');
  if (posting?.status === 'SUCCEEDED' && run.context.invoiceId) {
    events.push({
      ...base,
      type: 'INVOICE_POSTED',
      source: 'ERP',
      // The ERP document: the same key whoever reports it first (this run, or the NetSuite poller).
      dedupeKey: `erp:invoice-posted:${run.context.erpInvoiceId ?? run.context.invoiceId}`,
      state: ownerState(run),
      data: { documentId: run.context.erpInvoiceId },
    });
  } else if (posting?.status === 'FAILED') {
    events.push({
      ...base,
      type: 'POSTING_FAILED',
      source: 'ERP',
      dedupeKey: `run:${run.id}:erpPosting:failed:${posting.attempts}`,
      state: ownerState(run),
      data: { code: posting.lastError?.code ?? null, message: posting.lastError?.message ?? null },
    });
  }
  return events;
}

/** The engine's onRunChanged hook: append the run's events, without holding the engine up. */
export function runEventPublisher(log: EventLog, logger: Logger): (run: Run) => void {
  return (run) => {
    for (const event of eventsOfRunChange(run)) {
      log.append(event).catch((error: unknown) => {
        logger.warn({ err: error, runId: run.id, version: run.version, type: event.type }, 'run event not appended; the next change carries the state');
      });
    }
  };
}
