/**
 * The simulator's state: every Stripe object it holds, in wire shape, plus the event log that every
 * state change appends to (seeding.ts fills it from the shared seed).
 */
import type Stripe from 'stripe';
import {
  API_VERSION,
  newId,
  type CustomerObject,
  type InvoiceItemObject,
  type InvoiceObject,
  type PriceObject,
  type ProductObject,
  type SubscriptionObject,
  type TaxRateObject,
  type Wire,
} from './objects';

/** An event as served: `data.object` is a snapshot of the object when the event happened. */
export type EventObject = Omit<Wire<Stripe.EventBase>, 'type' | 'data'> & {
  type: string;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
};

export interface Store {
  customers: Map<string, CustomerObject>;
  products: Map<string, ProductObject>;
  prices: Map<string, PriceObject>;
  taxRates: Map<string, TaxRateObject>;
  subscriptions: Map<string, SubscriptionObject>;
  invoices: Map<string, InvoiceObject>;
  invoiceItems: Map<string, InvoiceItemObject>;
  events: EventObject[];
  /** Days until due of send_invoice invoices (not part of the invoice's wire shape in this version). */
  daysUntilDue: Map<string, number>;
  /** Creation order, so that objects created in the same second still list newest first. */
  order: Map<string, number>;
  /** Account-level invoice numbering (`CNCD-00042`), continuing after the seed. */
  lastInvoiceNumber: number;
  /** Told of every event recorded after seeding (webhook delivery, webhooks.ts). */
  onEvent?: (event: EventObject) => void;
  /** What search sees (search lag); absent while seeding, so seeded objects are searchable at once. */
  searchIndex?: SearchIndex;
}

/**
 * Stripe's search is eventually consistent: "data is typically searchable within a minute" and
 * search is not for read-after-write flows (https://docs.stripe.com/search#data-freshness). Every
 * change event carries a snapshot of the object; search matches against the newest snapshot older
 * than `lagMs`, so an object created within the lag is not found and a changed one is found by
 * its old fields. Lists and retrieves read the store itself and stay consistent.
 */
export interface SearchIndex {
  lagMs: number;
  /** Snapshots per object id, oldest first (wall-clock ms). */
  versions: Map<string, { at: number; object: unknown }[]>;
}

const MAX_VERSIONS = 20;

function indexVersion(index: SearchIndex, type: string, object: { id: string }, snapshotted: unknown, before?: object): void {
  let versions = index.versions.get(object.id);
  if (!versions) {
    // An object from before indexing began (the seed) was searchable all along: as it was before
    // this change (`before`, for *.updated events), or as it is when no earlier state is known.
    versions = type.endsWith('.created') ? [] : [{ at: 0, object: before ? { ...(snapshotted as object), ...before } : snapshotted }];
  }
  versions.push({ at: Date.now(), object: snapshotted });
  if (versions.length > MAX_VERSIONS) versions.splice(0, versions.length - MAX_VERSIONS);
  index.versions.set(object.id, versions);
}

/**
 * The object as search sees it now: itself when the index has no version of it (seeded, or no lag),
 * the newest version older than the lag, or undefined when it is too new to be found.
 */
export function searchableVersion<T extends { id: string }>(store: Store, object: T): T | undefined {
  const index = store.searchIndex;
  if (!index || index.lagMs <= 0) return object;
  const versions = index.versions.get(object.id);
  if (!versions) return object;
  const cutoff = Date.now() - index.lagMs;
  for (let i = versions.length - 1; i >= 0; i--) if (versions[i].at <= cutoff) return versions[i].object as T;
  return undefined;
}

/** Who caused a change, for `event.request`. */
export interface Cause {
  requestId: string | null;
  idempotencyKey: string | null;
}

let orderCounter = 0;
export function track(store: Store, id: string): void {
  store.order.set(id, ++orderCounter);
}

/** Newest first by `created`, ties by creation order, as Stripe lists. */
export function newestFirst<T extends { id: string; created: number }>(store: Store, items: Iterable<T>): T[] {
  return [...items].sort((a, b) => b.created - a.created || (store.order.get(b.id) ?? 0) - (store.order.get(a.id) ?? 0));
}

export const snapshot = <T>(value: T): T => structuredClone(value);

/** Append an event; for `*.updated` events pass the object as it was before, for previous_attributes. */
export function emit(store: Store, type: string, object: { id: string }, cause: Cause, now: number, before?: object): void {
  const current = snapshot(object) as Record<string, unknown>;
  let previous: Record<string, unknown> | undefined;
  if (before) {
    previous = {};
    for (const [key, value] of Object.entries(before)) {
      if (JSON.stringify(value) !== JSON.stringify(current[key])) previous[key] = value;
    }
    if (Object.keys(previous).length === 0) return; // nothing changed, nothing to tell
  }
  const event: EventObject = {
    id: newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: now,
    data: previous ? { object: current, previous_attributes: previous } : { object: current },
    livemode: false,
    pending_webhooks: 0,
    request: { id: cause.requestId, idempotency_key: cause.idempotencyKey },
    type,
  };
  store.events.push(event);
  track(store, event.id);
  if (store.searchIndex) indexVersion(store.searchIndex, type, object, current, before);
  store.onEvent?.(event);
}

export function emptyStore(): Store {
  return {
    customers: new Map(),
    products: new Map(),
    prices: new Map(),
    taxRates: new Map(),
    subscriptions: new Map(),
    invoices: new Map(),
    invoiceItems: new Map(),
    events: [],
    daysUntilDue: new Map(),
    order: new Map(),
    lastInvoiceNumber: 0,
  };
}
