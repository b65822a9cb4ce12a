/** ERP subgraph resolvers: GraphQL <-> ErpPort, nothing vendor-specific. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { ErpLoaders } from '../subgraphs/erp/loaders';
import type { ErpPort } from '../subgraphs/erp/port';

export interface ErpContext {
  port: ErpPort;
  loaders: ErpLoaders;
  correlationId: string;
}

export const erpResolvers: GraphQLResolverMap<ErpContext> = {
  Customer: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    erp: (customer: { id: string }, _: unknown, ctx: ErpContext) => ctx.loaders.profile.load(customer.id),
  },
  Invoice: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    erpPosting: (invoice: { id: string }, _: unknown, ctx: ErpContext) => ctx.loaders.posting.load(invoice.id),
  },
};
