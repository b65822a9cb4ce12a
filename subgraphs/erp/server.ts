import { erpResolvers, type ErpContext } from '../../resolvers/erp';
import { subgraphTypeDefs } from '../../schema/subgraphs';
import type { Logger } from '../../core/log';
import type { Tracing } from '../../core/tracing';
import type { ReadPortModes } from '../common/cached-reads';
import { createSubgraphServer } from '../common/subgraph-server';
import { createErpLoaders } from './loaders';
import type { ErpPort } from './port';

export interface ErpSubgraphOptions {
  port: ErpPort;
  /** Gateway's shared secret; null = accept unsigned requests (tests of the subgraph alone). */
  secret: string | null;
  logger: Logger;
  /** Batch entity reads per request (default true); false gives the per-entity baseline. */
  batch?: boolean;
  /**
   * The port's entity reads through the entity cache, in its two modes (subgraphs/common/cached-reads.ts);
   * the loaders use them. Default: none (every read goes to the vendor).
   */
  reads?: ReadPortModes<ErpPort>;
  /** Spans of the gateway's requests, continuing its traceparent (core/tracing.ts). Default: none. */
  tracing?: Tracing;
}

export function createErpSubgraph(options: ErpSubgraphOptions) {
  const { batch = true, port, reads, secret, logger, tracing } = options;
  return createSubgraphServer<ErpContext>({
    name: 'erp',
    typeDefs: subgraphTypeDefs('erp'),
    resolvers: erpResolvers,
    context: ({ correlationId, refresh }) => ({ port, loaders: createErpLoaders(reads ? (refresh ? reads.refresh : reads.cached) : port, batch), correlationId }),
    secret,
    logger,
    tracing,
  });
}
