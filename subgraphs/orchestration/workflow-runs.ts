/**
 * Starting and watching the runs of the customer master, amendments and repairs. They run on their
 * own engine instance and run store (so that order-to-cash's lists, dead letters and per-deal rule
 * stay as they were) but share the work queues, and so each vendor's concurrency limit, with
 * order-to-cash: the queue handler sends a job to the engine that owns its run id (`wf_` prefix).
 *
 * Two rules besides the engine's:
 * - Idempotency: the caller's key, namespaced by kind. The same key with the same input returns the
 *   same run; with another input it is CONFLICT (as startOrderToCash).
 * - Subjects: each run names what it works on (`customer:<id>`, `contract:<id>`, `drift:<id>`);
 *   the subject's latest run is recorded, and an exclusive start (an amendment, a customer update)
 *   is refused with CONFLICT while another run of the subject is still in flight, so that two
 *   amendments of one contract never interleave.
 *
 * The run store's per-opportunity index is not used by workflows: their `opportunityId` holds
 * `<kind>:<run id>`, unique per run.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { OrderToCashEngine } from './engine';
import type { KeyValueStore } from './kv';
import { emptyContext, isSettled, newStep, type Run, type RunStatus } from './model';
import type { WorkQueues } from './queue';
import type { RunStore } from './store';
import { WORKFLOW_RUN_PREFIX, type WorkflowKind, type WorkflowState, type WorkflowStepName } from './workflow-model';
import { ownedKey, unownedKey } from './caller-keys';

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

export interface WorkflowRunnerOptions {
  /** The workflows' run store (not order-to-cash's). */
  store: RunStore;
  /** The work queues shared with order-to-cash. */
  queues: WorkQueues;
  /** The engine instance over `store` (retry, cancel). */
  engine: OrderToCashEngine;
  /** Where subjects' latest runs are recorded. */
  kv: KeyValueStore;
  logger: Logger;
  /** Told of every run this runner creates (the engine reports later changes). */
  onRunChanged?: (run: Run) => void;
  /** How often awaitSettled looks at a run, in ms. Default 50. */
  pollMs?: number;
  /**
   * How long a request waits for another request of the same key and input that is still
   * beginning (before its run exists), in ms. Default 30000; then CONFLICT, retryable later.
   */
  inFlightWaitMs?: number;
}

export interface StartWorkflow {
  kind: WorkflowKind;
  /** The caller's idempotency key (1-200 of letters, digits and . _ : -). */
  idempotencyKey: string;
  /** The caller's scope: its keys are its own (caller-keys.ts). Absent = internal. */
  owner?: string | null;
  /** Hash of the caller's input (inputHash): the same key with another hash is CONFLICT. */
  inputHash: string;
  /** What the run works on: `customer:<id>`, `contract:<id>`, `drift:<id>`. */
  subject: string;
  /** Refuse while another run of the subject is in flight. */
  exclusive: boolean;
  steps: WorkflowStepName[];
  workflow: WorkflowState;
  correlationId: string;
  /** The canonical customer the run is about (portal visibility), when known. */
  customerId?: string | null;
  /**
   * Runs once the subject is held and before the run exists (for example the CRM write of a customer
   * update); if it throws, the subject is released and nothing is created.
   */
  prepare?: () => Promise<void>;
}

export interface WorkflowRunner {
  /** Start a run, or return the run the same key already started (`replayed`). */
  start(spec: StartWorkflow): Promise<{ run: Run; replayed: boolean }>;
  /** The run the key started: null when none, CONFLICT when it was started with other input. */
  replayOf(kind: WorkflowKind, idempotencyKey: string, inputHash: string, owner?: string | null): Promise<Run | null>;
  /** The latest run of a subject. */
  latest(subject: string): Promise<Run | null>;
  get(runId: string): Promise<Run | null>;
  list(filter: { status?: RunStatus | null }, page: { first: number; after?: string | null }): Promise<Page<Run>>;
  retry(runId: string): Promise<Run>;
  cancel(runId: string): Promise<Run>;
  /** The run once settled, or as it is after `timeoutMs`. */
  awaitSettled(runId: string, timeoutMs: number): Promise<Run>;
  /**
   * Idempotent replay while in flight: `begin` (the checks, writes and start of a request) runs for
   * one request of a key at a time. A request with the same key and input that arrives while
   * another is beginning waits for that one's run and returns it (a client retrying after a
   * timeout gets its own outcome, not CONFLICT with itself); with another input it is CONFLICT.
   * If the first fails before its run exists, the waiting one begins afresh (and meets the same
   * failure, for the same reason).
   */
  once(kind: WorkflowKind, idempotencyKey: string, inputHash: string, begin: () => Promise<Run>, owner?: string | null): Promise<{ run: Run; replayed: boolean }>;
}

/** A stable hash of a caller's input (key order does not matter). */
export function inputHashOf(input: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
    }
    return value;
  };
  return createHash('sha256').update(JSON.stringify(canonical(input))).digest('hex');
}

/** The caller's key as stored: namespaced by kind, so one key may serve an amendment and a sync. */
const storedKey = (kind: WorkflowKind, key: string, owner?: string | null) => `${kind}:${ownedKey(owner, key)}`;

/** The caller's key back from the stored one. */
export function callerKey(run: Run): string {
  return unownedKey(run.workflow ? run.idempotencyKey.slice(run.workflow.kind.length + 1) : run.idempotencyKey);
}

const subjectKey = (subject: string) => `workflow:subject:${subject}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createWorkflowRunner(options: WorkflowRunnerOptions): WorkflowRunner {
  const { store, queues, engine, kv, logger, onRunChanged, pollMs = 50, inFlightWaitMs = 30_000 } = options;

  async function replayOf(kind: WorkflowKind, idempotencyKey: string, inputHash: string, owner?: string | null): Promise<Run | null> {
    if (!KEY_PATTERN.test(idempotencyKey)) {
      throw new ConcordError('BAD_USER_INPUT', 'idempotencyKey must be 1-200 characters of letters, digits and . _ : -');
    }
    const existing = await store.findByKey(storedKey(kind, idempotencyKey, owner));
    if (existing && existing.inputHash !== inputHash) {
      throw new ConcordError('CONFLICT', `idempotencyKey ${idempotencyKey} was used for another input (run ${existing.id})`);
    }
    return existing;
  }

  /** Record `runId` as the subject's latest run; exclusive: only if no other run of it is in flight. */
  async function claim(subject: string, runId: string, exclusive: boolean): Promise<string | null> {
    for (let tries = 0; tries < 20; tries++) {
      const current = await kv.get(subjectKey(subject));
      if (current && exclusive) {
        const live = await store.get(current);
        if (live && !isSettled(live.status)) {
          throw new ConcordError('CONFLICT', `${subject.replace(':', ' ')} has run ${current} in progress (${live.status}); try again when it has settled`);
        }
      }
      if (await kv.compareAndSet(subjectKey(subject), current, runId)) return current;
    }
    throw new ConcordError('CONFLICT', `${subject.replace(':', ' ')} is being changed by another request; try again`);
  }

  async function start(spec: StartWorkflow): Promise<{ run: Run; replayed: boolean }> {
    const known = await replayOf(spec.kind, spec.idempotencyKey, spec.inputHash, spec.owner);
    if (known) return { run: known, replayed: true };

    const id = `${WORKFLOW_RUN_PREFIX}${Date.now().toString(36)}${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const previous = await claim(spec.subject, id, spec.exclusive);
    const release = () =>
      (previous ? kv.compareAndSet(subjectKey(spec.subject), id, previous) : kv.deleteIfEquals(subjectKey(spec.subject), id)).then(
        () => undefined,
        () => undefined,
      );
    try {
      await spec.prepare?.();
    } catch (error) {
      await release();
      throw error;
    }
    const createdAt = new Date().toISOString();
    const run: Run = {
      id,
      correlationId: spec.correlationId,
      idempotencyKey: storedKey(spec.kind, spec.idempotencyKey, spec.owner),
      owner: spec.owner ?? null,
      inputHash: spec.inputHash,
      opportunityId: `${spec.kind}:${id}`,
      status: 'PENDING',
      version: 0,
      steps: spec.steps.map((name) => newStep(name)),
      context: { ...emptyContext(), customerId: spec.customerId ?? null },
      cancelRequested: false,
      deadLetter: null,
      workflow: spec.workflow,
      createdAt,
      updatedAt: createdAt,
    };
    const created = await store.create(run);
    if (created.outcome !== 'created') {
      // The same key won a race with us: its run is the answer, and the subject points back at it.
      await kv.compareAndSet(subjectKey(spec.subject), id, created.run.id).catch(() => undefined);
      if (created.run.inputHash !== spec.inputHash) {
        throw new ConcordError('CONFLICT', `idempotencyKey ${spec.idempotencyKey} was used for another input (run ${created.run.id})`);
      }
      return { run: created.run, replayed: true };
    }
    onRunChanged?.(created.run);
    logger.info({ runId: id, kind: spec.kind, subject: spec.subject, correlationId: spec.correlationId }, 'workflow run started');
    await queues.enqueue(run.steps[0].system, { runId: id, reason: 'start' });
    return { run: created.run, replayed: false };
  }

  async function once(kind: WorkflowKind, idempotencyKey: string, inputHash: string, begin: () => Promise<Run>, owner?: string | null): Promise<{ run: Run; replayed: boolean }> {
    const marker = `workflow:beginning:${storedKey(kind, idempotencyKey, owner)}`;
    const token = `${inputHash}:${randomUUID()}`;
    const deadline = Date.now() + inFlightWaitMs;
    for (;;) {
      const known = await replayOf(kind, idempotencyKey, inputHash, owner);
      if (known) return { run: known, replayed: true };
      // The marker expires on its own, so a process that died while beginning holds nobody up for long.
      if (await kv.setIfAbsent(marker, token, inFlightWaitMs)) {
        try {
          const raced = await replayOf(kind, idempotencyKey, inputHash, owner);
          if (raced) return { run: raced, replayed: true };
          return { run: await begin(), replayed: false };
        } finally {
          await kv.deleteIfEquals(marker, token).catch(() => undefined);
        }
      }
      const holder = await kv.get(marker);
      if (holder && !holder.startsWith(`${inputHash}:`)) {
        throw new ConcordError('CONFLICT', `idempotencyKey ${idempotencyKey} is being used for another input by a request in progress`);
      }
      if (Date.now() >= deadline) {
        throw new ConcordError('CONFLICT', `a request with idempotencyKey ${idempotencyKey} is still in progress; retry shortly`);
      }
      await sleep(pollMs);
    }
  }

  async function latest(subject: string): Promise<Run | null> {
    const id = await kv.get(subjectKey(subject));
    return id ? store.get(id) : null;
  }

  async function awaitSettled(runId: string, timeoutMs: number): Promise<Run> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await store.get(runId);
      if (!run) throw new ConcordError('NOT_FOUND', `no run ${runId}`);
      if (isSettled(run.status) || Date.now() >= deadline) return run;
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
    }
  }

  return {
    start,
    replayOf,
    latest,
    get: (id) => store.get(id),
    list: (filter, page) => store.list(filter, page),
    retry: (id) => engine.retry(id),
    cancel: (id) => engine.cancel(id),
    awaitSettled,
    once,
  };
}
