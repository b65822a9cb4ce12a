/** ERP subgraph resolvers: GraphQL <-> ErpPort, nothing vendor-specific. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { assertCanSeeCustomer, type Principal } from '../core/principal';
import type { ErpLoaders } from '../subgraphs/erp/loaders';
import type { ErpPort } from '../subgraphs/erp/port';

export interface ErpContext {
  port: ErpPort;
  loaders: ErpLoaders;
  correlationId: string;
  /** The caller (set by the subgraph server from the gateway's signed header). */
  principal: Principal;
}

/**
 * An invoice reference as the gateway sends it: ERP postings do not know their customer, so the
 * schema `@requires` the invoice's customer id from billing (the system of record), and the portal
 * check runs here, where the posting is resolved, on that id.
 */
interface InvoiceRef {
  id: string;
  customer?: { id: string } | null;
}

export const erpResolvers: GraphQLResolverMap<ErpContext> = {
  Customer: {
    __resolveReference: (ref: { id: string }, ctx: ErpContext) => {
      assertCanSeeCustomer(ctx.principal, ref.id, `customer ${ref.id}`);
      return { id: ref.id };
    },
    erp: (customer: { id: string }, _: unknown, ctx: ErpContext) => ctx.loaders.profile.load(customer.id),
  },
  Invoice: {
    __resolveReference: (ref: InvoiceRef, ctx: ErpContext): InvoiceRef => {
      // No customer in the reference means the gateway could not learn it: fail closed for a portal.
      assertCanSeeCustomer(ctx.principal, ref.customer?.id, `invoice ${ref.id}`);
      return { id: ref.id, customer: ref.customer ?? null };
    },
    erpPosting: (invoice: InvoiceRef, _: unknown, ctx: ErpContext) => ctx.loaders.posting.load(invoice.id),
  },
};
