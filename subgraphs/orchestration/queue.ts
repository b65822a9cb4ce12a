/**
 * Work queues of the engine: one lane per system, so that each vendor's concurrency limit is a
 * property of its lane (ERP: NetSuite's account limit, across every worker process). A job only
 * says "look at run X"; the run's stored state says what to do, so duplicate or stale jobs are
 * harmless. Two implementations: memory (embedded) and BullMQ (Redis).
 */
import type { SystemName } from '../../core/canonical';

export interface RunJob {
  runId: string;
  /** Distinguishes jobs of one run (dedupe key with runId): step name + attempt, or a nonce. */
  reason: string;
}

export type JobHandler = (lane: SystemName, job: RunJob) => Promise<void>;

export interface LaneSettings {
  /** Jobs of this lane run at once across all workers. */
  concurrency: number;
}

export interface LaneBacklog {
  waiting: number;
  active: number;
  delayed: number;
}

export interface WorkQueues {
  /**
   * Add a job; a job with the same runId and reason that is still queued is not added twice.
   * Rejects (SERVICE_UNAVAILABLE for the BullMQ queues) when the job cannot be stored now: the
   * caller still holds whatever pointed at the run and must not drop it.
   */
  enqueue(lane: SystemName, job: RunJob, delayMs?: number): Promise<void>;
  /**
   * Start consuming every lane with `handler`. Call at most once. A job whose handler throws is
   * run again later (it may be the run's only pointer: dropping it would strand the run); jobs
   * are "look at run X", so running one again is harmless.
   */
  startWorkers(handler: JobHandler): Promise<void>;
  backlog(): Promise<Record<SystemName, LaneBacklog>>;
  close(): Promise<void>;
}

export const LANES: readonly SystemName[] = ['CRM', 'BILLING', 'ERP'];
