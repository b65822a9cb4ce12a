/**
 * The BillingPort's amendment and reconciliation methods over Stripe: subscription updates with
 * Stripe's own prorations (`proration_behavior=always_invoice`, pinned `proration_date`), the
 * withdrawal of an invoice an undone amendment left, paged bulk lists and a duplicate search.
 * Split from stripe-adapter.ts, which builds the client and the error handling they share.
 */
import type Stripe from 'stripe';
import type { BillingContract, BillingCustomer, BillingInvoice, Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { BillingPort, ContractAmendment, NewContractItem, WriteOptions } from '../../subgraphs/billing/port';
import { META, toBillingCustomer, toContract, toInvoice } from './mapping';

/** Metadata key of the amendment last applied to a subscription (and so on its proration invoice). */
export const AMENDMENT_META = 'concord_amendment_id';

/** Largest page Stripe serves. */
const PAGE = 100;

export interface StripeAmendmentDeps {
  stripe: Stripe;
  /** Run one SDK call; whatever it throws leaves as a ConcordError. */
  call<T>(operation: string, write: boolean, run: () => Promise<T>): Promise<T>;
  pricesByCode(items: readonly NewContractItem[]): Promise<Map<string, string>>;
  retrieveInvoice(id: string): Promise<Stripe.Invoice>;
  voidInvoice(id: string, options: WriteOptions): Promise<BillingInvoice>;
  finalizeInvoice(id: string, options: WriteOptions): Promise<BillingInvoice>;
  /** Customers created within the search-lag window (a consistent list: what search may not show yet). */
  recentCustomers(): Promise<Stripe.Customer[]>;
}

type AmendmentMethods = Pick<
  BillingPort,
  'amendContract' | 'findAmendmentInvoice' | 'withdrawInvoice' | 'listCustomers' | 'listContracts' | 'listInvoices' | 'findCustomerCandidates'
>;

const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function checkPage(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > PAGE) {
    throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 1 and ${PAGE}`);
  }
  return first;
}

function page<T extends { id: string }, U>(list: Stripe.ApiList<T>, map: (item: T) => U): Page<U> {
  return { items: list.data.map(map), hasNextPage: list.has_more, endCursor: list.data.at(-1)?.id ?? null };
}

/** True for the invoice a given amendment made: Stripe copies the subscription's metadata onto it. */
function madeBy(invoice: Stripe.Invoice, amendmentId: string): boolean {
  return invoice.billing_reason === 'subscription_update' && invoice.parent?.subscription_details?.metadata?.[AMENDMENT_META] === amendmentId;
}

export function stripeAmendments(deps: StripeAmendmentDeps): AmendmentMethods {
  const { stripe, call, pricesByCode, retrieveInvoice, recentCustomers } = deps;

  async function invoicesOf(subscriptionId: string): Promise<Stripe.Invoice[]> {
    const found: Stripe.Invoice[] = [];
    let after: string | undefined;
    do {
      const list = await call('invoices.list', false, () =>
        stripe.invoices.list({ subscription: subscriptionId, limit: PAGE, expand: ['data.customer'], ...(after ? { starting_after: after } : {}) }),
      );
      found.push(...list.data);
      after = list.has_more ? list.data.at(-1)?.id : undefined;
    } while (after);
    return found;
  }

  return {
    async amendContract(input: ContractAmendment, { idempotencyKey, correlationId }: WriteOptions) {
      const current = await call('subscriptions.retrieve', false, () => stripe.subscriptions.retrieve(input.contractId));
      if (current.status === 'canceled' || current.status === 'incomplete_expired') {
        throw new ConcordError('VALIDATION_FAILED', `contract ${input.contractId} has ended; it cannot be amended`, { system: 'BILLING', retryable: false });
      }
      const codeOf = (item: Stripe.SubscriptionItem) => item.price.lookup_key;
      const needPrice = input.items.filter((change) => change.replacesProductCode || !current.items.data.some((i) => codeOf(i) === change.productCode));
      const prices = needPrice.length > 0 ? await pricesByCode(needPrice.map((c) => ({ productCode: c.productCode, quantity: c.quantity }))) : new Map<string, string>();
      const items: Stripe.SubscriptionUpdateParams.Item[] = [];
      for (const change of input.items) {
        const from = change.replacesProductCode ?? change.productCode;
        const existing = current.items.data.find((i) => codeOf(i) === from);
        if (change.replacesProductCode) {
          if (!existing) {
            throw new ConcordError('VALIDATION_FAILED', `contract ${input.contractId} has no ${change.replacesProductCode} item to replace`, { system: 'BILLING', retryable: false });
          }
          items.push({ id: existing.id, price: prices.get(change.productCode)!, quantity: change.quantity });
        } else if (existing) {
          items.push(change.quantity === 0 ? { id: existing.id, deleted: true } : { id: existing.id, quantity: change.quantity });
        } else if (change.quantity > 0) {
          items.push({ price: prices.get(change.productCode)!, quantity: change.quantity });
        }
      }
      const params: Stripe.SubscriptionUpdateParams = {
        ...(items.length > 0 ? { items } : {}),
        // Stripe prorates and invoices now; the invoice stays a draft (send_invoice) until finalized.
        proration_behavior: input.proration === 'invoice' ? 'always_invoice' : 'none',
        ...(input.prorationDate !== undefined && input.proration === 'invoice' ? { proration_date: input.prorationDate } : {}),
        ...(input.endDate !== undefined ? { cancel_at: input.endDate === null ? '' : Math.floor(Date.parse(input.endDate) / 1000) } : {}),
        metadata: { [AMENDMENT_META]: input.amendmentId, [META.correlationId]: correlationId },
        expand: ['customer'],
      };
      const updated = await call('subscriptions.update', true, () => stripe.subscriptions.update(input.contractId, params, { idempotencyKey }));
      const contract = toContract(updated);
      if (input.proration !== 'invoice') return { contract, invoice: null };
      const latest = typeof updated.latest_invoice === 'string' ? updated.latest_invoice : updated.latest_invoice?.id;
      let invoice = latest ? await retrieveInvoice(latest) : null;
      if (!invoice || !madeBy(invoice, input.amendmentId)) return { contract, invoice: null };
      if (invoice.status === 'draft' && invoice.auto_advance) {
        // Hold the draft: Stripe would finalize it within the hour, before the ERP may have the
        // adjustment. The caller finalizes it once the ERP posting is confirmed.
        invoice = await call('invoices.update', true, () =>
          stripe.invoices.update(latest!, { auto_advance: false, expand: ['customer'] }, { idempotencyKey: `${idempotencyKey}:hold` }),
        );
      }
      return { contract, invoice: toInvoice(invoice, contract.customerId) };
    },

    async findAmendmentInvoice(contractId, amendmentId) {
      const match = (await invoicesOf(contractId)).find((invoice) => madeBy(invoice, amendmentId));
      return match ? toInvoice(match) : null;
    },

    async withdrawInvoice(invoiceId, options) {
      const current = await retrieveInvoice(invoiceId);
      switch (current.status) {
        case 'void':
          return toInvoice(current);
        case 'open':
        case 'uncollectible':
          return deps.voidInvoice(invoiceId, options);
        case 'paid':
          if (current.total <= 0) return toInvoice(current);
          throw new ConcordError('VALIDATION_FAILED', `invoice ${invoiceId} is paid; it needs a credit note, not a withdrawal`, { system: 'BILLING', retryable: false });
        case 'draft':
        default: {
          if (current.total > 0) return deps.voidInvoice(invoiceId, options);
          if (current.total < 0) {
            // A draft that only credits cannot be voided once finalized (Stripe pays it from the
            // credit at once). Offset it to zero before finalizing; the offset carries no tax, so
            // the tax already on it is cancelled too.
            const customer = typeof current.customer === 'string' ? current.customer : current.customer!.id;
            await call('invoiceitems.create', true, () =>
              stripe.invoiceItems.create(
                { customer, invoice: invoiceId, amount: -current.total, currency: current.currency, description: 'Amendment withdrawn', tax_rates: [] },
                { idempotencyKey: `${options.idempotencyKey}:offset` },
              ),
            );
          }
          return deps.finalizeInvoice(invoiceId, { ...options, idempotencyKey: `${options.idempotencyKey}:finalize` });
        }
      }
    },

    async listCustomers({ first, after }): Promise<Page<BillingCustomer>> {
      const list = await call('customers.list', false, () =>
        stripe.customers.list({ limit: checkPage(first), ...(after ? { starting_after: after } : {}) }),
      );
      return page(list, (customer) => toBillingCustomer(customer));
    },

    async listContracts({ first, after }): Promise<Page<BillingContract>> {
      // status 'all': the default list hides canceled subscriptions, which reconciliation must see.
      const list = await call('subscriptions.list', false, () =>
        stripe.subscriptions.list({ status: 'all', limit: checkPage(first), ...(after ? { starting_after: after } : {}) }),
      );
      return page(list, (subscription) => toContract(subscription));
    },

    async listInvoices({ first, after }): Promise<Page<BillingInvoice>> {
      const list = await call('invoices.list', false, () =>
        stripe.invoices.list({ limit: checkPage(first), ...(after ? { starting_after: after } : {}) }),
      );
      return page(list, (invoice) => toInvoice(invoice));
    },

    async findCustomerCandidates({ nameTokens, emailDomain }, limit = 100) {
      // `~` is Stripe's substring match; it needs at least three characters.
      const clauses = [
        ...nameTokens.filter((t) => t.length >= 3).slice(0, 8).map((t) => `name~${quote(t)}`),
        ...(emailDomain && emailDomain.length >= 3 ? [`email~${quote(emailDomain)}`] : []),
      ];
      if (clauses.length === 0) return [];
      const [result, recent] = await Promise.all([
        call('customers.search', false, () => stripe.customers.search({ query: clauses.join(' OR '), limit: Math.max(1, Math.min(limit, PAGE)) })),
        recentCustomers(),
      ]);
      // Search lags writes: customers created within the lag are matched here, as `~` would.
      const tokens = nameTokens.filter((t) => t.length >= 3).slice(0, 8).map((t) => t.toLowerCase());
      const domain = emailDomain && emailDomain.length >= 3 ? emailDomain.toLowerCase() : null;
      const matches = (customer: Stripe.Customer) =>
        tokens.some((t) => (customer.name ?? '').toLowerCase().includes(t)) || (domain !== null && (customer.email ?? '').toLowerCase().includes(domain));
      const seen = new Set(result.data.map((customer) => customer.id));
      const fresh = recent.filter((customer) => !seen.has(customer.id) && matches(customer));
      return [...result.data, ...fresh].slice(0, Math.max(1, limit)).map((customer) => toBillingCustomer(customer));
    },
  };
}
