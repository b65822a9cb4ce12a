import { crmResolvers, type CrmContext } from '../../resolvers/crm';
import { subgraphTypeDefs } from '../../schema/subgraphs';
import type { Logger } from '../../core/log';
import type { Tracing } from '../../core/tracing';
import type { ReadPortModes } from '../common/cached-reads';
import { createSubgraphServer } from '../common/subgraph-server';
import { createCrmLoaders } from './loaders';
import type { CrmPort } from './port';

export interface CrmSubgraphOptions {
  port: CrmPort;
  /** Vendor names shown in ExternalRef for the other systems' ids held on the account. */
  vendors: { billing: string; erp: string };
  /** Gateway's shared secret; null = accept unsigned requests (tests of the subgraph alone). */
  secret: string | null;
  logger: Logger;
  /** Batch entity reads per request (default true); false gives the per-entity baseline. */
  batch?: boolean;
  /**
   * The port's entity reads through the entity cache, in its two modes (subgraphs/common/cached-reads.ts);
   * the loaders use them. Default: none (every read goes to the vendor).
   */
  reads?: ReadPortModes<CrmPort>;
  /** Spans of the gateway's requests, continuing its traceparent (core/tracing.ts). Default: none. */
  tracing?: Tracing;
}

export function createCrmSubgraph(options: CrmSubgraphOptions) {
  const { batch = true, port, reads, vendors, secret, logger, tracing } = options;
  return createSubgraphServer<CrmContext>({
    name: 'crm',
    typeDefs: subgraphTypeDefs('crm'),
    resolvers: crmResolvers,
    context: ({ correlationId, refresh }) => ({ port, vendors, loaders: createCrmLoaders(reads ? (refresh ? reads.refresh : reads.cached) : port, batch), correlationId }),
    secret,
    logger,
    tracing,
  });
}
