/**
 * BillingPort over Chargebee Billing (API v2, Product Catalog 2.0), with the official chargebee-node
 * SDK (client.ts). Reads are batched list calls with `[in]` filters (customers by the
 * `cf_concord_customer_id` custom field, subscriptions and invoices by `customer_id[in]`), pages of
 * 100; Chargebee's list filters read what was just written, so no search-lag make-up is needed
 * (capabilities.consistentBulkReads). Writes carry the caller's key as `chargebee-idempotency-key`
 * (Chargebee replays the first answer and marks it `chargebee-idempotency-replayed`).
 *
 * Invoices: subscriptions are created with pending invoices (`create_pending_invoices`,
 * `first_invoice_pending`, `auto_close_invoices: false`), so the first invoice - and an amendment's
 * proration invoice - is a draft the saga closes (POST /invoices/{id}/close) once it is ready, as
 * it finalizes a Stripe draft. Chargebee credits a prorated decrease on a credit note, and prorates
 * for the moment of the change (no pinned proration date): both stated in `capabilities`.
 */
import type { Customer, Invoice, ItemPrice, Subscription } from 'chargebee';
import type { BillingContract, BillingCustomer, BillingInvoice, Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { withRetries } from '../../core/retry';
import type { BillingPort, ContractAmendment, NewContractItem, WriteOptions } from '../../subgraphs/billing/port';
import type { ChargebeeClient } from './client';
import { errorFromChargebee } from './errors';
import { LINK_FIELD, META, amendmentPoNumber, linkOf, metaOf, toBillingCustomer, toContract, toInvoice } from './mapping';
import { chargebeeRetry } from './retry';

export interface ChargebeeAdapterOptions {
  client: ChargebeeClient;
  /** Retries of a failed read inside the call. Default chargebeeRetry.readRetries. */
  readRetries?: number;
  /** Payment terms of new customers and subscriptions, in days. Default 30. */
  netTermDays?: number;
}

/** Largest page Chargebee serves, and the ids put in one `[in]` filter. */
const PAGE = 100;

const chunk = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

type ListResult<K extends string, T> = { list: ({ [key in K]: T } & { customer?: Customer })[]; next_offset?: string };

const headersOf = (idempotencyKey: string) => ({ 'chargebee-idempotency-key': idempotencyKey.slice(0, 255) });

function checkPage(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > PAGE) throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 1 and ${PAGE}`);
  return first;
}

/** Newest first by invoice date; the list's own order (newest first) settles ties. */
const byDateDesc = (invoices: Invoice[]) =>
  invoices.map((invoice, index) => ({ invoice, index })).sort((a, b) => (b.invoice.date ?? 0) - (a.invoice.date ?? 0) || a.index - b.index).map((e) => e.invoice);

export function createChargebeeAdapter(options: ChargebeeAdapterOptions): BillingPort {
  const { client: cb, readRetries = chargebeeRetry.readRetries, netTermDays = 30 } = options;

  async function call<T>(operation: string, write: boolean, run: () => Promise<T>): Promise<T> {
    const once = async () => {
      try {
        return await run();
      } catch (error) {
        throw errorFromChargebee(error, { operation, write });
      }
    };
    if (write) return once();
    return withRetries(once, { retries: readRetries, baseDelayMs: chargebeeRetry.baseDelayMs, maxDelayMs: chargebeeRetry.maxDelayMs, retryAfterMaxMs: chargebeeRetry.retryAfterMaxMs });
  }

  /** Every page of one list. */
  async function listAll<K extends string, T>(operation: string, key: K, page: (offset?: string) => Promise<ListResult<K, T>>): Promise<{ item: T; customer?: Customer }[]> {
    const found: { item: T; customer?: Customer }[] = [];
    let offset: string | undefined;
    do {
      const result = await call(operation, false, () => page(offset));
      for (const entry of result.list) found.push({ item: entry[key], customer: entry.customer });
      offset = result.next_offset;
    } while (offset);
    return found;
  }

  // ---------------------------------------------------------------- the catalog (item prices)

  let catalog: Promise<Map<string, ItemPrice>> | null = null;
  /** Active item prices by id, read once (and again when an unknown one turns up). */
  function prices(refresh = false): Promise<Map<string, ItemPrice>> {
    if (!catalog || refresh) {
      catalog = listAll('item_prices.list', 'item_price', (offset) =>
        cb.itemPrice.list({ limit: PAGE, status: { is: 'active' }, ...(offset ? { offset } : {}) }) as unknown as Promise<ListResult<'item_price', ItemPrice>>,
      ).then((entries) => new Map(entries.map((e) => [e.item.id, e.item])));
      catalog.catch(() => {
        catalog = null;
      });
    }
    return catalog;
  }
  let known = new Map<string, ItemPrice>();
  const productOf = (itemPriceId: string) => known.get(itemPriceId)?.item_id ?? null;
  /** The catalog, so that productOf can answer for every item of these subscriptions. */
  async function catalogFor(subscriptions: readonly Subscription[]): Promise<void> {
    known = await prices();
    const missing = subscriptions.some((s) => (s.subscription_items ?? []).some((i) => !known.has(i.item_price_id)));
    if (missing) known = await prices(true);
  }
  /** The item price of each product code (the catalog's item id), in the site's currency. */
  async function pricesByCode(items: readonly NewContractItem[]): Promise<Map<string, ItemPrice>> {
    let all = await prices();
    const pick = (catalogue: Map<string, ItemPrice>) => {
      const byCode = new Map<string, ItemPrice>();
      for (const price of catalogue.values()) if (!byCode.has(price.item_id ?? '') && price.period_unit !== undefined) byCode.set(price.item_id ?? '', price);
      return byCode;
    };
    let byCode = pick(all);
    if (items.some((i) => !byCode.has(i.productCode))) {
      all = await prices(true);
      byCode = pick(all);
    }
    known = all;
    const missing = [...new Set(items.map((i) => i.productCode))].filter((code) => !byCode.has(code));
    if (missing.length > 0) {
      throw new ConcordError('VALIDATION_FAILED', `No active Chargebee item price for product code(s): ${missing.join(', ')}`, { system: 'BILLING', retryable: false });
    }
    return byCode;
  }

  // ---------------------------------------------------------------- reads

  const customersWhere = (filter: Record<string, unknown>) =>
    listAll('customers.list', 'customer', (offset) => cb.customer.list({ limit: PAGE, ...filter, ...(offset ? { offset } : {}) }) as unknown as Promise<ListResult<'customer', Customer>>).then((e) => e.map((x) => x.item));
  const subscriptionsWhere = (filter: Record<string, unknown>) =>
    listAll('subscriptions.list', 'subscription', (offset) => cb.subscription.list({ limit: PAGE, ...filter, ...(offset ? { offset } : {}) }) as unknown as Promise<ListResult<'subscription', Subscription>>);
  const invoicesWhere = (filter: Record<string, unknown>) =>
    listAll('invoices.list', 'invoice', (offset) => cb.invoice.list({ limit: PAGE, ...filter, ...(offset ? { offset } : {}) }) as unknown as Promise<ListResult<'invoice', Invoice>>).then((e) => e.map((x) => x.item));

  /** Linked customers by canonical id: one list call per hundred ids. */
  async function customersByLink(customerIds: readonly string[]): Promise<Customer[]> {
    const groups = chunk([...new Set(customerIds)].filter(Boolean), PAGE);
    return (await Promise.all(groups.map((group) => customersWhere({ [LINK_FIELD]: { in: group } })))).flat();
  }

  /** Canonical ids of Chargebee customers, remembered once found (a link never changes). */
  const links = new Map<string, string>();
  /** And the other way: the Chargebee customer of a canonical id, once found (the oldest, if ever two). */
  const billingIdOf = new Map<string, string>();
  async function canonicalOf(billingCustomerIds: readonly string[]): Promise<Map<string, string>> {
    const unknown = [...new Set(billingCustomerIds)].filter((id) => id && !links.has(id));
    for (const group of chunk(unknown, PAGE)) {
      for (const customer of await customersWhere({ id: { in: group } })) {
        const link = linkOf(customer);
        if (link) links.set(customer.id, link);
      }
    }
    return links;
  }

  const invoiceOf = async (invoices: Invoice[]): Promise<BillingInvoice[]> => {
    const linked = await canonicalOf(invoices.map((i) => i.customer_id));
    return invoices.map((invoice) => toInvoice(invoice, linked.get(invoice.customer_id) ?? ''));
  };

  const retrieveInvoice = (id: string) => call('invoices.retrieve', false, () => cb.invoice.retrieve(id)).then((r) => r.invoice);
  const retrieveSubscription = (id: string) => call('subscriptions.retrieve', false, () => cb.subscription.retrieve(id));
  const contractOf = async (subscription: Subscription, customer?: Customer | null) => {
    await catalogFor([subscription]);
    return toContract(subscription, productOf, customer);
  };

  const port: BillingPort = {
    vendor: 'chargebee',
    capabilities: { pinnedProrationDate: false, prorationCredits: false, consistentBulkReads: true },

    async getCustomersByCustomerId(customerIds) {
      const byId = new Map<string, BillingCustomer>();
      // Oldest first, so that if a duplicate ever slipped in, the original wins everywhere.
      for (const customer of (await customersByLink(customerIds)).sort((a, b) => a.created_at - b.created_at)) {
        const link = linkOf(customer);
        links.set(customer.id, link);
        if (link && !byId.has(link)) byId.set(link, toBillingCustomer(customer));
      }
      for (const [link, customer] of byId) if (!billingIdOf.has(link)) billingIdOf.set(link, customer.id);
      return byId;
    },

    async getContractsByCustomerId(customerIds) {
      const byCustomer = new Map<string, BillingContract[]>(customerIds.map((id) => [id, []]));
      // The Chargebee customers of ids seen before are known (a link never changes): only the others are read.
      const unknown = customerIds.filter((id) => !billingIdOf.has(id));
      if (unknown.length > 0) await port.getCustomersByCustomerId(unknown);
      const billingIds = [...new Set(customerIds.map((id) => billingIdOf.get(id)).filter((id): id is string => Boolean(id)))];
      const found = (await Promise.all(chunk(billingIds, PAGE).map((group) => subscriptionsWhere({ customer_id: { in: group } })))).flat();
      await catalogFor(found.map((f) => f.item));
      for (const { item, customer } of found.sort((a, b) => (b.item.created_at ?? 0) - (a.item.created_at ?? 0))) {
        const contract = toContract(item, productOf, customer);
        byCustomer.get(contract.customerId)?.push(contract);
      }
      return byCustomer;
    },

    async getInvoicesByBillingCustomer(customers, filter) {
      const canonical = new Map(customers.map((c) => [c.id, c.customerId]));
      const byCustomer = new Map<string, BillingInvoice[]>(customers.map((c) => [c.customerId, []]));
      const invoices = (await Promise.all(chunk([...canonical.keys()], PAGE).map((group) => invoicesWhere({ customer_id: { in: group } })))).flat();
      for (const invoice of byDateDesc(invoices)) {
        const customerId = canonical.get(invoice.customer_id);
        if (customerId === undefined) continue;
        const mapped = toInvoice(invoice, customerId);
        if (filter?.status && mapped.status !== filter.status) continue;
        byCustomer.get(customerId)?.push(mapped);
      }
      return byCustomer;
    },

    async getContracts(ids) {
      const found = (await Promise.all(chunk([...new Set(ids)], PAGE).map((group) => subscriptionsWhere({ id: { in: group } })))).flat();
      await catalogFor(found.map((f) => f.item));
      return new Map(found.map(({ item, customer }) => [item.id, toContract(item, productOf, customer)]));
    },

    async getInvoices(ids) {
      const found = (await Promise.all(chunk([...new Set(ids)], PAGE).map((group) => invoicesWhere({ id: { in: group } })))).flat();
      return new Map((await invoiceOf(found)).map((invoice) => [invoice.id, invoice]));
    },

    async listInvoicesForContract(contractId) {
      return invoiceOf(byDateDesc(await invoicesWhere({ subscription_id: { is: contractId } })));
    },

    async findContractForOpportunity(billingCustomerId, opportunityId) {
      const found = await subscriptionsWhere({ customer_id: { is: billingCustomerId } });
      const match = found.filter((f) => metaOf(f.item)[META.opportunityId] === opportunityId).sort((a, b) => (b.item.created_at ?? 0) - (a.item.created_at ?? 0))[0];
      if (!match) return null;
      await catalogFor([match.item]);
      return toContract(match.item, productOf, match.customer);
    },

    async upsertCustomer(input, { idempotencyKey, correlationId }) {
      // The link is a filterable custom field and Chargebee's lists are consistent: one read finds
      // a customer made a moment ago. The create carries the caller's key, so a retried create is
      // replayed by Chargebee rather than making a second customer.
      const current = (await customersByLink([input.customerId])).sort((a, b) => a.created_at - b.created_at)[0];
      if (!current) {
        const created = await call('customers.create', true, () =>
          cb.customer.create(
            {
              company: input.name,
              ...(input.email ? { email: input.email } : {}),
              [LINK_FIELD]: input.customerId,
              meta_data: { [META.correlationId]: correlationId },
              auto_collection: 'off',
              net_term_days: netTermDays,
              preferred_currency_code: 'USD',
            },
            headersOf(idempotencyKey),
          ),
        );
        links.set(created.customer.id, input.customerId);
        return toBillingCustomer(created.customer);
      }
      const email = input.email ?? current.email;
      if (current.company === input.name && (current.email ?? null) === (email ?? null)) return toBillingCustomer(current);
      const updated = await call('customers.update', true, () =>
        cb.customer.update(current.id, { company: input.name, ...(email ? { email } : {}) }, headersOf(`${idempotencyKey}:update`)),
      );
      return toBillingCustomer(updated.customer);
    },

    async createContract(input, { idempotencyKey, correlationId }) {
      const byCode = await pricesByCode(input.items);
      const meta: Record<string, string> = { [META.customerId]: input.customerId, [META.correlationId]: correlationId };
      if (input.opportunityId) meta[META.opportunityId] = input.opportunityId;
      // The plan's item price first (Chargebee wants exactly one plan), then the add-ons.
      const items = [...input.items].sort((a, b) => Number(byCode.get(b.productCode)!.item_type === 'plan') - Number(byCode.get(a.productCode)!.item_type === 'plan'));
      const result = await call('subscriptions.create_with_items', true, () =>
        cb.subscription.createWithItems(
          input.billingCustomerId,
          {
            subscription_items: items.map((item) => ({ item_price_id: byCode.get(item.productCode)!.id, quantity: item.quantity })),
            meta_data: meta,
            // Invoiced by transfer; the first invoice stays pending (a draft) until the saga closes it.
            auto_collection: 'off',
            net_term_days: netTermDays,
            create_pending_invoices: true,
            first_invoice_pending: true,
            auto_close_invoices: false,
          },
          headersOf(idempotencyKey),
        ),
      );
      return contractOf(result.subscription, result.customer);
    },

    async finalizeInvoice(invoiceId, { idempotencyKey }) {
      try {
        const closed = await call('invoices.close', true, () => cb.invoice.close(invoiceId, {}, headersOf(idempotencyKey)));
        return (await invoiceOf([closed.invoice]))[0];
      } catch (error) {
        // Closed already (by an earlier attempt or by Chargebee): done.
        if (!(error instanceof ConcordError && error.code === 'VENDOR_REJECTED')) throw error;
        const invoice = await retrieveInvoice(invoiceId);
        if (invoice.status !== 'pending') return (await invoiceOf([invoice]))[0];
        throw error;
      }
    },

    async voidInvoice(invoiceId, { idempotencyKey, correlationId }) {
      const current = await retrieveInvoice(invoiceId);
      if (current.status === 'voided') return (await invoiceOf([current]))[0];
      // A pending invoice cannot be voided: closing and voiding it keeps the numbered paper trail.
      if (current.status === 'pending') await port.finalizeInvoice(invoiceId, { idempotencyKey: `${idempotencyKey}:close`, correlationId });
      try {
        const voided = await call('invoices.void', true, () => cb.invoice.voidInvoice(invoiceId, {}, headersOf(idempotencyKey)));
        return (await invoiceOf([voided.invoice]))[0];
      } catch (error) {
        if (!(error instanceof ConcordError && error.code === 'VENDOR_REJECTED')) throw error;
        const invoice = await retrieveInvoice(invoiceId);
        if (invoice.status === 'voided') return (await invoiceOf([invoice]))[0];
        throw error;
      }
    },

    async cancelContract(contractId, { idempotencyKey }) {
      try {
        const result = await call('subscriptions.cancel_for_items', true, () =>
          cb.subscription.cancelForItems(contractId, { end_of_term: false, credit_option_for_current_term_charges: 'none', unbilled_charges_option: 'delete' }, headersOf(idempotencyKey)),
        );
        return contractOf(result.subscription, result.customer);
      } catch (error) {
        if (!(error instanceof ConcordError && error.code === 'VENDOR_REJECTED')) throw error;
        const current = await retrieveSubscription(contractId);
        if (current.subscription.status === 'cancelled') return contractOf(current.subscription, current.customer);
        throw error;
      }
    },

    async amendContract(input: ContractAmendment, { idempotencyKey, correlationId }: WriteOptions) {
      const { subscription: current, customer } = await retrieveSubscription(input.contractId);
      if (current.status === 'cancelled') {
        throw new ConcordError('VALIDATION_FAILED', `contract ${input.contractId} has ended; it cannot be amended`, { system: 'BILLING', retryable: false });
      }
      await catalogFor([current]);
      const needed = input.items.map((c) => ({ productCode: c.productCode, quantity: Math.max(1, c.quantity) }));
      const byCode = needed.length > 0 ? await pricesByCode(needed) : new Map<string, ItemPrice>();
      const after = new Map((current.subscription_items ?? []).map((i) => [productOf(i.item_price_id) ?? i.item_price_id, { item_price_id: i.item_price_id, quantity: i.quantity ?? 1, unit: i.unit_price ?? 0 }]));
      const before = new Map([...after].map(([code, i]) => [code, i.unit * i.quantity]));
      for (const change of input.items) {
        if (change.replacesProductCode) {
          if (!after.has(change.replacesProductCode)) {
            throw new ConcordError('VALIDATION_FAILED', `contract ${input.contractId} has no ${change.replacesProductCode} item to replace`, { system: 'BILLING', retryable: false });
          }
          after.delete(change.replacesProductCode);
        }
        if (change.quantity === 0) after.delete(change.productCode);
        else {
          const price = byCode.get(change.productCode)!;
          after.set(change.productCode, { item_price_id: price.id, quantity: change.quantity, unit: price.price ?? 0 });
        }
      }
      if (input.proration === 'invoice') {
        // Chargebee credits a prorated decrease on a credit note (capabilities.prorationCredits).
        const total = (items: Iterable<number>) => [...items].reduce((a, b) => a + b, 0);
        const lowered = total(before.values()) > total([...after.values()].map((i) => i.unit * i.quantity)) ||
          [...before].some(([code, amount]) => amount > (after.get(code) ? after.get(code)!.unit * after.get(code)!.quantity : 0) && !input.items.some((c) => c.replacesProductCode === code));
        if (lowered) {
          throw new ConcordError('VALIDATION_FAILED', 'Chargebee credits a prorated decrease on a credit note, which amendments do not post; nothing was changed', { system: 'BILLING', retryable: false });
        }
      }
      let subscription = current;
      if (input.items.length > 0) {
        const planFirst = [...after.values()].sort((a, b) => Number(known.get(b.item_price_id)?.item_type === 'plan') - Number(known.get(a.item_price_id)?.item_type === 'plan'));
        const result = await call('subscriptions.update_for_items', true, () =>
          cb.subscription.updateForItems(
            input.contractId,
            {
              subscription_items: planFirst.map((i) => ({ item_price_id: i.item_price_id, quantity: i.quantity })),
              replace_items_list: true,
              prorate: input.proration === 'invoice',
              invoice_immediately: input.proration === 'invoice',
              ...(input.proration === 'invoice' ? { po_number: amendmentPoNumber(input.amendmentId) } : {}),
              // meta_data is replaced as a whole on update: the links are kept.
              meta_data: { ...metaOf(current), [META.amendmentId]: input.amendmentId, [META.correlationId]: correlationId },
            },
            headersOf(idempotencyKey),
          ),
        );
        subscription = result.subscription;
      }
      if (input.endDate !== undefined) {
        if (input.endDate === null) {
          if (subscription.status === 'non_renewing') {
            subscription = (await call('subscriptions.remove_scheduled_cancellation', true, () => cb.subscription.removeScheduledCancellation(input.contractId, {}, headersOf(`${idempotencyKey}:end`)))).subscription;
          }
        } else {
          const cancelAt = Math.floor(Date.parse(input.endDate) / 1000);
          if (subscription.cancelled_at !== cancelAt) {
            subscription = (await call('subscriptions.cancel_for_items', true, () => cb.subscription.cancelForItems(input.contractId, { cancel_at: cancelAt }, headersOf(`${idempotencyKey}:end`)))).subscription;
          }
        }
      }
      const contract = await contractOf(subscription, customer);
      if (input.proration !== 'invoice' || input.items.length === 0) return { contract, invoice: null };
      const invoice = await port.findAmendmentInvoice(input.contractId, input.amendmentId);
      return { contract, invoice };
    },

    async findAmendmentInvoice(contractId, amendmentId) {
      const po = amendmentPoNumber(amendmentId);
      const match = (await invoicesWhere({ subscription_id: { is: contractId } })).find((invoice) => invoice.po_number === po);
      return match ? (await invoiceOf([match]))[0] : null;
    },

    async withdrawInvoice(invoiceId, options) {
      const current = await retrieveInvoice(invoiceId);
      switch (current.status) {
        case 'voided':
          return (await invoiceOf([current]))[0];
        case 'paid':
          if ((current.total ?? 0) <= 0) return (await invoiceOf([current]))[0];
          throw new ConcordError('VALIDATION_FAILED', `invoice ${invoiceId} is paid; it needs a credit note, not a withdrawal`, { system: 'BILLING', retryable: false });
        case 'pending':
          if ((current.total ?? 0) <= 0) return port.finalizeInvoice(invoiceId, { ...options, idempotencyKey: `${options.idempotencyKey}:close` });
          return port.voidInvoice(invoiceId, options);
        default:
          return port.voidInvoice(invoiceId, options);
      }
    },

    async listCustomers({ first, after }): Promise<Page<BillingCustomer>> {
      const result = (await call('customers.list', false, () => cb.customer.list({ limit: checkPage(first), ...(after ? { offset: after } : {}) }))) as unknown as ListResult<'customer', Customer>;
      return { items: result.list.map((e) => toBillingCustomer(e.customer)), hasNextPage: Boolean(result.next_offset), endCursor: result.next_offset ?? null };
    },

    async listContracts({ first, after }): Promise<Page<BillingContract>> {
      const result = (await call('subscriptions.list', false, () => cb.subscription.list({ limit: checkPage(first), ...(after ? { offset: after } : {}) }))) as unknown as ListResult<'subscription', Subscription>;
      await catalogFor(result.list.map((e) => e.subscription));
      return { items: result.list.map((e) => toContract(e.subscription, productOf, e.customer)), hasNextPage: Boolean(result.next_offset), endCursor: result.next_offset ?? null };
    },

    async listInvoices({ first, after }): Promise<Page<BillingInvoice>> {
      const result = (await call('invoices.list', false, () => cb.invoice.list({ limit: checkPage(first), ...(after ? { offset: after } : {}) }))) as unknown as ListResult<'invoice', Invoice>;
      return { items: await invoiceOf(result.list.map((e) => e.invoice)), hasNextPage: Boolean(result.next_offset), endCursor: result.next_offset ?? null };
    },

    async findCustomerCandidates({ nameTokens, emailDomain }, limit = 100) {
      // Chargebee filters offer `starts_with`, not a substring match: one list per name token
      // (company starting with it), and, for the e-mail domain, customers whose company starts with
      // the domain's first label. Coarse, as the port asks; the caller decides.
      const tokens = [...new Set(nameTokens.filter((t) => t.length >= 3).slice(0, 8))];
      const label = emailDomain && emailDomain.length >= 3 ? emailDomain.split('.')[0] : null;
      const prefixes = [...new Set([...tokens, ...(label && label.length >= 3 ? [label] : [])])];
      if (prefixes.length === 0) return [];
      const size = Math.max(1, Math.min(limit, PAGE));
      const pages = await Promise.all(
        prefixes.map((prefix) => call('customers.list', false, () => cb.customer.list({ limit: size, company: { starts_with: prefix } })) as unknown as Promise<ListResult<'customer', Customer>>),
      );
      const seen = new Set<string>();
      const found: BillingCustomer[] = [];
      for (const entry of pages.flatMap((p) => p.list)) {
        if (seen.has(entry.customer.id)) continue;
        seen.add(entry.customer.id);
        found.push(toBillingCustomer(entry.customer));
      }
      return found.slice(0, Math.max(1, limit));
    },

    async ping() {
      await call('item_prices.list', false, () => cb.itemPrice.list({ limit: 1 }));
    },
  };
  return port;
}
