/**
 * The Stripe side of a request, between the simulator shell and the endpoint handlers: decode the
 * form or query string, validate parameters against the endpoint's spec, run the handler under the
 * idempotency store (POST only: Stripe ignores keys on GET and DELETE), apply `expand[]`, and turn
 * StripeApiErrors into Stripe's error envelope. Also the list envelope, cursor pagination and search
 * result paging that every collection endpoint shares.
 */
import type { SimClock } from './clock';
import type { SimRequest, SimResponse, SimRoute } from '../common/sim-server';
import { StripeApiError } from './errors';
import { applyExpand } from './expand';
import { decodeForm, fingerprint } from './form';
import type { IdempotencyStore } from './idempotency';
import { newId } from './objects';
import { listFields, validate, type Fields, type Range, type Valid } from './params';
import { compileQuery, parseQuery, type SearchField } from './search';
import { newestFirst, searchableVersion, type Store } from './store';

/** What a handler gets besides its parameters. */
export interface HandlerContext {
  store: Store;
  /** Path parameters (`:id`). */
  path: Record<string, string>;
  /** Unix seconds. */
  now: number;
  requestId: string;
  idempotencyKey: string | null;
  /** Stripe's clause limit for search queries. */
  searchMaxClauses: number;
  /** The simulator's clock (clock.ts); absent = the wall clock, and no automatic finalization. */
  clock?: SimClock;
}

export interface Endpoint<F extends Fields = Fields> {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: string;
  fields: F;
  handler: (params: Valid<F> & { expand?: string[] }, ctx: HandlerContext) => unknown;
}

/** Declare an endpoint; the helper only exists so that `handler` gets typed parameters. */
export function endpoint<F extends Fields>(definition: Endpoint<F>): Endpoint {
  return definition as unknown as Endpoint;
}

export interface RouteDeps {
  store: Store;
  idempotency: IdempotencyStore;
  searchMaxClauses: number;
  /** The simulator's clock (clock.ts); absent = the wall clock, and no automatic finalization. */
  clock?: SimClock;
}

function header(req: SimRequest, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] ?? null : value ?? null;
}

function unexpected(error: unknown): SimResponse {
  return new StripeApiError(500, {
    type: 'api_error',
    message: `An unknown error occurred (simulator: ${error instanceof Error ? error.message : String(error)})`,
  }).toResponse();
}

/** Turn endpoint definitions into routes for the simulator shell. */
export function toRoutes(endpoints: Endpoint[], deps: RouteDeps): SimRoute[] {
  return endpoints.map((def) => ({
    method: def.method,
    pattern: def.pattern,
    handler: async (req: SimRequest): Promise<SimResponse> => {
      const requestId = `req_${newId('x', 14).slice(2)}`;
      const key = def.method === 'POST' ? header(req, 'idempotency-key') : null;
      let params;
      try {
        params = def.method === 'POST' ? decodeForm(req.body) : decodeForm(req.query);
      } catch (error) {
        if (error instanceof StripeApiError) return error.toResponse();
        throw error;
      }
      const execute = async (): Promise<SimResponse> => {
        try {
          // What Stripe did on its own since the last request (auto-advanced drafts) shows first.
          deps.clock?.tick();
          const valid = validate(def.fields, params);
          const ctx: HandlerContext = {
            store: deps.store,
            path: req.params,
            now: deps.clock ? deps.clock.now() : Math.floor(Date.now() / 1000),
            requestId,
            idempotencyKey: key,
            searchMaxClauses: deps.searchMaxClauses,
          };
          const body = applyExpand(deps.store, def.handler(valid, ctx), valid.expand);
          return { status: 200, headers: { 'Request-Id': requestId }, body };
        } catch (error) {
          const response = error instanceof StripeApiError ? error.toResponse() : unexpected(error);
          response.headers = { ...response.headers, 'Request-Id': requestId };
          return response;
        }
      };
      if (!key) return execute();
      return deps.idempotency.run(key, `${def.method} ${req.path}`, fingerprint(params), execute);
    },
  }));
}

// ------------------------------------------------------------------ lists

export interface ListParams {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
  created?: Range;
}

export interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export function inRange(value: number, range: Range | undefined): boolean {
  if (!range) return true;
  return (
    (range.gt === undefined || value > range.gt) &&
    (range.gte === undefined || value >= range.gte) &&
    (range.lt === undefined || value < range.lt) &&
    (range.lte === undefined || value <= range.lte)
  );
}

/** An object's place in list order, cached on it (see list). */
const RANK = Symbol('stripe-list-rank');

/**
 * One page of `items` (any order; listed newest first) with Stripe's cursors: `starting_after` pages
 * towards older objects, `ending_before` towards newer ones. `kind` names the object in errors.
 */
export function list<T extends { id: string; created: number }>(
  store: Store,
  items: Iterable<T>,
  params: ListParams,
  url: string,
  kind: string,
): ListObject<T> {
  if (params.starting_after && params.ending_before) {
    throw StripeApiError.invalid('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
  }
  const limit = params.limit ?? 10;
  // A page is selected, not sorted out of the whole collection: a benchmark pages through 35,000
  // invoices 100 at a time, and sorting them all for every page would make paging quadratic. Each
  // object's place in Stripe's order (newest first by `created`, ties by creation order) is one
  // number (its rank; higher = newer), worked out once per request.
  const kept: T[] = [];
  const ranks: number[] = [];
  for (const item of items) {
    if (!inRange(item.created, params.created)) continue;
    kept.push(item);
    // Kept on the object under a symbol (never serialized): `created` and creation order never change.
    const holder = item as T & { [RANK]?: number };
    ranks.push((holder[RANK] ??= item.created * 1e6 + (store.order.get(item.id) ?? 0)));
  }
  const all = (_i: number) => true;
  const cursor = params.starting_after ?? params.ending_before;
  if (cursor === undefined) {
    const page = smallest(ranks, all, limit + 1, (a, b) => ranks[b] - ranks[a]);
    return { object: 'list', data: page.slice(0, limit).map((i) => kept[i]), has_more: page.length > limit, url };
  }
  const at = kept.findIndex((item) => item.id === cursor);
  if (at === -1) {
    throw StripeApiError.invalid(`No such ${kind}: '${cursor}'`, params.starting_after ? 'starting_after' : 'ending_before', 'resource_missing');
  }
  const rank = ranks[at];
  if (params.starting_after) {
    const page = smallest(ranks, (i) => ranks[i] < rank, limit + 1, (a, b) => ranks[b] - ranks[a]);
    return { object: 'list', data: page.slice(0, limit).map((i) => kept[i]), has_more: page.length > limit, url };
  }
  // ending_before: the `limit` newer objects nearest the cursor, still listed newest first.
  const nearest = smallest(ranks, (i) => ranks[i] > rank, limit + 1, (a, b) => ranks[a] - ranks[b]);
  return { object: 'list', data: nearest.slice(0, limit).reverse().map((i) => kept[i]), has_more: nearest.length > limit, url };
}

/**
 * The indexes of the `k` smallest entries (under `compare`) among those `keep` accepts, in order,
 * in one pass: k is a page size, so this is linear in the collection.
 */
function smallest(ranks: readonly number[], keep: (i: number) => boolean, k: number, compare: (a: number, b: number) => number): number[] {
  const best: number[] = [];
  if (k <= 0) return best;
  for (let i = 0; i < ranks.length; i++) {
    if (!keep(i)) continue;
    if (best.length === k && compare(i, best[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(best[mid], i) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export { listFields };

// ------------------------------------------------------------------ search

export interface SearchParams {
  query?: string;
  limit?: number;
  page?: string;
  expand?: string[];
}

const encodePage = (offset: number) => Buffer.from(JSON.stringify({ o: offset })).toString('base64url');

function decodePage(page: string): number {
  try {
    const { o } = JSON.parse(Buffer.from(page, 'base64url').toString('utf8')) as { o: unknown };
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // fall through to the error below
  }
  throw StripeApiError.invalid('Invalid page token.', 'page');
}

/** A search_result page over `items`, filtered by the query language (search.ts). */
export function search<T extends { id: string; created: number }>(
  ctx: HandlerContext,
  items: Iterable<T>,
  params: SearchParams,
  fields: Record<string, SearchField<T>>,
  resource: string,
  url: string,
) {
  const predicate = compileQuery(parseQuery(params.query ?? '', ctx.searchMaxClauses), fields, resource);
  // Matched as search sees each object (store.ts searchableVersion: Stripe's search lag), answered
  // with the object as it is.
  const matches = newestFirst(ctx.store, items).filter((item) => {
    const version = searchableVersion(ctx.store, item);
    return version !== undefined && predicate(version);
  });
  const limit = params.limit ?? 10;
  const offset = params.page ? decodePage(params.page) : 0;
  const data = matches.slice(offset, offset + limit);
  const hasMore = offset + limit < matches.length;
  return {
    object: 'search_result' as const,
    data,
    has_more: hasMore,
    next_page: hasMore ? encodePage(offset + limit) : null,
    url,
    ...(params.expand?.includes('total_count') ? { total_count: matches.length } : {}),
  };
}

/** Metadata accessor shared by every resource's search fields. */
export function metadataField<T extends { metadata: Record<string, string> | null }>(): SearchField<T> {
  return { get: (record, key) => (key === undefined ? undefined : record.metadata?.[key]) };
}
