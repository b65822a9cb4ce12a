/** CRM subgraph resolvers: GraphQL <-> CrmPort, nothing vendor-specific. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { CrmAccount, CrmOpportunity, ExternalRef } from '../core/canonical';
import type { CrmLoaders } from '../subgraphs/crm/loaders';
import type { CrmPort } from '../subgraphs/crm/port';
import { checkFirst, decodeCursor, encodeCursor } from './pagination';

export interface CrmContext {
  port: CrmPort;
  loaders: CrmLoaders;
  correlationId: string;
  /** Vendor names of the billing and ERP systems, for ExternalRef. */
  vendors: { billing: string; erp: string };
}

export const crmResolvers: GraphQLResolverMap<CrmContext> = {
  Query: {
    customer: (_: unknown, { id }: { id: string }, ctx: CrmContext) => ctx.loaders.account.load(id),
    opportunity: (_: unknown, { id }: { id: string }, ctx: CrmContext) => ctx.loaders.opportunity.load(id),
    customers: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: CrmContext) => {
      const first = checkFirst(args.first);
      const after = decodeCursor('Customer', args.after);
      const page = await ctx.port.listAccounts({ first, after });
      for (const account of page.items) ctx.loaders.account.prime(account.id, account);
      return {
        edges: page.items.map((node) => ({ cursor: encodeCursor('Customer', node.id), node })),
        pageInfo: {
          hasNextPage: page.hasNextPage,
          endCursor: page.items.length > 0 ? encodeCursor('Customer', page.items[page.items.length - 1].id) : null,
        },
      };
    },
  },
  Customer: {
    __resolveReference: (ref: { id: string }, ctx: CrmContext) => ctx.loaders.account.load(ref.id),
    parent: (account: CrmAccount, _: unknown, ctx: CrmContext) =>
      account.parentId ? ctx.loaders.account.load(account.parentId) : null,
    externalRefs: (account: CrmAccount, _: unknown, ctx: CrmContext): ExternalRef[] => {
      const refs: ExternalRef[] = [{ system: 'CRM', vendor: ctx.port.vendor, id: account.id }];
      if (account.billingCustomerId) refs.push({ system: 'BILLING', vendor: ctx.vendors.billing, id: account.billingCustomerId });
      if (account.erpCustomerId) refs.push({ system: 'ERP', vendor: ctx.vendors.erp, id: account.erpCustomerId });
      return refs;
    },
    opportunities: (account: CrmAccount, _: unknown, ctx: CrmContext) => ctx.loaders.opportunitiesByAccount.load(account.id),
  },
  Opportunity: {
    __resolveReference: (ref: { id: string }, ctx: CrmContext) => ctx.loaders.opportunity.load(ref.id),
    customer: (opportunity: CrmOpportunity, _: unknown, ctx: CrmContext) => ctx.loaders.account.load(opportunity.accountId),
  },
};
