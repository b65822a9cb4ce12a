/**
 * Where runs live. One interface, two implementations (memory for embedded mode, Redis for
 * production) and one contract suite over both (test/contract/run-store.test.ts).
 */
import type { Page } from '../../core/canonical';
import type { Run, RunStatus } from './model';

export type CreateResult =
  | { outcome: 'created'; run: Run }
  /** A run with this idempotency key exists (the caller compares input hashes). */
  | { outcome: 'existing-key'; run: Run }
  /** The opportunity already has a run that is not compensated. */
  | { outcome: 'existing-opportunity'; run: Run };

export interface RunStore {
  /**
   * Atomically create the run unless its idempotency key is taken or its opportunity already has a
   * live (not COMPENSATED) run. An `existing-key` run is a replay, kept for good like findByKey's.
   */
  create(run: Run): Promise<CreateResult>;
  get(id: string): Promise<Run | null>;
  /**
   * The run started with this idempotency key: a replay, whose answer names the run, so a store
   * whose create can stop half-way keeps the run for good from here on (store-redis.ts).
   */
  findByKey(idempotencyKey: string): Promise<Run | null>;
  /**
   * Save `run` if the stored copy still has `run.version`; returns the saved run (version + 1),
   * or null when someone saved in between (reload and apply the change again).
   */
  save(run: Run): Promise<Run | null>;
  /** Newest first. `after` is the endCursor of the previous page. */
  list(filter: { status?: RunStatus | null }, page: { first: number; after?: string | null }): Promise<Page<Run>>;
  /** The latest run of an opportunity. */
  forOpportunity(opportunityId: string): Promise<Run | null>;
  /** Runs per status, for ops backlog figures. */
  countByStatus(): Promise<Record<RunStatus, number>>;

  /**
   * Exclusive right to work on a run for `ttlMs` (one worker at a time per run, across processes).
   * Returns false when another holder has it. Renew by calling again with the same holder.
   */
  lease(runId: string, holder: string, ttlMs: number): Promise<boolean>;
  release(runId: string, holder: string): Promise<void>;

  close(): Promise<void>;
}
