/**
 * The order-to-cash engine: starts runs, and advances them one step at a time from work-queue jobs.
 * A job only says "look at run X"; the stored run says what to do next, so a job repeated after a
 * crash, or a stale one, does no harm. One worker holds a run at a time (a lease in the store);
 * every state change is a versioned save, so an operator's retry or cancel is never lost.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { withCapacityPriority } from '../../core/capacity';
import type { Page } from '../../core/canonical';
import { ConcordError, type SystemName } from '../../core/errors';
import type { Logger } from '../../core/log';
import { scheduledRetryDelay, type VendorRetryPolicy } from '../../core/retry';
import { STEP_NAMES, emptyContext, newStep, type Run, type RunStatus, type RunStep, type StepError } from './model';
import type { JobHandler, WorkQueues } from './queue';
import { assertNotFulfilled, isVendorBusy, readFulfilment, type Fulfilment } from './fulfilment';
import { readDeal, type Ports, type StepInput } from './steps';
import { ownedKey } from './caller-keys';
import type { RunStore } from './store';
import { compensatesOnFailure } from './workflow-model';
import { stepDefinition } from './workflows';

export interface EngineOptions {
  store: RunStore;
  queues: WorkQueues;
  ports: Ports;
  logger: Logger;
  /** Attempts of a step (forward or compensation) before it is dead-lettered. Default 10. */
  maxAttempts?: number;
  /** First retry backoff in ms (exponential, with jitter). Default 250. */
  baseDelayMs?: number;
  /** Longest backoff between attempts in ms, when the vendor gave no Retry-After. Default 15000. */
  maxDelayMs?: number;
  /**
   * Each system's vendor retry policy (vendors/index.ts retryPolicies): a vendor's Retry-After is
   * honoured up to its retryAfterCeilingMs, as a delayed job. Default: a 10-minute ceiling for all.
   */
  retryPolicies?: Partial<Record<SystemName, Pick<VendorRetryPolicy, 'retryAfterCeilingMs'>>>;
  /** How long a worker holds a run before another may take it over (renewed while working). Default 15000. */
  leaseMs?: number;
  /** This worker's identity in leases. Default host:pid:random. */
  workerId?: string;
  /** Told of every saved change of a run (for events and subscriptions). */
  onRunChanged?: (run: Run) => void;
  /** Clock, for tests. Default: the system clock. */
  now?: () => Date;
  /** Hooks at the engine's decision points (tests park a run at a step boundary with them). */
  hooks?: EngineHooks;
}

export interface EngineHooks {
  /**
   * Awaited by the worker holding the run just before it starts `step` (forward), i.e. with the run
   * at the boundary between its previous step and `step`. A cancel that lands meanwhile is honoured:
   * the step is not started.
   */
  beforeStep?: (run: Run, step: RunStep) => Promise<void>;
}

export interface SweepResult {
  /** Unsettled runs looked at. */
  looked: number;
  /** Runs making no progress that were handed to their lane again. */
  requeued: string[];
}

export interface StartInput {
  opportunityId: string;
  idempotencyKey: string;
  /** The caller's scope: its keys are its own (caller-keys.ts). Absent = an internal, unscoped start. */
  owner?: string | null;
}

export interface OrderToCashEngine {
  start(input: StartInput, correlationId: string): Promise<Run>;
  /** Redrive a dead-lettered run from its failed step (or a waiting one now). */
  retry(runId: string): Promise<Run>;
  /** Undo what the run did, newest first. */
  cancel(runId: string): Promise<Run>;
  get(runId: string): Promise<Run | null>;
  list(filter: { status?: RunStatus | null }, page: { first: number; after?: string | null }): Promise<Page<Run>>;
  forOpportunity(opportunityId: string): Promise<Run | null>;
  /** The deal's fulfilment as the CRM and billing show it (null for an open deal). */
  fulfilment(opportunityId: string): Promise<Fulfilment | null>;
  /** The job handler to give WorkQueues.startWorkers. */
  handle: JobHandler;
  /**
   * Hand every unsettled run that has made no progress for `staleMs` to its lane again (a safety
   * net under the hand-off: a job lost in the queue's store, a run stored but never queued). A
   * job only says "look at run X", so a run that was merely slow loses nothing.
   */
  sweep(staleMs: number): Promise<SweepResult>;
}

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

type Action =
  | { kind: 'none' }
  | { kind: 'forward'; step: RunStep }
  | { kind: 'compensate'; step: RunStep }
  | { kind: 'later'; step: RunStep; delayMs: number }
  | { kind: 'turn' }
  | { kind: 'finish'; status: 'COMPLETED' | 'COMPENSATED' };

/** Steps whose effect may exist and can be undone, newest first. */
function compensable(run: Run): RunStep[] {
  return run.steps
    .filter((s) => stepDefinition(s.name).compensate && (s.status === 'SUCCEEDED' || s.status === 'COMPENSATION_FAILED' || (s.attempts > 0 && s.status !== 'COMPENSATED' && s.status !== 'PENDING')))
    .reverse();
}

function stepError(error: unknown): StepError {
  if (error instanceof ConcordError) {
    return { code: error.code, message: error.message, retryable: error.retryable, system: error.system ?? null };
  }
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), retryable: true, system: null };
}

export function createOrderToCashEngine(options: EngineOptions): OrderToCashEngine {
  const {
    store,
    queues,
    ports,
    logger,
    maxAttempts = 10,
    baseDelayMs = 250,
    maxDelayMs = 15_000,
    retryPolicies = {},
    leaseMs = 15_000,
    workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    onRunChanged,
    now = () => new Date(),
    hooks = {},
  } = options;

  const iso = () => now().toISOString();
  const policyOf = (system: SystemName) => retryPolicies[system] ?? { retryAfterCeilingMs: 10 * 60_000 };

  /** Apply `change` to the latest stored copy until the versioned save goes through. */
  async function mutate(runId: string, change: (run: Run) => void | false): Promise<Run> {
    for (let tries = 0; tries < 50; tries++) {
      const run = await store.get(runId);
      if (!run) throw new ConcordError('NOT_FOUND', `no run ${runId}`);
      if (change(run) === false) return run;
      run.updatedAt = iso();
      const saved = await store.save(run);
      if (saved) {
        onRunChanged?.(saved);
        return saved;
      }
    }
    throw new ConcordError('INTERNAL', `run ${runId} kept changing under us`);
  }

  function nextAction(run: Run): Action {
    const settled = run.status === 'COMPLETED' || run.status === 'COMPENSATED' || run.status === 'DEAD_LETTERED';
    if (run.cancelRequested && run.status !== 'COMPENSATING' && run.status !== 'COMPENSATED') return { kind: 'turn' };
    if (settled) return { kind: 'none' };
    if (run.status === 'COMPENSATING') {
      const step = compensable(run)[0];
      if (!step) return { kind: 'finish', status: 'COMPENSATED' };
      const due = step.nextAttemptAt ? Date.parse(step.nextAttemptAt) - now().getTime() : 0;
      return due > 0 ? { kind: 'later', step, delayMs: due } : { kind: 'compensate', step };
    }
    const step = run.steps.find((s) => s.status !== 'SUCCEEDED');
    if (!step) return { kind: 'finish', status: 'COMPLETED' };
    const due = step.nextAttemptAt ? Date.parse(step.nextAttemptAt) - now().getTime() : 0;
    return due > 0 ? { kind: 'later', step, delayMs: due } : { kind: 'forward', step };
  }

  function stepInput(run: Run, step: RunStep): StepInput {
    return {
      run,
      ports,
      key: `${run.id}:${step.name}`,
      correlationId: run.correlationId,
      uncertain: step.attempts > 0,
      logger: logger.child({ runId: run.id, correlationId: run.correlationId, step: step.name }),
      today: iso().slice(0, 10),
    };
  }

  async function forward(run: Run, step: RunStep): Promise<void> {
    const input = stepInput(run, step);
    await hooks.beforeStep?.(run, step);
    const started = await mutate(run.id, (r) => {
      const s = r.steps.find((x) => x.name === step.name)!;
      // A cancel that arrived at this boundary starts no new step: advance turns the run round.
      if (s.status === 'SUCCEEDED' || r.status === 'COMPENSATING' || r.status === 'DEAD_LETTERED' || r.cancelRequested) return false;
      s.status = 'RUNNING';
      s.attempts += 1;
      s.startedAt ??= iso();
      s.nextAttemptAt = null;
      r.status = 'RUNNING';
    });
    const current = started.steps.find((x) => x.name === step.name)!;
    if (current.status !== 'RUNNING') return;
    input.run = started;
    input.logger.info({ attempt: current.attempts }, 'step started');
    try {
      // Saga steps come first in every vendor's shared budget (core/capacity.ts).
      const result = await withCapacityPriority('write', () => stepDefinition(step.name).run(input));
      await mutate(run.id, (r) => {
        const s = r.steps.find((x) => x.name === step.name)!;
        s.status = 'SUCCEEDED';
        s.finishedAt = iso();
        s.externalId = result.externalId;
        Object.assign(r.context, result.context ?? {});
        if (r.workflow && result.workflow) Object.assign(r.workflow, result.workflow);
      });
      input.logger.info({ externalId: result.externalId }, 'step succeeded');
    } catch (error) {
      const failure = stepError(error);
      const budgetLeft = current.attempts - current.redriveBase < maxAttempts;
      if (failure.retryable && budgetLeft) {
        const delayMs = error instanceof ConcordError
          ? scheduledRetryDelay(error, current.attempts - current.redriveBase, policyOf(step.system), baseDelayMs, maxDelayMs)
          : Math.min(maxDelayMs, baseDelayMs * 2 ** current.attempts);
        await mutate(run.id, (r) => {
          const s = r.steps.find((x) => x.name === step.name)!;
          s.status = 'WAITING_RETRY';
          s.lastError = failure;
          s.nextAttemptAt = new Date(now().getTime() + delayMs).toISOString();
          if (r.status === 'RUNNING') r.status = 'WAITING_RETRY';
        });
        input.logger.warn({ code: failure.code, delayMs }, 'step failed; retrying later');
        await queues.enqueue(step.system, { runId: run.id, reason: `${step.name}-${current.attempts}` }, delayMs);
      } else if (compensatesOnFailure(started.workflow)) {
        // A workflow that must never stay half-applied (an amendment) is undone at once, newest
        // first; the failed step keeps its error for operators.
        await mutate(run.id, (r) => {
          const s = r.steps.find((x) => x.name === step.name)!;
          s.status = 'FAILED';
          s.lastError = failure;
          s.finishedAt = iso();
          r.status = 'COMPENSATING';
        });
        input.logger.warn({ code: failure.code, message: failure.message }, 'step failed; undoing the run');
      } else {
        await mutate(run.id, (r) => {
          const s = r.steps.find((x) => x.name === step.name)!;
          s.status = 'FAILED';
          s.lastError = failure;
          s.finishedAt = iso();
          r.status = 'DEAD_LETTERED';
          r.deadLetter = { step: step.name, error: failure, at: iso(), duringCompensation: false };
        });
        input.logger.error({ code: failure.code, message: failure.message }, 'step failed; run dead-lettered');
      }
    }
  }

  async function compensate(run: Run, step: RunStep): Promise<void> {
    const input = stepInput(run, step);
    const marked = await mutate(run.id, (r) => {
      const s = r.steps.find((x) => x.name === step.name)!;
      s.compensationAttempts += 1;
      s.nextAttemptAt = null;
    });
    const attempts = marked.steps.find((x) => x.name === step.name)!.compensationAttempts;
    input.run = marked;
    try {
      await withCapacityPriority('write', () => stepDefinition(step.name).compensate!(input));
      await mutate(run.id, (r) => {
        const s = r.steps.find((x) => x.name === step.name)!;
        s.status = 'COMPENSATED';
        s.finishedAt = iso();
      });
      input.logger.info('step compensated');
    } catch (error) {
      const failure = stepError(error);
      if (failure.retryable && attempts < maxAttempts) {
        const delayMs = error instanceof ConcordError ? scheduledRetryDelay(error, attempts, policyOf(step.system), baseDelayMs, maxDelayMs) : baseDelayMs;
        await mutate(run.id, (r) => {
          const s = r.steps.find((x) => x.name === step.name)!;
          s.lastError = failure;
          s.nextAttemptAt = new Date(now().getTime() + delayMs).toISOString();
        });
        await queues.enqueue(step.system, { runId: run.id, reason: `undo-${step.name}-${attempts}` }, delayMs);
      } else {
        // A failed compensation is dead-lettered with the state kept, never swallowed.
        await mutate(run.id, (r) => {
          const s = r.steps.find((x) => x.name === step.name)!;
          s.status = 'COMPENSATION_FAILED';
          s.lastError = failure;
          r.status = 'DEAD_LETTERED';
          r.deadLetter = { step: step.name, error: failure, at: iso(), duringCompensation: true };
        });
        input.logger.error({ code: failure.code }, 'compensation failed; run dead-lettered');
      }
    }
  }

  /** Work on the run until it waits, settles, or needs another lane. */
  async function advance(lane: string, runId: string): Promise<void> {
    for (let guard = 0; guard < 100; guard++) {
      const run = await store.get(runId);
      if (!run) return;
      const action = nextAction(run);
      switch (action.kind) {
        case 'none':
          return;
        case 'later':
          await queues.enqueue(action.step.system, { runId, reason: `due-${action.step.nextAttemptAt}` }, action.delayMs);
          return;
        case 'turn':
          await mutate(runId, (r) => {
            if (!r.cancelRequested) return false;
            r.cancelRequested = false;
            r.status = 'COMPENSATING';
            r.deadLetter = null;
            for (const s of r.steps) if (s.status === 'WAITING_RETRY') s.nextAttemptAt = null;
          });
          continue;
        case 'finish':
          await mutate(runId, (r) => {
            if (nextAction(r).kind !== 'finish') return false;
            r.status = action.status;
          });
          logger.info({ runId, correlationId: run.correlationId, status: action.status }, 'run settled');
          continue;
        case 'forward':
        case 'compensate':
          // Another lane's step is handed over after the lease is released (below, in handle), so
          // its job does not find the run still held.
          if (action.step.system !== lane) return;
          if (action.kind === 'forward') await forward(run, action.step);
          else await compensate(run, action.step);
          continue;
      }
    }
  }

  /**
   * One job: "look at run X". The job stays the run's pointer until the run's next job is stored:
   * any failure here (a Redis command timed out under load, the hand-off could not be enqueued)
   * rejects, and the queue runs this same job again after a backoff (queue.ts). Before, a rejection
   * failed the job for good, and a run whose step had been saved but whose next lane was never
   * told stayed RUNNING with its next step PENDING and 0 attempts.
   */
  const handle: JobHandler = async (lane, job) => {
    // One holder per job, not per process: two jobs of one run in this process must not overlap either.
    const holder = `${workerId}:${randomUUID().slice(0, 8)}`;
    if (!(await store.lease(job.runId, holder, leaseMs))) {
      // Another worker has it. If that worker died, its lease runs out: look again then.
      await queues.enqueue(lane, { runId: job.runId, reason: `lease-${Math.floor(Date.now() / leaseMs)}` }, Math.ceil(leaseMs / 2));
      return;
    }
    const renew = setInterval(() => void store.lease(job.runId, holder, leaseMs).catch(() => undefined), Math.ceil(leaseMs / 3));
    try {
      await advance(lane, job.runId);
    } catch (error) {
      logger.error({ err: error, runId: job.runId }, 'run could not be advanced; the job runs again');
      throw error;
    } finally {
      clearInterval(renew);
      await store.release(job.runId, holder).catch(() => undefined); // else it runs out by itself
    }
    // Hand the run to the lane of its next step; this also picks up a retry or cancel that arrived
    // while we held the lease. The job's reason is the run's saved version: two jobs handing off
    // the same state queue one job, a later state another.
    // A run that waits for a retry already has its delayed job (queued by the step that failed).
    const after = await store.get(job.runId);
    if (after && nextAction(after).kind !== 'later') await handOff(after, lane, `handoff-v${after.version}`);
  };

  /** Queue the job that moves `run` on from where it stands (nothing for a run that waits for nobody). */
  async function handOff(run: Run, lane: SystemName, reason: string): Promise<boolean> {
    const action = nextAction(run);
    switch (action.kind) {
      case 'forward':
      case 'compensate':
        await queues.enqueue(action.step.system, { runId: run.id, reason });
        return true;
      case 'turn':
      case 'finish':
        await queues.enqueue(lane, { runId: run.id, reason });
        return true;
      case 'later':
        await queues.enqueue(action.step.system, { runId: run.id, reason: `due-${action.step.nextAttemptAt}` }, action.delayMs);
        return true;
      case 'none':
        return false;
    }
  }

  async function sweep(staleMs: number): Promise<SweepResult> {
    const result: SweepResult = { looked: 0, requeued: [] };
    const cutoff = now().getTime() - staleMs;
    for (const status of ['PENDING', 'RUNNING', 'WAITING_RETRY', 'COMPENSATING'] as const) {
      let after: string | null = null;
      // Bounded per sweep; the next sweep goes on (each run it requeues moves, so it leaves the stale set).
      for (let pages = 0; pages < 25; pages++) {
        const page: Page<Run> = await store.list({ status }, { first: 200, after });
        for (const run of page.items) {
          result.looked += 1;
          if (Date.parse(run.updatedAt) > cutoff) continue;
          // A step waiting for its retry is not stuck before its time has come (and gone by staleMs).
          const due = run.steps.map((s) => (s.nextAttemptAt ? Date.parse(s.nextAttemptAt) : 0)).reduce((a, b) => Math.max(a, b), 0);
          if (due > cutoff) continue;
          if (await handOff(run, 'CRM', `sweep-v${run.version}`)) result.requeued.push(run.id);
        }
        if (!page.hasNextPage || !page.endCursor) break;
        after = page.endCursor;
      }
    }
    if (result.requeued.length) logger.warn({ runs: result.requeued.slice(0, 20), count: result.requeued.length }, 'runs making no progress were handed to their lanes again');
    return result;
  }

  async function start(input: StartInput, correlationId: string): Promise<Run> {
    const { opportunityId, idempotencyKey } = input;
    if (!KEY_PATTERN.test(idempotencyKey)) {
      throw new ConcordError('BAD_USER_INPUT', 'idempotencyKey must be 1-200 characters of letters, digits and . _ : -');
    }
    // The CRM says what its ids look like (a Salesforce 18-character id, a HubSpot number).
    if (!ports.crm.isRecordId(opportunityId)) throw new ConcordError('BAD_USER_INPUT', `opportunityId ${opportunityId} is not a CRM id`);
    const inputHash = createHash('sha256').update(JSON.stringify({ opportunityId })).digest('hex');
    const replay = (existing: Run): Run => {
      if (existing.inputHash !== inputHash) {
        throw new ConcordError('CONFLICT', `idempotencyKey ${idempotencyKey} was used for another input (run ${existing.id})`);
      }
      return existing;
    };
    /**
     * A start whose answer was lost (a Redis outage, a timeout) may have stored its run but not its
     * first job: a replay hands a pending run to its lane again (a job only says "look at run X":
     * harmless twice). The store has kept the run for good before handing it over.
     */
    const rollForward = async (existing: Run): Promise<Run> => {
      replay(existing);
      if (existing.status === 'PENDING') {
        const next = existing.steps.find((s) => s.status !== 'SUCCEEDED');
        if (next) await queues.enqueue(next.system, { runId: existing.id, reason: `replay-${randomUUID().slice(0, 8)}` });
      }
      return existing;
    };
    const storedKey = ownedKey(input.owner, idempotencyKey);
    const known = await store.findByKey(storedKey);
    if (known) return rollForward(known);

    const id = `run_${Date.now().toString(36)}${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const createdAt = iso();
    const run: Run = {
      id,
      correlationId,
      idempotencyKey: storedKey,
      owner: input.owner ?? null,
      inputHash,
      opportunityId,
      status: 'PENDING',
      version: 0,
      steps: STEP_NAMES.map(newStep),
      context: emptyContext(),
      cancelRequested: false,
      deadLetter: null,
      createdAt,
      updatedAt: createdAt,
    };
    // The deal is read before a run exists: a lost or open deal never gets one.
    const first = run.steps[0];
    first.status = 'RUNNING';
    first.attempts = 1;
    first.startedAt = createdAt;
    const result = await readDeal(run, ports).catch((error: unknown) => {
      throw error instanceof ConcordError ? error : new ConcordError('INTERNAL', 'reading the opportunity failed');
    });
    Object.assign(run.context, result.context);
    Object.assign(first, { status: 'SUCCEEDED', finishedAt: iso(), externalId: result.externalId });

    // Exactly once per deal, not only per run: the systems of record are read before any effect.
    // A deal the CRM or billing already shows as fulfilled is refused, naming its contract (see
    // docs/order-to-cash.md); Concord's own runs of the deal are caught by store.create below.
    // When a vendor cannot answer now (Stripe throttling), the start still accepts the run
    // durably: its first step, readOpportunity, is left to the run's first job, which makes the
    // authoritative check (with retries) before any effect and refuses there (dead letter, CONFLICT).
    try {
      await assertNotFulfilled(ports, opportunityId, run.context.customerId);
    } catch (error) {
      // The contract billing shows may be this key's own run, stored by an earlier attempt whose
      // answer was lost while this one read the deal: a replay answers with that run.
      if (error instanceof ConcordError && error.code === 'CONFLICT') {
        const own = await store.findByKey(storedKey);
        if (own) return rollForward(own);
      }
      if (!isVendorBusy(error)) throw error;
      logger.warn({ opportunityId, code: (error as ConcordError).code, system: (error as ConcordError).system }, 'fulfilment check deferred to the run: a vendor cannot answer now');
      Object.assign(first, { status: 'PENDING', attempts: 0, startedAt: null, finishedAt: null, externalId: null });
    }

    const created = await store.create(run);
    switch (created.outcome) {
      case 'existing-key':
        return rollForward(created.run);
      case 'existing-opportunity':
        throw new ConcordError('CONFLICT', `opportunity ${opportunityId} already has run ${created.run.id} (${created.run.status})`);
      case 'created':
        onRunChanged?.(created.run);
        logger.info({ runId: id, correlationId, opportunityId }, 'run started');
        await queues.enqueue(run.steps.find((s) => s.status !== 'SUCCEEDED')!.system, { runId: id, reason: 'start' });
        return created.run;
    }
  }

  async function retry(runId: string): Promise<Run> {
    let lane: RunStep['system'] = 'CRM';
    const run = await mutate(runId, (r) => {
      if (r.status === 'DEAD_LETTERED' && r.deadLetter?.duringCompensation) {
        r.status = 'COMPENSATING';
      } else if (r.status === 'DEAD_LETTERED') {
        const failed = r.steps.find((s) => s.status === 'FAILED');
        if (failed) {
          failed.status = 'PENDING';
          failed.nextAttemptAt = null;
          failed.redriveBase = failed.attempts;
          lane = failed.system;
        }
        r.status = 'PENDING';
      } else if (r.status === 'WAITING_RETRY') {
        for (const s of r.steps) if (s.status === 'WAITING_RETRY') {
          s.nextAttemptAt = null;
          lane = s.system;
        }
      } else {
        throw new ConcordError('CONFLICT', `run ${runId} is ${r.status}; only a dead-lettered or waiting run can be retried`);
      }
      r.deadLetter = null;
    });
    await queues.enqueue(lane, { runId, reason: `retry-${randomUUID().slice(0, 8)}` });
    return run;
  }

  /**
   * Undoing a run that posted to the ERP removes that posting, which a closed accounting period
   * forbids. Checked before the first undo (as amendContract checks before it starts): otherwise
   * the CRM would show the deal Canceled while billing and the ERP go on.
   */
  async function assertPostingReversible(runId: string): Promise<void> {
    const run = await store.get(runId);
    if (!run) throw new ConcordError('NOT_FOUND', `no run ${runId}`);
    const posted = run.steps.find((s) => s.name === 'erpPosting')?.status === 'SUCCEEDED';
    const invoiceId = run.context.invoiceId;
    if (!posted || !invoiceId || run.status === 'COMPENSATING' || run.status === 'COMPENSATED') return;
    const [postings, closed] = await Promise.all([ports.erp.getPostings([invoiceId]), ports.erp.closedPeriods()]);
    const period = postings.get(invoiceId)?.period ?? null;
    if (period && closed.includes(period)) {
      throw new ConcordError(
        'PERIOD_CLOSED',
        `run ${runId} posted invoice ${invoiceId} to the ERP period ${period}, which is closed: nothing was undone; credit it in an open period instead`,
        { system: 'ERP', retryable: false },
      );
    }
  }

  async function cancel(runId: string): Promise<Run> {
    await assertPostingReversible(runId);
    const run = await mutate(runId, (r) => {
      switch (r.status) {
        case 'COMPENSATING':
        case 'COMPENSATED':
          return false;
        case 'RUNNING':
          // A worker is mid-step: it turns the run round when the step ends.
          if (r.cancelRequested) return false;
          r.cancelRequested = true;
          return;
        case 'PENDING':
        case 'WAITING_RETRY':
        case 'COMPLETED':
        case 'DEAD_LETTERED':
          // No step is in flight (a worker starting one now would lose the versioned save).
          r.status = 'COMPENSATING';
          r.cancelRequested = false;
          r.deadLetter = null;
          for (const s of r.steps) if (s.status === 'WAITING_RETRY') s.nextAttemptAt = null;
          return;
      }
    });
    await queues.enqueue('CRM', { runId, reason: `cancel-${randomUUID().slice(0, 8)}` });
    return run;
  }

  return {
    start,
    retry,
    cancel,
    get: (id) => store.get(id),
    list: (filter, page) => store.list(filter, page),
    forOpportunity: (id) => store.forOpportunity(id),
    fulfilment: (id) => readFulfilment(ports, id),
    handle,
    sweep,
  };
}
