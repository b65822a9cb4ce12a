/**
 * repairDrift: heal one drift through the orchestrator. A repairable drift starts a DRIFT_REPAIR run
 * (repair-steps.ts) keyed by the drift's id, so repairing the same drift again returns that run and
 * makes no second effect; the run's steps also re-read the systems before acting, so a drift that
 * healed meanwhile (or that a repair from another report healed) is left alone. A drift that needs a
 * human is returned as it is, with what to do.
 */
import { ConcordError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Run } from './model';
import type { Drift } from './reconciliation/drift';
import type { ReportStore } from './reconciliation/report-store';
import { REPAIR_PLAN, type RepairWorkflow } from './workflow-model';
import { inputHashOf, type WorkflowRunner } from './workflow-runs';

export interface RepairsOptions {
  workflows: WorkflowRunner;
  reports: ReportStore;
  logger: Logger;
  /** How long repairDrift waits for the repair to settle before answering, in ms. Default 8000. */
  waitMs?: number;
}

export interface Repairs {
  /** Repair the drift (or return the repair already made); `run` is null for a drift that needs a human. */
  repair(driftId: string, correlationId: string): Promise<{ drift: Drift; run: Run | null }>;
  /** The drift's repair run, if one was started. */
  runOf(driftId: string): Promise<Run | null>;
}

export function createRepairs(options: RepairsOptions): Repairs {
  const { workflows, reports, logger, waitMs = 8000 } = options;

  async function repair(driftId: string, correlationId: string): Promise<{ drift: Drift; run: Run | null }> {
    if (!/^drf_[0-9a-f]{20}$/.test(driftId)) throw new ConcordError('BAD_USER_INPUT', 'driftId is not a drift id');
    const drift = await reports.drift(driftId);
    if (!drift) throw new ConcordError('NOT_FOUND', `no drift ${driftId} (reports are kept for 30 days)`);
    const action = drift.remedy.action;
    if (action === null) return { drift, run: null };
    const workflow: RepairWorkflow = {
      kind: 'DRIFT_REPAIR',
      driftId,
      reportId: drift.reportId,
      action,
      customerId: drift.customerId,
      contractId: drift.contractId,
      invoiceId: drift.invoiceId,
      crmRecordId: drift.crmRecordId,
      customer: null,
      links: { erpCustomerId: null, billingCustomerId: null, creditHold: null },
      invoice: null,
      truth: null,
      outcome: null,
    };
    const { run, replayed } = await workflows.start({
      kind: 'DRIFT_REPAIR',
      // The drift is the key: repairing it twice is one repair.
      idempotencyKey: driftId,
      inputHash: inputHashOf({ driftId }),
      subject: `drift:${driftId}`,
      exclusive: false,
      steps: REPAIR_PLAN[action],
      workflow,
      correlationId,
      customerId: drift.customerId,
    });
    if (!replayed) logger.info({ driftId, runId: run.id, action, correlationId }, 'drift repair started');
    return { drift, run: await workflows.awaitSettled(run.id, waitMs) };
  }

  return { repair, runOf: (driftId) => workflows.latest(`drift:${driftId}`) };
}
