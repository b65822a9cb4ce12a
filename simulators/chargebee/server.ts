/**
 * Chargebee API v2 simulator (Product Catalog 2.0): the endpoints Concord calls, wire-faithful so
 * that the official chargebee-node SDK works against it unchanged (site = the simulator's host,
 * hostSuffix '', protocol http, port). Shared shell (sim-server.ts): /__sim/stats, reset, faults,
 * state; plus /__sim/webhooks (where to deliver events), /__sim/limits (the per-minute request
 * limit of the site's plan) and /__sim/invoices/:id/payment_failed (a gateway decline).
 *
 * What it is faithful to (chargebee-node 3.x types and Chargebee's API reference):
 * - HTTP Basic auth with the API key as user name and an empty password; 401
 *   `api_authentication_failed` otherwise.
 * - Form-encoded bodies (`subscription_items[item_price_id][0]=...`, `meta_data` as JSON, `cf_*`
 *   custom fields), list filters as `field[op]=value` (`[in]` takes a JSON array), `limit` up to 100
 *   and an opaque `next_offset`; lists newest first.
 * - Errors as `{ message, type, api_error_code, param, error_code, error_msg, http_status_code }`;
 *   429 `api_request_limit_exceeded` when the plan's requests per minute are used up (Chargebee:
 *   "Requests per minute - Number of requests in the past 60 seconds", test sites 150/min).
 * - `chargebee-idempotency-key` on POSTs: the first answer is stored and replayed with
 *   `chargebee-idempotency-replayed: true`; the same key with another request is refused.
 * - Pending invoices (`create_pending_invoices`, `first_invoice_pending`): closed by
 *   POST /invoices/{id}/close; void only for closed invoices that are not paid.
 * - Webhooks: the event object (`id`, `occurred_at`, `event_type`, `content`, `api_version`) POSTed
 *   as JSON with the endpoint's Basic-auth credentials, retried on failure.
 */
import type { Seed } from '../common/seed';
import { createSimServer, type SimRequest, type SimResponse, type SimRoute } from '../common/sim-server';
import {
  createChargebeeStore,
  type CbCustomer,
  type CbEvent,
  type CbInvoice,
  type CbLineItem,
  type CbSubscription,
  type CbSubscriptionItem,
  type ChargebeeStore,
  type Json,
} from './store';

export interface ChargebeeSimulatorOptions {
  seed: Seed;
  /** Requests per minute the site allows (its plan's limit); null: unlimited. Default null. */
  requestsPerMinute?: number | null;
}

type NewLine = { description: string; quantity: number; unit_amount: number; amount: number; entity_type: string; entity_id?: string } & Json;

class CbError extends Error {
  constructor(readonly status: number, readonly apiErrorCode: string, message: string, readonly type: string | undefined = 'invalid_request', readonly param?: string) {
    super(message);
  }
  response(): SimResponse {
    return errorResponse(this.status, this.apiErrorCode, this.message, this.type, this.param);
  }
}

function errorResponse(status: number, apiErrorCode: string, message: string, type?: string, param?: string): SimResponse {
  return {
    status,
    body: { message, ...(type ? { type } : {}), api_error_code: apiErrorCode, ...(param ? { param } : {}), error_code: apiErrorCode, error_msg: message, http_status_code: status },
  };
}

const notFound = (what: string, id: string) => new CbError(404, 'resource_not_found', `${what} not found for id [${id}]`, 'invalid_request');
const badParam = (param: string, message: string) => new CbError(400, 'param_wrong_value', `${param} : ${message}`, 'invalid_request', param);
const badState = (message: string) => new CbError(400, 'invalid_state_for_request', message, 'invalid_request');

/** A form body as a flat map. */
function form(body: string): Map<string, string> {
  return new Map(new URLSearchParams(body).entries());
}

/** `name[field][i]` entries as an array of objects. */
function indexed(params: Map<string, string>, name: string): Record<string, string>[] {
  const rows: Record<string, string>[] = [];
  const pattern = new RegExp(`^${name}\\[([a-z_]+)\\]\\[(\\d+)\\]$`);
  for (const [key, value] of params) {
    const m = pattern.exec(key);
    if (!m) continue;
    const i = Number(m[2]);
    (rows[i] ??= {})[m[1]] = value;
  }
  return rows.filter(Boolean);
}

/** An active subscription renews monthly: its current term is the one holding `now`. */
export function rollTerm(subscription: CbSubscription, now: number): void {
  if (subscription.status !== 'active' && subscription.status !== 'non_renewing') return;
  let start = subscription.current_term_start ?? now;
  let end = subscription.current_term_end ?? start + 30 * 86_400;
  while (end <= now) {
    const d = new Date(end * 1000);
    start = end;
    end = Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000);
  }
  subscription.current_term_start = start;
  subscription.current_term_end = end;
  subscription.next_billing_at = end;
}

const bool = (value: string | undefined, fallback: boolean) => (value === undefined ? fallback : value === 'true');

function int(params: Map<string, string>, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw badParam(name, 'invalid integer value');
  return value;
}

function metaData(params: Map<string, string>, current?: Record<string, string>): Record<string, string> | undefined {
  const raw = params.get('meta_data');
  if (raw === undefined) return current;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  } catch {
    throw badParam('meta_data', 'invalid JSON');
  }
}

/** The list filter `field[op]=value` of one query, applied to a record. */
function filterOf(query: URLSearchParams, allowed: readonly string[]): (record: Json) => boolean {
  const checks: ((record: Json) => boolean)[] = [];
  for (const [key, raw] of query) {
    const m = /^([a-z_0-9]+)\[([a-z_]+)\]$/.exec(key);
    if (!m || key.startsWith('sort_by')) continue;
    const [, field, op] = m;
    if (!allowed.includes(field) && !field.startsWith('cf_')) throw badParam(field, 'filter not supported');
    let values: string[] = [raw];
    if (op === 'in' || op === 'not_in' || op === 'between') {
      try {
        const parsed = JSON.parse(raw) as unknown;
        values = Array.isArray(parsed) ? parsed.map(String) : [String(parsed)];
      } catch {
        values = raw.replace(/^\[|\]$/g, '').split(',').map((v) => v.trim());
      }
      if (op !== 'between' && values.length > 200) throw badParam(`${field}[${op}]`, 'cannot have more than 200 values');
    }
    const read = (record: Json) => (record[field] === undefined || record[field] === null ? undefined : String(record[field]));
    switch (op) {
      case 'is': checks.push((r) => read(r) === values[0]); break;
      case 'is_not': checks.push((r) => read(r) !== values[0]); break;
      case 'in': checks.push((r) => values.includes(read(r) ?? '\u0000')); break;
      case 'not_in': checks.push((r) => !values.includes(read(r) ?? '\u0000')); break;
      case 'starts_with': checks.push((r) => (read(r) ?? '').toLowerCase().startsWith(values[0].toLowerCase())); break;
      case 'after': checks.push((r) => Number(read(r)) > Number(values[0])); break;
      case 'before': checks.push((r) => Number(read(r)) < Number(values[0])); break;
      case 'on': checks.push((r) => read(r) === values[0]); break;
      case 'between': checks.push((r) => Number(read(r)) >= Number(values[0]) && Number(read(r)) <= Number(values[1])); break;
      case 'is_present': checks.push((r) => (read(r) !== undefined) === (values[0] === 'true')); break;
      default: throw badParam(field, `unknown operator ${op}`);
    }
  }
  return (record) => checks.every((check) => check(record));
}

/** One page of a list: newest first, `limit` (1..100, default 10), opaque `next_offset`. */
function page<T extends Json>(query: URLSearchParams, records: T[], sortField: string, wrap: (record: T) => Json): SimResponse {
  const limit = query.get('limit') === null ? 10 : Number(query.get('limit'));
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badParam('limit', 'must be between 1 and 100');
  const ascending = query.get('sort_by[asc]') !== null;
  const ordered = records
    .map((record, index) => ({ record, index }))
    .sort((a, b) => (Number(a.record[sortField] ?? 0) - Number(b.record[sortField] ?? 0) || a.index - b.index) * (ascending ? 1 : -1))
    .map((entry) => entry.record);
  const offsetRaw = query.get('offset');
  let start = 0;
  if (offsetRaw) {
    try {
      start = Number(JSON.parse(Buffer.from(offsetRaw, 'base64url').toString('utf8'))[0]);
    } catch {
      throw badParam('offset', 'invalid offset');
    }
  }
  const slice = ordered.slice(start, start + limit);
  const more = start + limit < ordered.length;
  return {
    status: 200,
    body: { list: slice.map(wrap), ...(more ? { next_offset: Buffer.from(JSON.stringify([String(start + limit)])).toString('base64url') } : {}) },
  };
}

export function createChargebeeSimulator(options: ChargebeeSimulatorOptions) {
  const store = createChargebeeStore(options.seed);
  for (const subscription of store.subscriptions.values()) rollTerm(subscription, store.now());
  let requestsPerMinute = options.requestsPerMinute ?? null;
  const recent: number[] = [];
  const idempotency = new Map<string, { fingerprint: string; response: SimResponse }>();
  const webhooks = createWebhookDelivery(store);

  const touch = (record: { updated_at: number; resource_version: number }) => {
    record.updated_at = store.now();
    record.resource_version = Date.now();
  };
  const customer = (id: string) => {
    const found = store.customers.get(id);
    if (!found || found.deleted) throw notFound('customer', id);
    return found;
  };
  const subscription = (id: string) => {
    const found = store.subscriptions.get(id);
    if (!found || found.deleted) throw notFound('subscription', id);
    return found;
  };
  const invoice = (id: string) => {
    const found = store.invoices.get(id);
    if (!found || found.deleted) throw notFound('invoice', id);
    return found;
  };
  const itemPrice = (id: string, param: string) => {
    const found = store.itemPrices.get(id);
    if (!found || found.status !== 'active') throw badParam(param, `item_price ${id} not found or not active`);
    return found;
  };

  function customerFields(params: Map<string, string>, target: CbCustomer) {
    for (const field of ['first_name', 'last_name', 'email', 'company', 'phone', 'preferred_currency_code', 'auto_collection', 'taxability', 'locale']) {
      const value = params.get(field);
      if (value !== undefined) target[field] = value;
    }
    const netTerm = int(params, 'net_term_days');
    if (netTerm !== undefined) target.net_term_days = netTerm;
    for (const [key, value] of params) if (key.startsWith('cf_')) target[key] = value;
    const meta = metaData(params, target.meta_data as Record<string, string> | undefined);
    if (meta) target.meta_data = meta;
    if (typeof target.email === 'string' && target.email !== '' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(target.email)) throw badParam('email', 'invalid email');
  }

  /** An invoice of `lines` (already priced) for a subscription, with the site's tax. */
  function newInvoice(sub: CbSubscription, lines: NewLine[], pending: boolean, first: boolean, extra: Json = {}): CbInvoice {
    const now = store.now();
    const items: CbLineItem[] = lines.map((line) => ({
      ...line, id: store.newId('li_'), tax_amount: Math.round((line.amount * store.taxPercent) / 100), tax_rate: store.taxPercent, is_taxed: true,
      pricing_model: 'per_unit', subscription_id: sub.id, customer_id: sub.customer_id, object: 'line_item',
    }));
    const subTotal = items.reduce((sum, l) => sum + l.amount, 0);
    const tax = items.reduce((sum, l) => sum + l.tax_amount, 0);
    const id = store.nextInvoiceId();
    const created: CbInvoice = {
      id, customer_id: sub.customer_id, subscription_id: sub.id, recurring: true, status: 'pending', price_type: 'tax_exclusive', currency_code: 'USD',
      sub_total: subTotal, tax, total: subTotal + tax, amount_due: subTotal + tax, amount_paid: 0, amount_adjusted: 0, credits_applied: 0, write_off_amount: 0,
      net_term_days: 30, line_items: items, taxes: [{ object: 'tax', name: 'Sales tax', amount: tax }], term_finalized: true, is_gifted: false,
      first_invoice: first, has_advance_charges: false, date: now, ...extra, created_at: now, updated_at: now, resource_version: Date.now(), deleted: false, object: 'invoice',
    };
    store.invoices.set(id, created);
    if (pending) {
      store.emit('pending_invoice_created', { invoice: created });
    } else {
      closeInvoice(created, false);
    }
    return created;
  }

  function closeInvoice(target: CbInvoice, emit = true) {
    const now = store.now();
    target.date = now;
    target.generated_at = now;
    target.due_date = now + Number(target.net_term_days ?? 30) * 86_400;
    target.status = target.total <= 0 ? 'paid' : 'payment_due';
    if (target.status === 'paid') target.paid_at = now;
    touch(target);
    void emit;
    store.emit('invoice_generated', { invoice: target, customer: store.customers.get(target.customer_id) ?? null, subscription: target.subscription_id ? store.subscriptions.get(target.subscription_id) ?? null : null });
  }

  function priced(rows: Record<string, string>[], param: string): CbSubscriptionItem[] {
    return rows.map((row, i) => {
      const price = itemPrice(row.item_price_id ?? '', `${param}[item_price_id][${i}]`);
      const quantity = row.quantity === undefined ? 1 : Number(row.quantity);
      if (!Number.isInteger(quantity) || quantity < 1) throw badParam(`${param}[quantity][${i}]`, 'must be a positive integer');
      return { item_price_id: price.id, item_type: (price.item_type as 'plan' | 'addon') ?? 'addon', quantity, unit_price: price.price, amount: price.price * quantity, object: 'subscription_item' };
    });
  }

  const linesOf = (items: CbSubscriptionItem[], from: number, to: number, fraction = 1): NewLine[] =>
    items.map((item) => {
      const name = String(store.itemPrices.get(item.item_price_id)?.external_name ?? item.item_price_id);
      return {
        description: fraction === 1 ? name : `${name} - Prorated`, quantity: item.quantity, unit_amount: item.unit_price, amount: Math.round(item.amount * fraction),
        entity_type: item.item_type === 'plan' ? 'plan_item_price' : 'addon_item_price', entity_id: item.item_price_id, date_from: from, date_to: to,
      };
    });

  const json = (body: Json, status = 200): SimResponse => ({ status, body });
  const wrapSub = (s: CbSubscription): Json => ({ subscription: s, customer: store.customers.get(s.customer_id) ?? null });

  const handlers: SimRoute[] = [
    {
      method: 'GET', pattern: '/api/v2/item_prices',
      handler: (req) => page(req.query, [...store.itemPrices.values()].filter(filterOf(req.query, ['id', 'item_id', 'status', 'name', 'item_type', 'currency_code'])), 'created_at', (p) => ({ item_price: p })),
    },
    {
      method: 'GET', pattern: '/api/v2/item_prices/:id',
      handler: (req) => {
        const found = store.itemPrices.get(req.params.id);
        if (!found) throw notFound('item_price', req.params.id);
        return json({ item_price: found });
      },
    },
    {
      method: 'GET', pattern: '/api/v2/customers',
      handler: (req) => page(req.query, [...store.customers.values()].filter((c) => !c.deleted).filter(filterOf(req.query, ['id', 'first_name', 'last_name', 'email', 'company', 'phone', 'created_at', 'updated_at', 'auto_collection', 'taxability'])), 'created_at', (c) => ({ customer: c })),
    },
    { method: 'GET', pattern: '/api/v2/customers/:id', handler: (req) => json({ customer: customer(req.params.id) }) },
    {
      method: 'POST', pattern: '/api/v2/customers',
      handler: (req) => {
        const params = form(req.body);
        const id = params.get('id') || store.newId('');
        if (id.length > 50 || !/^[A-Za-z0-9_\-.]+$/.test(id)) throw badParam('id', 'invalid id');
        if (store.customers.has(id)) throw new CbError(400, 'duplicate_entry', `The value ${id} is already present.`, 'invalid_request', 'id');
        const now = store.now();
        const created: CbCustomer = {
          id, auto_collection: 'on', net_term_days: 0, taxability: 'taxable', allow_direct_debit: false, pii_cleared: 'active', channel: 'web', card_status: 'no_card',
          promotional_credits: 0, refundable_credits: 0, excess_payments: 0, unbilled_charges: 0, created_at: now, updated_at: now, resource_version: Date.now(), deleted: false, object: 'customer',
        };
        customerFields(params, created);
        store.customers.set(id, created);
        store.emit('customer_created', { customer: created });
        return json({ customer: created });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/customers/:id',
      handler: (req) => {
        const target = customer(req.params.id);
        customerFields(form(req.body), target);
        touch(target);
        store.emit('customer_changed', { customer: target });
        return json({ customer: target });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/customers/:id/subscription_for_items',
      handler: (req) => {
        const owner = customer(req.params.id);
        const params = form(req.body);
        const rows = indexed(params, 'subscription_items');
        if (rows.length === 0) throw badParam('subscription_items[item_price_id][0]', 'cannot be blank');
        const items = priced(rows, 'subscription_items');
        if (items.filter((i) => i.item_type === 'plan').length !== 1) throw badParam('subscription_items[item_price_id][0]', 'exactly one plan item price is required');
        const id = params.get('id') || store.newId('');
        if (store.subscriptions.has(id)) throw new CbError(400, 'duplicate_entry', `The value ${id} is already present.`, 'invalid_request', 'id');
        const now = store.now();
        const pendingInvoices = bool(params.get('create_pending_invoices'), false);
        const created: CbSubscription = {
          id, customer_id: owner.id, currency_code: 'USD', billing_period: 1, billing_period_unit: 'month', status: 'active', subscription_items: items,
          started_at: now, activated_at: now, current_term_start: now, current_term_end: now + 30 * 86_400, next_billing_at: now + 30 * 86_400,
          meta_data: metaData(params), auto_collection: params.get('auto_collection') ?? String(owner.auto_collection), net_term_days: int(params, 'net_term_days') ?? Number(owner.net_term_days ?? 0),
          create_pending_invoices: pendingInvoices, auto_close_invoices: bool(params.get('auto_close_invoices'), true), has_scheduled_changes: false, due_invoices_count: 0,
          created_at: now, updated_at: now, resource_version: Date.now(), deleted: false, object: 'subscription', channel: 'web', mrr: items.reduce((a, i) => a + i.amount, 0),
        };
        for (const [key, value] of params) if (key.startsWith('cf_')) created[key] = value;
        store.subscriptions.set(id, created);
        const pending = pendingInvoices && bool(params.get('first_invoice_pending'), false);
        const first = newInvoice(created, linesOf(items, now, now + 30 * 86_400), pending, true);
        first.net_term_days = created.net_term_days;
        store.emit('subscription_created', { subscription: created, customer: owner, invoice: first });
        return json({ subscription: created, customer: owner, invoice: first });
      },
    },
    {
      method: 'GET', pattern: '/api/v2/subscriptions',
      handler: (req) => page(req.query, [...store.subscriptions.values()].filter((s) => !s.deleted).filter(filterOf(req.query, ['id', 'customer_id', 'status', 'item_price_id', 'created_at', 'updated_at', 'cancelled_at'])), 'created_at', wrapSub),
    },
    { method: 'GET', pattern: '/api/v2/customers/:id/subscriptions', handler: (req) => page(req.query, [...store.subscriptions.values()].filter((s) => !s.deleted && s.customer_id === customer(req.params.id).id), 'created_at', wrapSub) },
    { method: 'GET', pattern: '/api/v2/subscriptions/:id', handler: (req) => json(wrapSub(subscription(req.params.id))) },
    {
      method: 'POST', pattern: '/api/v2/subscriptions/:id/update_for_items',
      handler: (req) => {
        const target = subscription(req.params.id);
        if (target.status === 'cancelled') throw badState('The subscription is cancelled; it cannot be changed.');
        const params = form(req.body);
        const before = target.subscription_items.map((i) => ({ ...i }));
        const changes = priced(indexed(params, 'subscription_items'), 'subscription_items');
        let after: CbSubscriptionItem[];
        if (bool(params.get('replace_items_list'), false)) {
          after = changes;
        } else {
          after = before.map((i) => ({ ...i }));
          for (const change of changes) {
            const at = after.findIndex((i) => i.item_price_id === change.item_price_id);
            if (at >= 0) after[at] = change;
            else after.push(change);
          }
        }
        if (after.filter((i) => i.item_type === 'plan').length !== 1) throw badParam('subscription_items[item_price_id][0]', 'exactly one plan item price is required');
        target.subscription_items = after;
        target.mrr = after.reduce((a, i) => a + i.amount, 0);
        target.meta_data = metaData(params, target.meta_data);
        touch(target);
        let prorated: CbInvoice | null = null;
        // Prorated for what is left of the current term, invoiced at once when asked. Chargebee
        // credits a decrease on a credit note rather than on a negative invoice; this simulator
        // invoices increases only (Concord's adapter refuses prorated decreases, see its capabilities).
        const now = store.now();
        rollTerm(target, now);
        const termStart = target.current_term_start ?? now;
        const termEnd = target.current_term_end ?? now + 30 * 86_400;
        const fraction = Math.max(0, Math.min(1, (termEnd - now) / Math.max(1, termEnd - termStart)));
        if (bool(params.get('prorate'), true) && bool(params.get('invoice_immediately'), true)) {
          const delta: CbSubscriptionItem[] = [];
          for (const item of after) {
            const old = before.find((i) => i.item_price_id === item.item_price_id);
            const diff = item.amount - (old?.amount ?? 0);
            if (diff > 0) delta.push({ ...item, quantity: item.quantity - (old?.quantity ?? 0) || item.quantity, amount: diff });
          }
          const po = params.get('po_number');
          if (delta.length > 0) prorated = newInvoice(target, linesOf(delta, now, termEnd, fraction), target.create_pending_invoices === true, false, po ? { po_number: po } : {});
        }
        store.emit('subscription_changed', { subscription: target, customer: store.customers.get(target.customer_id) ?? null, ...(prorated ? { invoice: prorated } : {}) });
        return json({ subscription: target, customer: store.customers.get(target.customer_id) ?? null, ...(prorated ? { invoice: prorated } : {}) });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/subscriptions/:id/cancel_for_items',
      handler: (req) => {
        const target = subscription(req.params.id);
        const params = form(req.body);
        if (target.status === 'cancelled') throw badState('The subscription is already cancelled.');
        const cancelAt = int(params, 'cancel_at');
        const now = store.now();
        if (bool(params.get('end_of_term'), false) || (cancelAt !== undefined && cancelAt > now)) {
          target.status = 'non_renewing';
          target.cancelled_at = cancelAt ?? target.current_term_end;
          touch(target);
          store.emit('subscription_cancellation_scheduled', { subscription: target });
        } else {
          target.status = 'cancelled';
          target.cancelled_at = now;
          touch(target);
          store.emit('subscription_cancelled', { subscription: target, customer: store.customers.get(target.customer_id) ?? null });
        }
        return json({ subscription: target, customer: store.customers.get(target.customer_id) ?? null });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/subscriptions/:id/remove_scheduled_cancellation',
      handler: (req) => {
        const target = subscription(req.params.id);
        if (target.status !== 'non_renewing') throw badState('The subscription has no scheduled cancellation.');
        target.status = 'active';
        delete target.cancelled_at;
        touch(target);
        store.emit('subscription_scheduled_cancellation_removed', { subscription: target });
        return json({ subscription: target, customer: store.customers.get(target.customer_id) ?? null });
      },
    },
    {
      method: 'GET', pattern: '/api/v2/invoices',
      handler: (req) => page(req.query, [...store.invoices.values()].filter((i) => !i.deleted).filter(filterOf(req.query, ['id', 'customer_id', 'subscription_id', 'status', 'date', 'updated_at', 'total', 'recurring'])), 'created_at', (i) => ({ invoice: i })),
    },
    { method: 'GET', pattern: '/api/v2/invoices/:id', handler: (req) => json({ invoice: invoice(req.params.id) }) },
    {
      method: 'POST', pattern: '/api/v2/invoices/:id/close',
      handler: (req) => {
        const target = invoice(req.params.id);
        if (target.status !== 'pending') throw badState('Only pending invoices can be closed.');
        closeInvoice(target);
        return json({ invoice: target });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/invoices/:id/void',
      handler: (req) => {
        const target = invoice(req.params.id);
        if (target.status === 'voided') throw badState('The invoice is already voided.');
        if (target.status === 'pending') throw badState('Pending invoices cannot be voided; close or delete it.');
        if (target.status === 'paid' && target.total > 0) throw badState('Paid invoices cannot be voided; issue a credit note.');
        target.status = 'voided';
        target.voided_at = store.now();
        target.amount_due = 0;
        touch(target);
        store.emit('invoice_updated', { invoice: target });
        return json({ invoice: target });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/invoices/:id/delete',
      handler: (req) => {
        const target = invoice(req.params.id);
        if (target.status === 'paid' && target.total > 0) throw badState('Paid invoices cannot be deleted.');
        target.deleted = true;
        touch(target);
        store.emit('invoice_deleted', { invoice: target });
        return json({ invoice: target });
      },
    },
    {
      method: 'POST', pattern: '/api/v2/invoices/:id/record_payment',
      handler: (req) => {
        const target = invoice(req.params.id);
        if (target.status !== 'payment_due' && target.status !== 'not_paid' && target.status !== 'posted') throw badState('Payment can be recorded only for unpaid invoices.');
        const params = form(req.body);
        const amount = int(params, 'transaction[amount]') ?? target.amount_due;
        target.amount_paid += amount;
        target.amount_due = Math.max(0, target.total - target.amount_paid);
        if (target.amount_due === 0) {
          target.status = 'paid';
          target.paid_at = store.now();
        }
        touch(target);
        const transaction = { id: store.newId('txn_'), amount, type: 'payment', status: 'success', payment_method: params.get('transaction[payment_method]') ?? 'bank_transfer', date: store.now(), object: 'transaction' };
        store.emit('payment_succeeded', { transaction, invoice: target, customer: store.customers.get(target.customer_id) ?? null });
        return json({ invoice: target, transaction });
      },
    },
  ];

  const routes: SimRoute[] = handlers.map((route) => ({
    ...route,
    handler: async (req) => {
      const key = req.method === 'POST' ? headerOf(req, 'chargebee-idempotency-key') : undefined;
      const fingerprint = `${req.path}\n${req.body}`;
      if (key) {
        const seen = idempotency.get(key);
        if (seen) {
          if (seen.fingerprint !== fingerprint) return errorResponse(409, 'invalid_request', `The idempotency key ${key} was used with a different request.`, 'invalid_request');
          return { ...seen.response, headers: { ...seen.response.headers, 'chargebee-idempotency-replayed': 'true' } };
        }
      }
      let response: SimResponse;
      try {
        response = await route.handler(req);
      } catch (error) {
        if (!(error instanceof CbError)) throw error;
        response = error.response();
      }
      // Chargebee keeps the answer of a request that reached the API, successful or not.
      if (key && response.status < 500) idempotency.set(key, { fingerprint, response: JSON.parse(JSON.stringify(response)) as SimResponse });
      return response;
    },
  }));

  return createSimServer({
    name: 'chargebee',
    routes,
    // Chargebee's concurrent-request limit of a test site ("Up to 100 simultaneous requests"),
    // answered as its rate limit (429 api_request_limit_exceeded); POST /__sim/reset returns to it.
    defaults: { concurrency: 100 },
    state: () => ({
      item_prices: [...store.itemPrices.values()],
      customers: [...store.customers.values()],
      subscriptions: [...store.subscriptions.values()],
      invoices: [...store.invoices.values()],
      events: [...store.events],
      webhook_deliveries: webhooks.deliveries(),
    }),
    faultResponse: (kind) => {
      if (kind === '429' || kind === 'concurrency') {
        return errorResponse(429, 'api_request_limit_exceeded', 'Sorry, access has been blocked temporarily due to request count exceeding acceptable limits. Please try after some time.', 'invalid_request');
      }
      if (kind === '503') return errorResponse(503, 'internal_temporary_error', 'Sorry, the server is currently unable to handle the request due to a temporary overload or scheduled maintenance. Please retry after sometime.', undefined);
      return errorResponse(500, 'internal_error', 'Sorry, something went wrong when trying to process the request. If this problem persists, contact us at support@chargebee.com.', undefined);
    },
    authenticate: (req) => {
      const auth = headerOf(req, 'authorization') ?? '';
      const m = /^Basic (.+)$/.exec(auth);
      const user = m ? Buffer.from(m[1], 'base64').toString('utf8').split(':')[0] : '';
      if (!/^(test|live)_[A-Za-z0-9_]{8,}$/.test(user)) {
        return errorResponse(401, 'api_authentication_failed', 'Sorry, authentication failed. Invalid api key', 'invalid_request');
      }
      if (requestsPerMinute !== null) {
        const now = Date.now();
        while (recent.length > 0 && recent[0] <= now - 60_000) recent.shift();
        if (recent.length >= requestsPerMinute) {
          return errorResponse(429, 'api_request_limit_exceeded', 'Sorry, access has been blocked temporarily due to request count exceeding acceptable limits. Please try after some time.', 'invalid_request');
        }
        recent.push(now);
      }
      return null;
    },
    notFound: (req) => errorResponse(404, 'resource_not_found', `Sorry, we couldn't find that resource (${req.method} ${req.path})`, 'invalid_request'),
    controlRoutes: [
      {
        method: 'POST', pattern: '/__sim/webhooks',
        handler: (req) => {
          const body = JSON.parse(req.body || '{}') as { url?: string; username?: string; password?: string };
          if (!body.url) return { status: 400, body: { error: 'url is required' } };
          webhooks.add({ url: body.url, username: body.username ?? '', password: body.password ?? '' });
          return { status: 200, body: { ok: true } };
        },
      },
      {
        method: 'POST', pattern: '/__sim/limits',
        handler: (req) => {
          const body = JSON.parse(req.body || '{}') as { requestsPerMinute?: number | null };
          requestsPerMinute = body.requestsPerMinute ?? null;
          recent.length = 0;
          return { status: 200, body: { requestsPerMinute } };
        },
      },
      {
        method: 'POST', pattern: '/__sim/invoices/:id/payment_failed',
        handler: (req) => {
          const target = store.invoices.get(req.params.id);
          if (!target) return { status: 404, body: { error: 'no such invoice' } };
          target.dunning_status = 'in_progress';
          touch(target);
          const transaction = { id: store.newId('txn_'), amount: target.amount_due, type: 'payment', status: 'failure', error_code: 'card_declined', date: store.now(), object: 'transaction' };
          const event = store.emit('payment_failed', { transaction, invoice: target, customer: store.customers.get(target.customer_id) ?? null });
          return { status: 200, body: { event: event.id } };
        },
      },
    ],
  });
}

function headerOf(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

interface WebhookEndpoint {
  url: string;
  username: string;
  password: string;
}

/**
 * Delivers every event to the configured endpoints, in order, as Chargebee does: POST of the event
 * JSON with the endpoint's Basic-auth credentials; a non-2xx answer or no answer is retried with
 * backoff (Chargebee retries for days; here up to 6 attempts within a few seconds).
 */
function createWebhookDelivery(store: ChargebeeStore) {
  const endpoints: WebhookEndpoint[] = [];
  const log: { event: string; url: string; status: number; attempt: number }[] = [];
  let chain: Promise<void> = Promise.resolve();
  const deliver = async (endpoint: WebhookEndpoint, event: CbEvent) => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      let status = 0;
      try {
        const response = await fetch(endpoint.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${endpoint.username}:${endpoint.password}`).toString('base64')}`,
            'user-agent': 'ChargeBee',
          },
          body: JSON.stringify({ ...event, webhook_status: 'scheduled' }),
          signal: AbortSignal.timeout(10_000),
        });
        status = response.status;
        await response.arrayBuffer();
      } catch {
        status = 0;
      }
      log.push({ event: event.id, url: endpoint.url, status, attempt });
      if (log.length > 1000) log.shift();
      if (status >= 200 && status < 300) {
        event.webhook_status = 'succeeded';
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
    event.webhook_status = 'failed';
  };
  store.onEvent = (event) => {
    if (endpoints.length === 0) return;
    const targets = [...endpoints];
    chain = chain.then(async () => {
      for (const endpoint of targets) await deliver(endpoint, event);
    });
  };
  return {
    add(endpoint: WebhookEndpoint) {
      endpoints.push(endpoint);
    },
    deliveries: () => [...log],
  };
}

export type { Json };
