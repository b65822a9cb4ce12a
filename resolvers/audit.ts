/**
 * Operator actions through the audit trail, and the trail and every kind of run for operators
 * (`operatorActions`, `opsRuns`, orchestration subgraph, ops:read). The mutations that act on runs,
 * drifts and reconciliation call `audited`, so each is recorded with the caller's subject, the
 * request's correlation id and its outcome (subgraphs/orchestration/audit/recorder.ts).
 */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { ConcordError } from '../core/errors';
import { isPortal, type Principal } from '../core/principal';
import type { ActionSpec, OperatorAudit } from '../subgraphs/orchestration/audit/recorder';
import type { OperatorAction } from '../subgraphs/orchestration/audit/trail';
import type { Run, RunStatus } from '../subgraphs/orchestration/model';
import { amountOf, customerOf, dealOf, kindOf, OPS_RUN_KINDS, type OpsRunKind, type OpsRunList } from '../subgraphs/orchestration/ops-runs';
import { checkFirst } from './pagination';

export interface AuditContext {
  /** Absent: actions run unrecorded, and operatorActions fails with INTERNAL. */
  audit?: OperatorAudit;
  /** Absent: opsRuns fails with INTERNAL. */
  opsRuns?: OpsRunList;
  correlationId: string;
  principal: Principal;
}

/** Run an operator action, recorded in the audit trail with its outcome. */
export function audited<T>(ctx: AuditContext, spec: Omit<ActionSpec<T>, 'subject' | 'correlationId'>, act: () => Promise<T>): Promise<T> {
  if (!ctx.audit) return act();
  return ctx.audit.perform({ ...spec, subject: ctx.principal.subject, correlationId: ctx.correlationId }, act);
}

/** A run's status after an action, as its outcome. */
export const runOutcome = (run: { status: string }) => `run ${run.status}`;

function operatorsOnly(ctx: AuditContext, what: string): void {
  if (isPortal(ctx.principal)) throw new ConcordError('FORBIDDEN', `this token may not access ${what}`);
}

const ref = (id: string | null | undefined) => (id ? { id } : null);

export const auditResolvers: GraphQLResolverMap<AuditContext> = {
  Query: {
    opsRuns: async (
      _: unknown,
      args: { kind?: OpsRunKind | null; status?: RunStatus | null; customerId?: string | null; search?: string | null; first?: number | null; after?: string | null },
      ctx: AuditContext,
    ) => {
      operatorsOnly(ctx, 'runs');
      if (!ctx.opsRuns) throw new ConcordError('INTERNAL', 'run listing is not available in this subgraph');
      if (args.kind && !(OPS_RUN_KINDS as readonly string[]).includes(args.kind)) throw new ConcordError('BAD_USER_INPUT', `unknown run kind ${args.kind}`);
      if (args.search && args.search.length > 200) throw new ConcordError('BAD_USER_INPUT', 'search is limited to 200 characters');
      const page = await ctx.opsRuns(
        { kind: args.kind, status: args.status, customerId: args.customerId, search: args.search },
        { first: checkFirst(args.first), after: args.after ?? null },
      );
      return {
        edges: page.items.map((run) => ({ cursor: page.endCursor ?? run.id, node: run })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      };
    },
    operatorActions: async (_: unknown, args: { subject?: string | null; first?: number | null; after?: string | null }, ctx: AuditContext) => {
      operatorsOnly(ctx, 'the audit trail');
      if (!ctx.audit) throw new ConcordError('INTERNAL', 'the audit trail is not available in this subgraph');
      if (args.after && !/^\d+-\d+$/.test(args.after)) throw new ConcordError('BAD_USER_INPUT', 'after is not an operatorActions cursor');
      const page = await ctx.audit.trail.list({ subject: args.subject ?? null }, { first: checkFirst(args.first), after: args.after ?? null });
      return { edges: page.items.map((node) => ({ cursor: node.id, node })), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
    },
  },
  OperatorAction: {
    status: (entry: OperatorAction) => entry.outcome.status,
    code: (entry: OperatorAction) => (entry.outcome.status === 'FAILED' ? entry.outcome.code : null),
    detail: (entry: OperatorAction) => entry.outcome.detail,
  },
  OpsRun: {
    kind: (run: Run) => kindOf(run),
    opportunityId: (run: Run) => dealOf(run),
    customer: (run: Run) => ref(customerOf(run).id),
    customerName: (run: Run) => customerOf(run).name,
    amount: (run: Run) => amountOf(run)?.amount ?? null,
    currency: (run: Run) => amountOf(run)?.currency ?? null,
    contract: (run: Run) => {
      const w = run.workflow;
      return ref(w?.kind === 'CONTRACT_AMENDMENT' || w?.kind === 'DRIFT_REPAIR' ? w.contractId : run.workflow ? null : run.context.contractId);
    },
    outcome: (run: Run) => (run.workflow?.kind === 'DRIFT_REPAIR' ? run.workflow.outcome : null),
    deadLetter: (run: Run) =>
      run.deadLetter
        ? { step: run.deadLetter.step, error: run.deadLetter.error, duringCompensation: run.deadLetter.duringCompensation, deadLetteredAt: run.deadLetter.at }
        : null,
  },
};
