/**
 * Orchestration subgraph resolvers for keeping the systems in step: the customer master
 * (upsertCustomer, customerDuplicates), amendments (amendContract), reconciliation
 * (runReconciliation, reconciliationReport) and repair (repairDrift), and the workflow runs behind
 * them. GraphQL <-> subgraphs/orchestration/consistency.ts, nothing vendor-specific.
 *
 * Portal tokens (one customer) may update their own customer and amend their own contracts and see
 * those runs; reconciliation, drifts, repairs and the duplicate search are for operators only.
 */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { ConcordError } from '../core/errors';
import { assertCanSeeCustomer, callerScope, isPortal, type Principal } from '../core/principal';
import type { Consistency } from '../subgraphs/orchestration/consistency';
import type { DuplicateView } from '../subgraphs/orchestration/customer-master';
import type { Run, RunStatus } from '../subgraphs/orchestration/model';
import { DRIFT_KINDS, type Drift, type DriftKind } from '../subgraphs/orchestration/reconciliation/drift';
import type { ReconciliationReport } from '../subgraphs/orchestration/reconciliation/report-store';
import { isWorkflowRunId } from '../subgraphs/orchestration/workflow-model';
import { callerKey } from '../subgraphs/orchestration/workflow-runs';
import { audited, runOutcome, type AuditContext } from './audit';
import { checkFirst } from './pagination';

export interface ConsistencyContext extends AuditContext {
  /** Absent when the subgraph was started without it (then these fields fail with INTERNAL). */
  consistency?: Consistency;
  correlationId: string;
  principal: Principal;
}

/** A drift as GraphQL serves it: with its repair run, when one was started. */
interface DriftView {
  drift: Drift;
  run: Run | null | undefined;
}

function services(ctx: ConsistencyContext): Consistency {
  if (!ctx.consistency) throw new ConcordError('INTERNAL', 'the customer master and reconciliation are not running in this subgraph');
  return ctx.consistency;
}

function operatorsOnly(ctx: ConsistencyContext, what: string): void {
  if (isPortal(ctx.principal)) throw new ConcordError('FORBIDDEN', `this token may not access ${what}`);
}

const ref = (id: string | null | undefined) => (id ? { id } : null);

/** The customer a workflow run is about (portal visibility, and Customer field). */
function customerOfRun(run: Run): string | null {
  const w = run.workflow;
  if (!w) return run.context.customerId;
  switch (w.kind) {
    case 'CUSTOMER_SYNC':
      return w.customer.customerId;
    case 'CONTRACT_AMENDMENT':
      return w.customerId;
    case 'DRIFT_REPAIR':
      return w.customerId;
  }
}

/**
 * A run as the caller may see it. A portal sees its own customer's runs; a token without ops:read
 * only the runs it started. Either way a run that does not exist is refused as one that is not
 * the caller's, so ids cannot be probed.
 */
function visible(ctx: ConsistencyContext, run: Run | null, id: string): Run | null {
  const restricted = isPortal(ctx.principal) || !ctx.principal.scopes.has('ops:read');
  if (!restricted) return run;
  const mine = run !== null && (isPortal(ctx.principal) ? customerOfRun(run) === ctx.principal.customerId : run.owner === callerScope(ctx.principal));
  if (!mine) {
    throw new ConcordError('FORBIDDEN', `this token may not access run ${id}`);
  }
  return run;
}

/** A run reached through a record the caller already sees (a contract's latest amendment). */
function portalRun(ctx: ConsistencyContext, run: Run | null): Run | null {
  if (run && isPortal(ctx.principal)) assertCanSeeCustomer(ctx.principal, customerOfRun(run), `run ${run.id}`);
  return run;
}

/** What a mutation needs to know of its caller: its key namespace and whether it is a portal. */
const caller = (ctx: ConsistencyContext) => ({ owner: callerScope(ctx.principal), portal: isPortal(ctx.principal) });

/** Let a mutation's run settle, and turn an amendment that was undone into the error that undid it. */
function amendmentOutcome(run: Run): void {
  const failed = run.steps.find((s) => s.lastError && (s.status === 'COMPENSATED' || s.status === 'FAILED' || s.status === 'COMPENSATION_FAILED'));
  if (run.status === 'COMPENSATED') {
    const error = failed?.lastError;
    throw new ConcordError((error?.code as ConcordError['code']) ?? 'VENDOR_REJECTED', `the amendment was undone (run ${run.id}): ${error?.message ?? 'a step failed'}`, {
      system: error?.system ?? undefined,
      retryable: false,
    });
  }
  if (run.status === 'DEAD_LETTERED') {
    const error = run.deadLetter?.error;
    throw new ConcordError('INTERNAL', `the amendment needs an operator (run ${run.id}, ${run.deadLetter?.step}): ${error?.message ?? 'a step failed'}`);
  }
}

function repairStatus(view: DriftView): string {
  const { drift, run } = view;
  if (drift.remedy.action === null) return 'NEEDS_HUMAN';
  if (!run) return 'NOT_STARTED';
  switch (run.status) {
    case 'COMPLETED':
      return 'REPAIRED';
    case 'DEAD_LETTERED':
    case 'COMPENSATED':
      return 'FAILED';
    case 'PENDING':
    case 'RUNNING':
    case 'WAITING_RETRY':
    case 'COMPENSATING':
      return 'IN_PROGRESS';
  }
}

async function cancelWorkflow(ctx: ConsistencyContext, runId: string): Promise<Run> {
  operatorsOnly(ctx, 'workflow runs');
  const { workflows } = services(ctx);
  const run = isWorkflowRunId(runId) ? await workflows.get(runId) : null;
  if (!run) throw new ConcordError('NOT_FOUND', `no workflow run ${runId}`);
  if (run.workflow?.kind === 'CONTRACT_AMENDMENT' && run.status === 'COMPLETED') {
    // Its proration invoice is final and its ERP adjustment posted: the way back is another amendment.
    throw new ConcordError('CONFLICT', `amendment ${runId} is complete; amend the contract again to change it back`);
  }
  return workflows.cancel(runId);
}

async function reportState(ctx: ConsistencyContext, report: ReconciliationReport): Promise<ReconciliationReport> {
  return (await services(ctx).reports.get(report.id)) ?? report;
}

export const consistencyResolvers: GraphQLResolverMap<ConsistencyContext> = {
  Query: {
    reconciliationReport: async (_: unknown, { id }: { id?: string | null }, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'reconciliation reports');
      const { reports } = services(ctx);
      return id ? reports.get(id) : ((await reports.latest(1))[0] ?? null);
    },
    reconciliationReports: (_: unknown, { first }: { first?: number | null }, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'reconciliation reports');
      return services(ctx).reports.latest(checkFirst(first));
    },
    drift: async (_: unknown, { id }: { id: string }, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'drifts');
      const drift = await services(ctx).reports.drift(id);
      return drift ? ({ drift, run: undefined } satisfies DriftView) : null;
    },
    workflowRun: async (_: unknown, { id }: { id: string }, ctx: ConsistencyContext) =>
      visible(ctx, isWorkflowRunId(id) ? await services(ctx).workflows.get(id) : null, id),
    workflowRuns: async (_: unknown, args: { status?: RunStatus | null; first?: number | null; after?: string | null }, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'workflow runs');
      const page = await services(ctx).workflows.list({ status: args.status ?? null }, { first: checkFirst(args.first), after: args.after ?? null });
      return { edges: page.items.map((run) => ({ cursor: run.id, node: run })), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
    },
    customerDuplicates: (
      _: unknown,
      args: { name: string; domain?: string | null; email?: string | null; taxRegistration?: string | null; excludeCustomerId?: string | null },
      ctx: ConsistencyContext,
    ) => {
      operatorsOnly(ctx, 'the duplicate search');
      const { excludeCustomerId, ...criteria } = args;
      return services(ctx).customers.findDuplicates(criteria, excludeCustomerId ?? null);
    },
  },

  Mutation: {
    upsertCustomer: async (_: unknown, { input }: { input: Parameters<Consistency['customers']['upsert']>[0] }, ctx: ConsistencyContext) => {
      if (isPortal(ctx.principal)) {
        // A portal keeps its own customer's details up to date; it creates none.
        if (!input.id) throw new ConcordError('FORBIDDEN', 'this token may not create customers');
        assertCanSeeCustomer(ctx.principal, input.id, `customer ${input.id}`);
      }
      const { customerId } = await services(ctx).customers.upsert(input, ctx.correlationId, caller(ctx));
      return { id: customerId };
    },
    amendContract: async (_: unknown, { input }: { input: Parameters<Consistency['amendments']['amend']>[0] }, ctx: ConsistencyContext) => {
      const authorize = isPortal(ctx.principal) ? (customerId: string | null) => assertCanSeeCustomer(ctx.principal, customerId, `contract ${input.contractId}`) : undefined;
      const { contractId, run } = await services(ctx).amendments.amend(input, ctx.correlationId, { authorize, owner: caller(ctx).owner });
      amendmentOutcome(run);
      return { id: contractId };
    },
    runReconciliation: async (_: unknown, __: unknown, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'reconciliation');
      const s = services(ctx);
      return audited(
        ctx,
        { action: 'RUN_RECONCILIATION', target: null, describe: (r: ReconciliationReport) => `report ${r.id} ${r.status}${r.status === 'COMPLETED' ? `: ${r.driftCount} drift(s)` : ''}` },
        async () => {
          const { report, done } = await s.reconciler.start('MANUAL');
          // Answer with the finished report when it is quick; else with the running one (poll reconciliationReport).
          const finished = await Promise.race([done, new Promise<null>((resolve) => setTimeout(() => resolve(null), s.waitMs).unref())]);
          return finished ?? (await reportState(ctx, report));
        },
      );
    },
    repairDrift: async (_: unknown, { driftId }: { driftId: string }, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'drift repair');
      return audited(ctx, { action: 'REPAIR_DRIFT', target: driftId, describe: (v: DriftView) => (v.run ? `${repairStatus(v)} (run ${v.run.id} ${v.run.status})` : repairStatus(v)) }, async () => {
        const { drift, run } = await services(ctx).repairs.repair(driftId, ctx.correlationId);
        return { drift, run } satisfies DriftView;
      });
    },
    retryWorkflowRun: async (_: unknown, { runId }: { runId: string }, ctx: ConsistencyContext) => {
      operatorsOnly(ctx, 'workflow runs');
      return audited(ctx, { action: 'RETRY_RUN', target: runId, describe: runOutcome }, async () => {
        if (!isWorkflowRunId(runId)) throw new ConcordError('NOT_FOUND', `no workflow run ${runId}`);
        return services(ctx).workflows.retry(runId);
      });
    },
    cancelWorkflowRun: (_: unknown, { runId }: { runId: string }, ctx: ConsistencyContext) =>
      audited(ctx, { action: 'CANCEL_RUN', target: runId, describe: runOutcome }, () => cancelWorkflow(ctx, runId)),
  },


  WorkflowRun: {
    __resolveReference: async (ref: { id: string }, ctx: ConsistencyContext) =>
      visible(ctx, isWorkflowRunId(ref.id) ? await services(ctx).workflows.get(ref.id) : null, ref.id),
    kind: (run: Run) => run.workflow?.kind,
    idempotencyKey: (run: Run) => callerKey(run),
    customer: (run: Run) => ref(customerOfRun(run)),
    contract: (run: Run) => {
      const w = run.workflow;
      return ref(w?.kind === 'CONTRACT_AMENDMENT' || w?.kind === 'DRIFT_REPAIR' ? w.contractId : null);
    },
    invoice: (run: Run) => {
      const w = run.workflow;
      if (w?.kind === 'CONTRACT_AMENDMENT') return ref(w.invoice?.id);
      if (w?.kind === 'DRIFT_REPAIR') return ref(w.invoiceId);
      return null;
    },
    outcome: (run: Run) => (run.workflow?.kind === 'DRIFT_REPAIR' ? run.workflow.outcome : null),
    deadLetter: (run: Run) =>
      run.deadLetter
        ? { step: run.deadLetter.step, error: run.deadLetter.error, duringCompensation: run.deadLetter.duringCompensation, deadLetteredAt: run.deadLetter.at }
        : null,
  },

  Customer: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    syncRun: async (customer: { id: string }, _: unknown, ctx: ConsistencyContext) => {
      if (isPortal(ctx.principal)) assertCanSeeCustomer(ctx.principal, customer.id, `customer ${customer.id}`);
      return services(ctx).workflows.latest(`customer:${customer.id}`);
    },
  },

  Contract: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    latestAmendment: async (contract: { id: string }, _: unknown, ctx: ConsistencyContext) =>
      portalRun(ctx, await services(ctx).workflows.latest(`contract:${contract.id}`)),
  },

  DuplicateCandidate: {
    customer: (candidate: DuplicateView) => ref(candidate.customerId),
  },

  ReconciliationReport: {
    vendorCalls: (report: ReconciliationReport) => Object.entries(report.vendorCalls).map(([system, calls]) => ({ system, calls })),
    drifts: (report: ReconciliationReport, args: { kind?: DriftKind | null; first?: number | null }) => {
      if (args.kind && !(DRIFT_KINDS as readonly string[]).includes(args.kind)) throw new ConcordError('BAD_USER_INPUT', `unknown drift kind ${args.kind}`);
      const matching = args.kind ? report.drifts.filter((d) => d.kind === args.kind) : report.drifts;
      const first = args.first === null || args.first === undefined ? matching.length : Math.max(0, Math.min(args.first, 5000));
      return matching.slice(0, first).map((drift): DriftView => ({ drift, run: undefined }));
    },
  },

  Drift: {
    id: (v: DriftView) => v.drift.id,
    reportId: (v: DriftView) => v.drift.reportId,
    kind: (v: DriftView) => v.drift.kind,
    system: (v: DriftView) => v.drift.system,
    subjectType: (v: DriftView) => v.drift.subjectType,
    subjectId: (v: DriftView) => v.drift.subjectId,
    detail: (v: DriftView) => v.drift.detail,
    values: (v: DriftView) => v.drift.values,
    customer: (v: DriftView) => ref(v.drift.customerId),
    contract: (v: DriftView) => ref(v.drift.contractId),
    invoice: (v: DriftView) => ref(v.drift.invoiceId),
    detectedAt: (v: DriftView) => v.drift.detectedAt,
    repairable: (v: DriftView) => v.drift.remedy.action !== null,
    humanAction: (v: DriftView) => v.drift.remedy.humanAction,
    repair: async (v: DriftView, _: unknown, ctx: ConsistencyContext) => {
      // The repair run is looked up only when asked for (a report may list thousands of drifts).
      const run = v.run === undefined && v.drift.remedy.action !== null ? await services(ctx).repairs.runOf(v.drift.id) : (v.run ?? null);
      const view = { drift: v.drift, run };
      return { status: repairStatus(view), action: v.drift.remedy.action, humanAction: v.drift.remedy.humanAction, run };
    },
  },
};
