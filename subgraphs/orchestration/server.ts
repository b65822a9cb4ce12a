import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { auditResolvers } from '../../resolvers/audit';
import { consistencyResolvers, type ConsistencyContext } from '../../resolvers/consistency';
import { orchestrationResolvers, type OrchestrationContext } from '../../resolvers/orchestration';
import { opsResolvers, type OpsContext, type OpsOverviewSource } from '../../resolvers/ops';
import { subgraphTypeDefs } from '../../schema/subgraphs';
import type { Logger } from '../../core/log';
import type { Tracing } from '../../core/tracing';
import { createSubgraphServer } from '../common/subgraph-server';
import type { OperatorAudit } from './audit/recorder';
import type { Consistency } from './consistency';
import type { OrderToCashEngine } from './engine';
import type { OpsRunList } from './ops-runs';

export interface OrchestrationSubgraphOptions {
  engine: OrderToCashEngine;
  /** Gateway's shared secret; null = accept unsigned requests (tests of the subgraph alone). */
  secret: string | null;
  logger: Logger;
  /**
   * Customer that owns a CRM opportunity, for portal isolation of startOrderToCash (checked before a
   * run exists). Default: none, and portal tokens may not start runs.
   */
  opportunityOwner?: (opportunityId: string) => Promise<string | null>;
  /** Customer master, amendments, reconciliation and repair. Absent = those fields fail with INTERNAL. */
  consistency?: Consistency;
  /** The ops console's figures (opsOverview; observability/overview.ts). Absent = opsOverview fails with INTERNAL. */
  ops?: OpsOverviewSource;
  /** Runs of every kind (opsRuns). Absent = opsRuns fails with INTERNAL. */
  opsRuns?: OpsRunList;
  /** Records operator actions (audit trail). Absent = actions are not recorded and operatorActions fails with INTERNAL. */
  audit?: OperatorAudit;
  /** Spans of the gateway's requests, continuing its traceparent (core/tracing.ts). Default: none. */
  tracing?: Tracing;
  /** Whether runs can be read and written now (GET /ready). Default: always ready. */
  readiness?: () => Promise<string | null>;
}

/** Two resolver maps as one (the type names they share, Query and Mutation, get both sets of fields). */
function mergeResolvers<C>(...maps: GraphQLResolverMap<C>[]): GraphQLResolverMap<C> {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) merged[type] = { ...(merged[type] ?? {}), ...(fields as Record<string, unknown>) };
  }
  return merged as GraphQLResolverMap<C>;
}

export function createOrchestrationSubgraph(options: OrchestrationSubgraphOptions) {
  const { engine, secret, logger, opportunityOwner, consistency, ops, opsRuns, audit, tracing, readiness } = options;
  return createSubgraphServer<OrchestrationContext & ConsistencyContext & OpsContext>({
    name: 'orchestration',
    typeDefs: subgraphTypeDefs('orchestration'),
    resolvers: mergeResolvers<OrchestrationContext & ConsistencyContext>(
      orchestrationResolvers as GraphQLResolverMap<OrchestrationContext & ConsistencyContext>,
      consistencyResolvers as GraphQLResolverMap<OrchestrationContext & ConsistencyContext>,
      opsResolvers as GraphQLResolverMap<OrchestrationContext & ConsistencyContext>,
      auditResolvers as GraphQLResolverMap<OrchestrationContext & ConsistencyContext>,
    ),
    context: ({ correlationId }) => ({ engine, correlationId, opportunityOwner, consistency, ops, opsRuns, audit }),
    secret,
    logger,
    tracing,
    readiness,
  });
}
