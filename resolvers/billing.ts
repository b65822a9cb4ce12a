/** Billing subgraph resolvers: GraphQL <-> BillingPort, nothing vendor-specific. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { BillingContract, BillingInvoice, InvoiceStatus, Money } from '../core/canonical';
import { fromMinorUnits, toMinorUnits } from '../core/money';
import { assertCanSeeCustomer, visibleTo, type Principal } from '../core/principal';
import type { BillingLoaders } from '../subgraphs/billing/loaders';
import type { BillingPort } from '../subgraphs/billing/port';
import { checkFirst } from './pagination';

export interface BillingContext {
  port: BillingPort;
  loaders: BillingLoaders;
  correlationId: string;
  /** The caller (set by the subgraph server from the gateway's signed header). */
  principal: Principal;
}

interface CustomerRef {
  id: string;
}

/**
 * Portal isolation where billing data is resolved: a customer reference is checked by its id, a
 * contract or invoice by the customer it belongs to once it is read (by id, as a root field or as
 * an entity reference from another subgraph). A denied record is null with a FORBIDDEN error.
 */
function customerRef(ctx: BillingContext, ref: CustomerRef): CustomerRef {
  assertCanSeeCustomer(ctx.principal, ref.id, `customer ${ref.id}`);
  return { id: ref.id };
}

async function visibleContract(ctx: BillingContext, id: string): Promise<BillingContract | null> {
  return visibleTo(ctx.principal, await ctx.loaders.contract.load(id), (c) => c.customerId, `contract ${id}`);
}

async function visibleInvoice(ctx: BillingContext, id: string): Promise<BillingInvoice | null> {
  return visibleTo(ctx.principal, await ctx.loaders.invoice.load(id), (i) => i.customerId, `invoice ${id}`);
}

/** Sum of what is still owed on open invoices, in the invoices' currency. */
function openBalance(invoices: BillingInvoice[], currency: string): Money {
  const open = invoices.filter((i) => i.status === 'OPEN');
  const code = open[0]?.amountRemaining.currency ?? currency;
  const minor = open.reduce((sum, i) => sum + toMinorUnits(i.amountRemaining.amount, code), 0);
  return fromMinorUnits(minor, code);
}

export const billingResolvers: GraphQLResolverMap<BillingContext> = {
  Query: {
    contract: (_: unknown, { id }: { id: string }, ctx: BillingContext) => visibleContract(ctx, id),
    invoice: (_: unknown, { id }: { id: string }, ctx: BillingContext) => visibleInvoice(ctx, id),
  },
  Customer: {
    // Billing fields load lazily, so a reference costs nothing until a field asks for data.
    __resolveReference: (ref: CustomerRef, ctx: BillingContext) => customerRef(ctx, ref),
    contracts: (customer: CustomerRef, _: unknown, ctx: BillingContext) => ctx.loaders.contractsByCustomer.load(customer.id),
    invoices: async (
      customer: CustomerRef,
      args: { status?: InvoiceStatus | null; first?: number | null },
      ctx: BillingContext,
    ) => {
      const first = args.first === null || args.first === undefined ? null : checkFirst(args.first);
      const all = await ctx.loaders.invoicesByCustomer.load(customer.id);
      const matching = args.status ? all.filter((i) => i.status === args.status) : all;
      return first === null ? matching : matching.slice(0, first);
    },
    balance: async (customer: CustomerRef, _: unknown, ctx: BillingContext) => {
      const [billingCustomer, invoices] = await Promise.all([
        ctx.loaders.customer.load(customer.id),
        ctx.loaders.invoicesByCustomer.load(customer.id),
      ]);
      if (!billingCustomer) return null;
      return openBalance(invoices, billingCustomer.currency ?? 'USD');
    },
  },
  Contract: {
    __resolveReference: (ref: { id: string }, ctx: BillingContext) => visibleContract(ctx, ref.id),
    customer: (contract: BillingContract) => ({ id: contract.customerId }),
    invoices: async (contract: BillingContract, _: unknown, ctx: BillingContext) =>
      (await ctx.loaders.invoicesByCustomer.load(contract.customerId)).filter((i) => i.contractId === contract.id),
  },
  Invoice: {
    __resolveReference: (ref: { id: string }, ctx: BillingContext) => visibleInvoice(ctx, ref.id),
    customer: (invoice: BillingInvoice) => ({ id: invoice.customerId }),
    contract: async (invoice: BillingInvoice, _: unknown, ctx: BillingContext) => {
      if (!invoice.contractId) return null;
      // The customer's contracts come from one batched search; fall back to a read by id.
      const contracts = await ctx.loaders.contractsByCustomer.load(invoice.customerId);
      return contracts.find((c) => c.id === invoice.contractId) ?? visibleContract(ctx, invoice.contractId);
    },
  },
};
