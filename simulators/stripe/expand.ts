/**
 * `expand[]`: replace an id in a response with the object it names (`customer`, `latest_invoice`,
 * `data.customer` on lists and search results, `parent.subscription_details.subscription`). As on
 * Stripe, at most four levels deep, and a path that does not end at an expandable id is refused.
 * Works on a copy: stored objects keep their ids.
 */
import { StripeApiError } from './errors';
import { snapshot, type Store } from './store';

function lookup(store: Store, id: string): unknown {
  const prefix = id.slice(0, id.indexOf('_'));
  const map: Map<string, unknown> | undefined = {
    cus: store.customers,
    sub: store.subscriptions,
    in: store.invoices,
    price: store.prices,
    prod: store.products,
    txr: store.taxRates,
  }[prefix];
  return map?.get(id);
}

function expandPath(store: Store, target: unknown, segments: string[], path: string): void {
  if (target === null || typeof target !== 'object') return;
  const [head, ...rest] = segments;
  const container = target as Record<string, unknown>;
  if (Array.isArray(target)) {
    for (const item of target) expandPath(store, item, segments, path);
    return;
  }
  if (!(head in container)) throw StripeApiError.invalid(`This property cannot be expanded (${path}).`, 'expand');
  if (rest.length > 0) {
    expandPath(store, container[head], rest, path);
    return;
  }
  const value = container[head];
  if (value === null) return;
  if (typeof value === 'string') {
    const found = lookup(store, value);
    if (!found) throw StripeApiError.invalid(`This property cannot be expanded (${path}).`, 'expand');
    container[head] = snapshot(found);
    return;
  }
  if (typeof value === 'object' && !Array.isArray(value)) return; // already an object
  throw StripeApiError.invalid(`This property cannot be expanded (${path}).`, 'expand');
}

/** A copy of `body` with the `expand` paths applied (the body itself when there are none). */
export function applyExpand<T>(store: Store, body: T, paths: readonly string[] | undefined): T {
  if (!paths || paths.length === 0) return body;
  const copy = snapshot(body);
  for (const path of paths) {
    const segments = path.split('.');
    const depth = segments[0] === 'data' ? segments.length - 1 : segments.length;
    if (depth > 4) throw StripeApiError.invalid(`You cannot expand more than 4 levels of a property (${path}).`, 'expand');
    if (path === 'total_count') continue; // search results: handled by the search endpoint
    expandPath(store, copy, segments, path);
  }
  return copy;
}
