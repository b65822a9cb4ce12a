/** Orchestration subgraph resolvers: GraphQL <-> the order-to-cash engine. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { ConcordError } from '../core/errors';
import { assertCanSeeCustomer, callerScope, isPortal, type Principal } from '../core/principal';
import { unownedKey } from '../subgraphs/orchestration/caller-keys';
import type { Run, RunStatus } from '../subgraphs/orchestration/model';
import type { OrderToCashEngine } from '../subgraphs/orchestration/engine';
import { audited, runOutcome, type AuditContext } from './audit';
import { isLive } from '../subgraphs/orchestration/fulfilment';
import { checkFirst } from './pagination';

export interface OrchestrationContext extends AuditContext {
  engine: OrderToCashEngine;
  correlationId: string;
  /** The caller (set by the subgraph server from the gateway's signed header). */
  principal: Principal;
  /**
   * The canonical customer id that owns a CRM opportunity (null when there is no such deal), so a
   * portal's start is checked before any run exists. Absent = portal tokens may not start runs.
   */
  opportunityOwner?: (opportunityId: string) => Promise<string | null>;
}

/**
 * Run isolation. A portal's run belongs to the customer of its deal (`context.customerId`, known
 * from the first step, which runs before a run is stored); a token without ops:read (orders:write
 * alone) sees only the runs it started (`owner`). Reads and actions on any other run are FORBIDDEN,
 * and for either a run that does not exist is refused the same way, so ids cannot be probed.
 */
const restricted = (ctx: OrchestrationContext) => isPortal(ctx.principal) || !ctx.principal.scopes.has('ops:read');

function assertRunVisible(ctx: OrchestrationContext, run: Run): Run {
  assertCanSeeCustomer(ctx.principal, run.context.customerId, `run ${run.id}`);
  if (!isPortal(ctx.principal) && restricted(ctx) && run.owner !== callerScope(ctx.principal)) {
    throw new ConcordError('FORBIDDEN', `this token may not access run ${run.id}`);
  }
  return run;
}

async function visibleRun(ctx: OrchestrationContext, id: string): Promise<Run | null> {
  const run = await ctx.engine.get(id);
  if (run) return assertRunVisible(ctx, run);
  // Restricted callers (portals, orders:write without ops:read) get the same answer for a run that
  // does not exist as for one that is not theirs, so run ids cannot be probed.
  if (restricted(ctx)) throw new ConcordError('FORBIDDEN', `this token may not access run ${id}`);
  return null;
}

function assertNotPortal(ctx: OrchestrationContext, what: string): void {
  if (isPortal(ctx.principal)) throw new ConcordError('FORBIDDEN', `a customer portal token may not list ${what}`);
}

async function startVisible(ctx: OrchestrationContext, input: { opportunityId: string; idempotencyKey: string }): Promise<Run> {
  // Keys are the caller's own (caller-keys.ts): nobody replays or squats another caller's key.
  const start = { ...input, owner: callerScope(ctx.principal) };
  if (!restricted(ctx)) return ctx.engine.start(start, ctx.correlationId);
  if (isPortal(ctx.principal)) {
    // Checked before the engine runs: a portal must not create anything for another customer's deal.
    const owner = ctx.opportunityOwner ? await ctx.opportunityOwner(input.opportunityId) : null;
    assertCanSeeCustomer(ctx.principal, owner, `opportunity ${input.opportunityId}`);
  }
  try {
    return assertRunVisible(ctx, await ctx.engine.start(start, ctx.correlationId));
  } catch (error) {
    // The engine's CONFLICT may name a run this caller may not see (the deal's run started by another).
    if (error instanceof ConcordError && error.code === 'CONFLICT') throw new ConcordError('CONFLICT', 'idempotencyKey or opportunity already used by another run');
    throw error;
  }
}

async function actOnVisibleRun(ctx: OrchestrationContext, runId: string, act: (id: string) => Promise<Run>): Promise<Run> {
  if (restricted(ctx)) {
    const run = await ctx.engine.get(runId);
    if (!run) throw new ConcordError('FORBIDDEN', `this token may not access run ${runId}`);
    assertRunVisible(ctx, run);
  }
  return act(runId);
}

const ref = (id: string | null) => (id ? { id } : null);

function deadLetterOf(run: Run) {
  if (!run.deadLetter) return null;
  return {
    id: run.id,
    run,
    step: run.deadLetter.step,
    error: run.deadLetter.error,
    duringCompensation: run.deadLetter.duringCompensation,
    deadLetteredAt: run.deadLetter.at,
    state: JSON.stringify({ context: run.context, steps: run.steps }),
  };
}

async function runPage(ctx: OrchestrationContext, status: RunStatus | null, first: number | null | undefined, after: string | null | undefined) {
  const page = await ctx.engine.list({ status }, { first: checkFirst(first), after: after ?? null });
  return {
    edges: page.items.map((run) => ({ cursor: run.id, node: run })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
  };
}

export const orchestrationResolvers: GraphQLResolverMap<OrchestrationContext> = {
  Query: {
    orderToCashRun: (_: unknown, { id }: { id: string }, ctx: OrchestrationContext) => visibleRun(ctx, id),
    orderToCashRuns: (_: unknown, args: { status?: RunStatus | null; first?: number | null; after?: string | null }, ctx: OrchestrationContext) => {
      assertNotPortal(ctx, 'runs');
      return runPage(ctx, args.status ?? null, args.first, args.after);
    },
    deadLetters: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: OrchestrationContext) => {
      assertNotPortal(ctx, 'dead letters');
      const page = await runPage(ctx, 'DEAD_LETTERED', args.first, args.after);
      return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: deadLetterOf(e.node) })).filter((e) => e.node) };
    },
  },
  Mutation: {
    startOrderToCash: (_: unknown, { input }: { input: { opportunityId: string; idempotencyKey: string } }, ctx: OrchestrationContext) =>
      startVisible(ctx, input),
    retryOrderToCash: (_: unknown, { runId }: { runId: string }, ctx: OrchestrationContext) =>
      audited(ctx, { action: 'RETRY_RUN', target: runId, describe: runOutcome }, () => actOnVisibleRun(ctx, runId, (id) => ctx.engine.retry(id))),
    cancelOrderToCash: (_: unknown, { runId }: { runId: string }, ctx: OrchestrationContext) =>
      audited(ctx, { action: 'CANCEL_RUN', target: runId, describe: runOutcome }, () => actOnVisibleRun(ctx, runId, (id) => ctx.engine.cancel(id))),
  },
  Opportunity: {
    __resolveReference: (opportunity: { id: string }) => ({ id: opportunity.id }),
    orderToCashRun: async (opportunity: { id: string }, _: unknown, ctx: OrchestrationContext) => {
      const run = await ctx.engine.forOpportunity(opportunity.id);
      return run ? assertRunVisible(ctx, run) : null;
    },
    fulfilment: async (opportunity: { id: string }, _: unknown, ctx: OrchestrationContext) => {
      if (isPortal(ctx.principal)) {
        // A portal sees the fulfilment of its own deals only.
        const owner = ctx.opportunityOwner ? await ctx.opportunityOwner(opportunity.id) : null;
        assertCanSeeCustomer(ctx.principal, owner, `opportunity ${opportunity.id}`);
      }
      const f = await ctx.engine.fulfilment(opportunity.id);
      return f
        ? { contract: { id: f.contractId }, contractStatus: f.contract?.status ?? null, orderStatus: f.orderStatus, live: isLive(f), foundIn: f.foundIn }
        : null;
    },
  },
  OrderToCashRun: {
    __resolveReference: (run: { id: string }, ctx: OrchestrationContext) => visibleRun(ctx, run.id),
    idempotencyKey: (run: Run) => unownedKey(run.idempotencyKey),
    customer: (run: Run) => ref(run.context.customerId),
    contract: (run: Run) => ref(run.context.contractId),
    invoice: (run: Run) => ref(run.context.invoiceId),
    deadLetter: (run: Run) => deadLetterOf(run),
  },
};
