/**
 * Keeping the systems in step over time, put together: the customer master, contract amendments,
 * reconciliation (on demand and on a schedule) and drift repair, over the workflow engine and the
 * key-value store (Redis when configured, memory in embedded mode). The orchestration runtime
 * builds this; the orchestration subgraph's resolvers call it.
 */
import type { ConsistencyConfig } from '../../core/config';
import type { EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import { createAmendments, type Amendments } from './amendment';
import { createCustomerMaster, type CustomerMaster } from './customer-master';
import type { OrderToCashEngine } from './engine';
import type { KeyValueStore } from './kv';
import { isSettled, type Run } from './model';
import type { DriftFinding } from './reconciliation/drift';
import type { WorkQueues } from './queue';
import { createReconciler, type Reconciler } from './reconciliation/reconciler';
import { createReportStore, type ReportStore } from './reconciliation/report-store';
import { startReconciliationScheduler, type ReconciliationScheduler } from './reconciliation/scheduler';
import { createRepairs, type Repairs } from './repair';
import type { Ports } from './steps';
import type { RunStore } from './store';
import { createWorkflowRunner, type WorkflowRunner } from './workflow-runs';

export interface ConsistencyOptions {
  config: ConsistencyConfig;
  ports: Ports;
  /** Where CUSTOMER_CREATED, CONTRACT_AMENDED and DRIFT_DETECTED go. Absent = no events. */
  events?: EventLog;
  kv: KeyValueStore;
  /** The workflows' run store and the engine instance over it. */
  store: RunStore;
  engine: OrderToCashEngine;
  queues: WorkQueues;
  logger: Logger;
  onRunChanged?: (run: Run) => void;
  /** Run the reconciliation schedule in this process (guarded by the shared lock). Default true. */
  schedule?: boolean;
}

export interface Consistency {
  workflows: WorkflowRunner;
  customers: CustomerMaster;
  amendments: Amendments;
  reconciler: Reconciler;
  reports: ReportStore;
  repairs: Repairs;
  /** How long mutations wait for their run to settle, in ms. */
  waitMs: number;
  close(): Promise<void>;
}

export function createConsistency(options: ConsistencyOptions): Consistency {
  const { config, ports, events, kv, store, engine, queues, logger, onRunChanged, schedule = true } = options;
  const log = logger.child({ component: 'consistency' });
  const waitMs = config.mutationWaitMs;
  const workflows = createWorkflowRunner({ store, queues, engine, kv, logger: log, onRunChanged });
  const reports = createReportStore({ kv });
  // A customer being synced or a contract being amended right now is not drift.
  const inFlight = async (finding: DriftFinding) => {
    const subject = finding.subjectType === 'CUSTOMER' ? `customer:${finding.subjectId}` : finding.contractId ? `contract:${finding.contractId}` : null;
    const run = subject ? await workflows.latest(subject) : null;
    return run !== null && !isSettled(run.status);
  };
  const reconciler = createReconciler({ ports, kv, reports, logger: log, events, pace: config.reconciliationPace, inFlight });
  let scheduler: ReconciliationScheduler | null = null;
  if (schedule && config.reconciliationIntervalMinutes > 0) {
    scheduler = startReconciliationScheduler({ reconciler, kv, logger: log, intervalMs: config.reconciliationIntervalMinutes * 60_000 });
  }
  return {
    workflows,
    customers: createCustomerMaster({ ports, workflows, kv, logger: log, waitMs }),
    amendments: createAmendments({ ports, workflows, logger: log, waitMs }),
    reconciler,
    reports,
    repairs: createRepairs({ workflows, reports, logger: log, waitMs }),
    waitMs,
    close: async () => {
      await scheduler?.stop();
    },
  };
}
