/** Orchestration subgraph resolvers: GraphQL <-> the order-to-cash engine. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { Run, RunStatus } from '../subgraphs/orchestration/model';
import type { OrderToCashEngine } from '../subgraphs/orchestration/engine';
import { checkFirst } from './pagination';

export interface OrchestrationContext {
  engine: OrderToCashEngine;
  correlationId: string;
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
    orderToCashRun: (_: unknown, { id }: { id: string }, ctx: OrchestrationContext) => ctx.engine.get(id),
    orderToCashRuns: (_: unknown, args: { status?: RunStatus | null; first?: number | null; after?: string | null }, ctx: OrchestrationContext) =>
      runPage(ctx, args.status ?? null, args.first, args.after),
    deadLetters: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: OrchestrationContext) => {
      const page = await runPage(ctx, 'DEAD_LETTERED', args.first, args.after);
      return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: deadLetterOf(e.node) })).filter((e) => e.node) };
    },
  },
  Mutation: {
    startOrderToCash: (_: unknown, { input }: { input: { opportunityId: string; idempotencyKey: string } }, ctx: OrchestrationContext) =>
      ctx.engine.start(input, ctx.correlationId),
    retryOrderToCash: (_: unknown, { runId }: { runId: string }, ctx: OrchestrationContext) => ctx.engine.retry(runId),
    cancelOrderToCash: (_: unknown, { runId }: { runId: string }, ctx: OrchestrationContext) => ctx.engine.cancel(runId),
  },
  Opportunity: {
    __resolveReference: (opportunity: { id: string }) => ({ id: opportunity.id }),
    orderToCashRun: (opportunity: { id: string }, _: unknown, ctx: OrchestrationContext) => ctx.engine.forOpportunity(opportunity.id),
  },
  OrderToCashRun: {
    __resolveReference: (run: { id: string }, ctx: OrchestrationContext) => ctx.engine.get(run.id),
    customer: (run: Run) => ref(run.context.customerId),
    contract: (run: Run) => ref(run.context.contractId),
    invoice: (run: Run) => ref(run.context.invoiceId),
    deadLetter: (run: Run) => deadLetterOf(run),
  },
};
