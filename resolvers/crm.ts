/** CRM subgraph resolvers: GraphQL <-> CrmPort, nothing vendor-specific. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { CrmAccount, CrmOpportunity, ExternalRef } from '../core/canonical';
import { assertCanSeeCustomer, visibleTo, type Principal } from '../core/principal';
import type { CrmLoaders } from '../subgraphs/crm/loaders';
import type { CrmPort } from '../subgraphs/crm/port';
import { checkFirst, decodeCursor, encodeCursor } from './pagination';

export interface CrmContext {
  port: CrmPort;
  loaders: CrmLoaders;
  correlationId: string;
  /** Vendor names of the billing and ERP systems, for ExternalRef. */
  vendors: { billing: string; erp: string };
  /** The caller (set by the subgraph server from the gateway's signed header). */
  principal: Principal;
}

/**
 * Portal isolation at the CRM, the system of record for identity: an account is checked by its id
 * before it is read, an opportunity by its account once it is read. A denied record is a FORBIDDEN
 * error at its path (the field is null), never a silently filtered answer.
 */
function visibleAccount(ctx: CrmContext, id: string): Promise<CrmAccount | null> {
  assertCanSeeCustomer(ctx.principal, id, `customer ${id}`);
  return ctx.loaders.account.load(id);
}

async function visibleOpportunity(ctx: CrmContext, id: string): Promise<CrmOpportunity | null> {
  return visibleTo(ctx.principal, await ctx.loaders.opportunity.load(id), (o) => o.accountId, `opportunity ${id}`);
}

/** A portal's customer list: its own customer, when it exists, as a one-item page. */
async function portalPage(ctx: CrmContext, customerId: string, first: number, after: string | null) {
  const own = first > 0 && after === null ? await ctx.loaders.account.load(customerId) : null;
  const items = own ? [own] : [];
  return { items, hasNextPage: false };
}

export const crmResolvers: GraphQLResolverMap<CrmContext> = {
  Query: {
    customer: (_: unknown, { id }: { id: string }, ctx: CrmContext) => visibleAccount(ctx, id),
    opportunity: (_: unknown, { id }: { id: string }, ctx: CrmContext) => visibleOpportunity(ctx, id),
    customers: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: CrmContext) => {
      const first = checkFirst(args.first);
      const after = decodeCursor('Customer', args.after);
      // A portal lists its own customer only; the vendor is not asked for anyone else's.
      const portal = ctx.principal.customerId;
      const page = portal ? await portalPage(ctx, portal, first, after) : await ctx.port.listAccounts({ first, after });
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
    __resolveReference: (ref: { id: string }, ctx: CrmContext) => visibleAccount(ctx, ref.id),
    parent: (account: CrmAccount, _: unknown, ctx: CrmContext) => (account.parentId ? visibleAccount(ctx, account.parentId) : null),
    externalRefs: (account: CrmAccount, _: unknown, ctx: CrmContext): ExternalRef[] => {
      const refs: ExternalRef[] = [{ system: 'CRM', vendor: ctx.port.vendor, id: account.id }];
      if (account.billingCustomerId) refs.push({ system: 'BILLING', vendor: ctx.vendors.billing, id: account.billingCustomerId });
      if (account.erpCustomerId) refs.push({ system: 'ERP', vendor: ctx.vendors.erp, id: account.erpCustomerId });
      return refs;
    },
    opportunities: (account: CrmAccount, _: unknown, ctx: CrmContext) => {
      assertCanSeeCustomer(ctx.principal, account.id, `customer ${account.id}`);
      return ctx.loaders.opportunitiesByAccount.load(account.id);
    },
  },
  Opportunity: {
    __resolveReference: (ref: { id: string }, ctx: CrmContext) => visibleOpportunity(ctx, ref.id),
    customer: (opportunity: CrmOpportunity, _: unknown, ctx: CrmContext) => visibleAccount(ctx, opportunity.accountId),
  },
};
