/**
 * BillingPort over Stripe Billing, with the official stripe SDK. Reads use Stripe's bulk reads with
 * the fewest calls (search with OR clauses, ten per query, pages of 100); Stripe has no multi-get, so
 * reads by id are parallel retrieves. Writes carry the caller's idempotency key, so that a retry -
 * by the SDK or by the orchestrator - replays Stripe's first answer instead of acting twice.
 *
 * Search is eventually consistent on Stripe: "data is typically searchable within a minute", and
 * search is not for read-after-write (https://docs.stripe.com/search#data-freshness). So every read
 * through search also lists what was created within the search-lag window (`created[gte]`; lists
 * are consistent) and merges it in: a customer, subscription or invoice made a moment ago (by
 * Concord or anyone) is seen at once, at the cost of one list call per kind and read. Lookups by id
 * and by customer use retrieve and list.
 */
import Stripe from 'stripe';
import type { BillingContract, BillingCustomer, BillingInvoice } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { VendorCallListener } from '../../core/vendor-call';
import type { BillingPort, NewContractItem } from '../../subgraphs/billing/port';
import { stripeAmendments } from './amendments';
import { withRetries } from '../../core/retry';
import { createStripeClient } from './client';
import { stripeRetry } from './retry';
import { errorFromStripe } from './errors';
import { META, idOf, toBillingCustomer, toContract, toInvoice } from './mapping';

export interface StripeAdapterOptions {
  /** Secret (or restricted) API key. Required. */
  apiKey: string;
  /** API base URL. Default https://api.stripe.com; the simulator is for example http://127.0.0.1:4102. */
  baseUrl?: string;
  /** Timeout of one HTTP request, in ms. Default 10000. */
  timeoutMs?: number;
  /**
   * Retries of a failed read inside the call (connection errors, 429, 5xx, as Stripe-Should-Retry
   * says). Default stripeRetry.readRetries (2). Writes are not retried here: the saga engine
   * retries them, one call per attempt, each with its idempotency key (retry.ts).
   */
  readRetries?: number;
  /**
   * Tax rate (`txr_...`, created in the account's dashboard or API) put on new subscriptions as
   * `default_tax_rates`, so every invoice they raise carries it (CONCORD_STRIPE_TAX_RATE_ID).
   * Default null: no tax rate; invoices carry only what the account's own defaults add (an account
   * with Stripe Tax set to apply by default to subscriptions calculates it there).
   */
  taxRateId?: string | null;
  /** Payment terms of new subscriptions' invoices (collection_method send_invoice), in days. Default 30. */
  daysUntilDue?: number;
  /** Told of every HTTP call to Stripe: operation, status (0 = no answer) and duration. */
  onCall?: VendorCallListener;
  /**
   * How far Stripe's search may trail writes, in seconds: objects created this recently are read by
   * list too. Default 300 (Stripe: typically under a minute; CONCORD_STRIPE_SEARCH_LAG_S).
   */
  searchLagSeconds?: number;
  /** The process's Stripe client (client.ts), shared with the webhook path. Default: one of its own from the options above. */
  client?: Stripe;
}

/** Stripe's limit of clauses in one search query, and so the size of an id chunk. */
const SEARCH_CLAUSES = 10;
/** Largest page Stripe serves. */
const PAGE = 100;

const chunk = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

/** A value inside a single-quoted search string. */
const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const newestFirst = <T extends { created: number }>(a: T, b: T) => b.created - a.created;

export function createStripeAdapter(options: StripeAdapterOptions): BillingPort {
  const {
    apiKey,
    baseUrl = 'https://api.stripe.com',
    timeoutMs = 10_000,
    readRetries = stripeRetry.readRetries,
    taxRateId = null,
    daysUntilDue = 30,
    searchLagSeconds = 300,
    onCall,
  } = options;
  const stripe = options.client ?? createStripeClient({ apiKey, baseUrl, timeoutMs, onCall });

  /** Run one SDK call; whatever it throws leaves as a ConcordError. */
  async function call<T>(operation: string, write: boolean, run: () => Promise<T>): Promise<T> {
    const once = async () => {
      try {
        return await run();
      } catch (error) {
        throw errorFromStripe(error, { operation, write });
      }
    };
    if (write) return once();
    return withRetries(once, { retries: readRetries, baseDelayMs: stripeRetry.baseDelayMs, maxDelayMs: stripeRetry.maxDelayMs, retryAfterMaxMs: stripeRetry.retryAfterMaxMs });
  }

  /** Every page of one search, following `next_page`. */
  async function searchAll<T>(
    operation: string,
    page: (params: { query: string; limit: number; page?: string }) => Promise<Stripe.ApiSearchResult<T>>,
    query: string,
  ): Promise<T[]> {
    const found: T[] = [];
    let next: string | undefined;
    do {
      const result = await call(operation, false, () => page({ query, limit: PAGE, ...(next ? { page: next } : {}) }));
      found.push(...result.data);
      next = result.has_more && result.next_page ? result.next_page : undefined;
    } while (next);
    return found;
  }

  /**
   * Every page of one list, following `starting_after` from the last object of each page. Each page
   * is its own read (the SDK retries it as usual) rather than the SDK's auto-pager, so that a failure
   * on any page leaves as a ConcordError like every other call here.
   */
  async function listAll<T extends { id: string }>(
    operation: string,
    page: (params: { limit: number; starting_after?: string }) => Promise<Stripe.ApiList<T>>,
  ): Promise<T[]> {
    const found: T[] = [];
    let startingAfter: string | undefined;
    do {
      const result = await call(operation, false, () => page({ limit: PAGE, ...(startingAfter ? { starting_after: startingAfter } : {}) }));
      found.push(...result.data);
      startingAfter = result.has_more ? result.data[result.data.length - 1]?.id : undefined;
    } while (startingAfter);
    return found;
  }

  /** Search by the metadata link, ten ids a query, the queries in parallel. */
  async function searchByLink<T>(
    operation: string,
    ids: readonly string[],
    page: (params: { query: string; limit: number; page?: string }) => Promise<Stripe.ApiSearchResult<T>>,
  ): Promise<T[]> {
    const unique = [...new Set(ids)];
    const results = await Promise.all(
      chunk(unique, SEARCH_CLAUSES).map((group) =>
        searchAll(operation, page, group.map((id) => `metadata['${META.customerId}']:${quote(id)}`).join(' OR ')),
      ),
    );
    return results.flat();
  }

  /** `created[gte]` of the search-lag window: what search may not show yet. */
  const lagWindow = () => ({ gte: Math.floor(Date.now() / 1000) - searchLagSeconds });

  /**
   * Search results plus what was created within the lag window and matches `keep` (a list, which is
   * consistent), without duplicates: search's answer made read-after-write safe.
   */
  async function withRecent<T extends { id: string }>(searched: Promise<T[]>, recent: Promise<T[]>, keep: (item: T) => boolean): Promise<T[]> {
    // Both settle before an answer (no read left running behind a failure), search's error first.
    const [searchedResult, recentResult] = await Promise.allSettled([searched, recent]);
    if (searchedResult.status === 'rejected') throw searchedResult.reason;
    if (recentResult.status === 'rejected') throw recentResult.reason;
    const [found, fresh] = [searchedResult.value, recentResult.value];
    const seen = new Set(found.map((item) => item.id));
    return [...found, ...fresh.filter((item) => keep(item) && !seen.has(item.id))];
  }

  // searchLagSeconds 0: search is taken as fresh, and nothing is listed besides it.
  const none = async <T>(): Promise<T[]> => [];
  const recentCustomers = searchLagSeconds <= 0 ? none<Stripe.Customer> : () => listAll('customers.list', (p) => stripe.customers.list({ ...p, created: lagWindow() }));
  const recentSubscriptions = searchLagSeconds <= 0
    ? none<Stripe.Subscription>
    : () => listAll('subscriptions.list', (p) => stripe.subscriptions.list({ ...p, status: 'all', created: lagWindow(), expand: ['data.customer'] }));
  const recentInvoices = searchLagSeconds <= 0
    ? none<Stripe.Invoice>
    : () => listAll('invoices.list', (p) => stripe.invoices.list({ ...p, created: lagWindow(), expand: ['data.customer'] }));
  const linkedTo = (ids: readonly string[]) => {
    const wanted = new Set(ids);
    return (item: { metadata?: Stripe.Metadata | null }) => wanted.has(item.metadata?.[META.customerId] ?? '');
  };

  /** Retrieve each id in parallel; ids Stripe does not know are left out. */
  async function retrieveEach<T>(ids: readonly string[], retrieve: (id: string) => Promise<T>): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    await Promise.all(
      [...new Set(ids)].map(async (id) => {
        try {
          found.set(id, await retrieve(id));
        } catch (error) {
          if (!(error instanceof ConcordError && error.code === 'NOT_FOUND')) throw error;
        }
      }),
    );
    return found;
  }

  const retrieveInvoice = (id: string) =>
    call('invoices.retrieve', false, () => stripe.invoices.retrieve(id, { expand: ['customer'] }));

  const port: BillingPort = {
    vendor: 'stripe',
    // Stripe prorates for a pinned proration_date and credits decreases on the proration invoice;
    // its search lags writes (made up for with lists, see withRecent).
    capabilities: { pinnedProrationDate: true, prorationCredits: true, consistentBulkReads: false },

    async getCustomersByCustomerId(customerIds) {
      const customers = await withRecent(searchByLink('customers.search', customerIds, (p) => stripe.customers.search(p)), recentCustomers(), linkedTo(customerIds));
      const byId = new Map<string, BillingCustomer>();
      // Oldest first, so that if a duplicate ever slipped in, the original wins everywhere.
      for (const customer of customers.sort((a, b) => a.created - b.created)) {
        const customerId = customer.metadata?.[META.customerId];
        if (customerId && !byId.has(customerId)) byId.set(customerId, toBillingCustomer(customer));
      }
      return byId;
    },

    async getContractsByCustomerId(customerIds) {
      // Subscription search covers every status (canceled and ended included), unlike list, which
      // hides canceled subscriptions unless asked; and search has no `customer` field, so the
      // metadata link is the key. One query per ten customers instead of a list per customer.
      const subscriptions = await withRecent(
        searchByLink('subscriptions.search', customerIds, (p) => stripe.subscriptions.search(p)),
        recentSubscriptions(),
        linkedTo(customerIds),
      );
      const byCustomer = new Map<string, BillingContract[]>(customerIds.map((id) => [id, []]));
      for (const subscription of subscriptions.sort(newestFirst)) {
        const contract = toContract(subscription);
        byCustomer.get(contract.customerId)?.push(contract);
      }
      return byCustomer;
    },

    async getInvoicesByBillingCustomer(customers, filter) {
      const canonicalOf = new Map(customers.map((c) => [c.id, c.customerId]));
      const byCustomer = new Map<string, BillingInvoice[]>(customers.map((c) => [c.customerId, []]));
      // `customer:'a' OR customer:'b'` cannot also say `AND status:...` (no mixing of AND and OR),
      // so a status filter is applied here.
      const groups = chunk([...canonicalOf.keys()], SEARCH_CLAUSES);
      const searched = Promise.all(
        groups.map((group) =>
          searchAll('invoices.search', (p) => stripe.invoices.search(p), group.map((id) => `customer:${quote(id)}`).join(' OR ')),
        ),
      ).then((pages) => pages.flat());
      const invoices = await withRecent(searched, recentInvoices(), (invoice) => canonicalOf.has(idOf(invoice.customer) ?? ''));
      for (const invoice of invoices.sort(newestFirst)) {
        const customerId = canonicalOf.get(idOf(invoice.customer) ?? '');
        if (customerId === undefined) continue;
        const mapped = toInvoice(invoice, customerId);
        if (filter?.status && mapped.status !== filter.status) continue;
        byCustomer.get(customerId)?.push(mapped);
      }
      return byCustomer;
    },

    async getContracts(ids) {
      const found = await retrieveEach(ids, (id) =>
        call('subscriptions.retrieve', false, () => stripe.subscriptions.retrieve(id, { expand: ['customer'] })),
      );
      return new Map([...found].map(([id, subscription]) => [id, toContract(subscription)]));
    },

    async getInvoices(ids) {
      const found = await retrieveEach(ids, retrieveInvoice);
      return new Map([...found].map(([id, invoice]) => [id, toInvoice(invoice)]));
    },

    async listInvoicesForContract(contractId) {
      // List, not search: list reads are consistent right after a write (search lags on Stripe).
      const invoices = await listAll('invoices.list', (p) =>
        stripe.invoices.list({ ...p, subscription: contractId, expand: ['data.customer'] }),
      );
      return invoices.map((invoice) => toInvoice(invoice));
    },

    async findContractForOpportunity(billingCustomerId, opportunityId) {
      // List, not search: this read decides whether a create whose outcome was uncertain must be
      // sent again, and search may not show a subscription made moments ago. List has no metadata
      // filter, so the customer's subscriptions are read and matched here (a customer has few).
      // `status: 'all'`: the default list leaves out canceled subscriptions, and a contract that was
      // created and then canceled still answers "this opportunity already has its contract".
      const subscriptions = await listAll('subscriptions.list', (p) =>
        stripe.subscriptions.list({ ...p, customer: billingCustomerId, status: 'all', expand: ['data.customer'] }),
      );
      // Newest first; the sort is stable, so Stripe's own order settles subscriptions of one second.
      const match = subscriptions
        .filter((subscription) => subscription.metadata?.[META.opportunityId] === opportunityId)
        .sort(newestFirst)[0];
      return match ? toContract(match) : null;
    },

    async upsertCustomer(input, { idempotencyKey, correlationId }) {
      // Stripe cannot list by metadata, so search finds the customer, and the customers created
      // within the search lag are listed too: one made a moment ago (by another run of the same
      // customer) is found, not created again. The create carries the caller's key, so a retried
      // create is replayed by Stripe rather than making a second customer.
      const existing = await withRecent(
        searchAll('customers.search', (p) => stripe.customers.search(p), `metadata['${META.customerId}']:${quote(input.customerId)}`),
        recentCustomers(),
        linkedTo([input.customerId]),
      );
      const current = existing.sort((a, b) => a.created - b.created)[0];
      const metadata = { [META.customerId]: input.customerId, [META.correlationId]: correlationId };
      if (!current) {
        const created = await call('customers.create', true, () =>
          stripe.customers.create(
            { name: input.name, ...(input.email ? { email: input.email } : {}), metadata },
            { idempotencyKey },
          ),
        );
        return toBillingCustomer(created, input.customerId);
      }
      const email = input.email ?? current.email;
      if (current.name === input.name && current.email === email) return toBillingCustomer(current, input.customerId);
      // A different endpoint needs its own key: Stripe refuses one key on two endpoints.
      const updated = await call('customers.update', true, () =>
        stripe.customers.update(current.id, { name: input.name, ...(email ? { email } : {}), metadata }, { idempotencyKey: `${idempotencyKey}:update` }),
      );
      return toBillingCustomer(updated, input.customerId);
    },

    async createContract(input, { idempotencyKey, correlationId }) {
      const prices = await pricesByCode(input.items);
      const metadata: Record<string, string> = { [META.customerId]: input.customerId, [META.correlationId]: correlationId };
      if (input.opportunityId) metadata[META.opportunityId] = input.opportunityId;
      const subscription = await call('subscriptions.create', true, () =>
        stripe.subscriptions.create(
          {
            customer: input.billingCustomerId,
            items: input.items.map((item) => ({ price: prices.get(item.productCode)!, quantity: item.quantity })),
            // Invoices are sent and paid by transfer; Stripe keeps the first one a draft that the
            // order-to-cash flow finalizes (or Stripe does, an hour later).
            collection_method: 'send_invoice',
            days_until_due: daysUntilDue,
            ...(taxRateId ? { default_tax_rates: [taxRateId] } : {}),
            metadata,
          },
          { idempotencyKey },
        ),
      );
      return toContract(subscription, input.customerId);
    },

    async finalizeInvoice(invoiceId, { idempotencyKey }) {
      try {
        const invoice = await call('invoices.finalize', true, () =>
          stripe.invoices.finalizeInvoice(invoiceId, { expand: ['customer'] }, { idempotencyKey }),
        );
        return toInvoice(invoice);
      } catch (error) {
        // Already finalized (by an earlier attempt under another key, or by Stripe's own
        // auto-advance an hour after creation): the outcome asked for is there.
        if (!(error instanceof ConcordError && error.code === 'VENDOR_REJECTED')) throw error;
        const invoice = await retrieveInvoice(invoiceId);
        if (invoice.status === 'open' || invoice.status === 'paid' || invoice.status === 'uncollectible') return toInvoice(invoice);
        throw error;
      }
    },

    async voidInvoice(invoiceId, { idempotencyKey }) {
      // Read first: Stripe voids only open or uncollectible invoices, and a void that already
      // happened must count as done, not as a failure.
      const current = await retrieveInvoice(invoiceId);
      if (current.status === 'void') return toInvoice(current);
      if (current.status === 'draft') {
        // A draft cannot be voided. Finalizing and voiding it keeps a numbered paper trail (and the
        // id stays readable), where deleting it would not; subscription drafts cannot be deleted anyway.
        await call('invoices.finalize', true, () =>
          stripe.invoices.finalizeInvoice(invoiceId, { auto_advance: false }, { idempotencyKey: `${idempotencyKey}:finalize` }),
        );
      }
      const voided = await call('invoices.void', true, () =>
        stripe.invoices.voidInvoice(invoiceId, { expand: ['customer'] }, { idempotencyKey }),
      );
      return toInvoice(voided);
    },

    async cancelContract(contractId, { idempotencyKey }) {
      try {
        // DELETE: Stripe ignores idempotency keys on it (the SDK still sends ours); cancelling is
        // idempotent in effect, and a second cancel answers 404, handled below.
        const subscription = await call('subscriptions.cancel', true, () =>
          stripe.subscriptions.cancel(contractId, { expand: ['customer'] }, { idempotencyKey }),
        );
        return toContract(subscription);
      } catch (error) {
        // Stripe answers 404 for cancelling a canceled subscription (it is gone as far as cancel goes).
        if (!(error instanceof ConcordError && (error.code === 'NOT_FOUND' || error.code === 'VENDOR_REJECTED'))) throw error;
        const subscription = await call('subscriptions.retrieve', false, () =>
          stripe.subscriptions.retrieve(contractId, { expand: ['customer'] }),
        );
        if (subscription.status === 'canceled') return toContract(subscription);
        throw error;
      }
    },

    async ping() {
      await call('prices.list', false, () => stripe.prices.list({ limit: 1 }));
    },

    // Amendments, bulk lists and duplicate search (stripe/amendments.ts).
    ...stripeAmendments({
      stripe,
      call,
      pricesByCode,
      retrieveInvoice,
      voidInvoice: (id, options) => port.voidInvoice(id, options),
      finalizeInvoice: (id, options) => port.finalizeInvoice(id, options),
      recentCustomers,
    }),
  };

  /** Active prices by product code (lookup_key): one list call per ten codes. */
  async function pricesByCode(items: readonly NewContractItem[]): Promise<Map<string, string>> {
    const codes = [...new Set(items.map((item) => item.productCode))];
    const byCode = new Map<string, string>();
    for (const group of chunk(codes, 10)) {
      const page = await call('prices.list', false, () => stripe.prices.list({ lookup_keys: group, active: true, limit: PAGE }));
      for (const price of page.data) if (price.lookup_key) byCode.set(price.lookup_key, price.id);
    }
    const missing = codes.filter((code) => !byCode.has(code));
    if (missing.length > 0) {
      throw new ConcordError('VALIDATION_FAILED', `No active Stripe price for product code(s): ${missing.join(', ')}`, {
        system: 'BILLING',
        retryable: false,
      });
    }
    return byCode;
  }

  return port;
}

export { errorFromStripe } from './errors';
