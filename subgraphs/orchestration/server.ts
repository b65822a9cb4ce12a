import { orchestrationResolvers, type OrchestrationContext } from '../../resolvers/orchestration';
import { subgraphTypeDefs } from '../../schema/subgraphs';
import type { Logger } from '../../core/log';
import { createSubgraphServer } from '../common/subgraph-server';
import type { OrderToCashEngine } from './engine';

export interface OrchestrationSubgraphOptions {
  engine: OrderToCashEngine;
  /** Gateway's shared secret; null = accept unsigned requests (tests of the subgraph alone). */
  secret: string | null;
  logger: Logger;
}

export function createOrchestrationSubgraph(options: OrchestrationSubgraphOptions) {
  const { engine, secret, logger } = options;
  return createSubgraphServer<OrchestrationContext>({
    name: 'orchestration',
    typeDefs: subgraphTypeDefs('orchestration'),
    resolvers: orchestrationResolvers,
    context: ({ correlationId }) => ({ engine, correlationId }),
    secret,
    logger,
  });
}
