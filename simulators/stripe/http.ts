/**
 * The Stripe side of a request, between the simulator shell and the endpoint handlers: decode the
 * form or query string, validate parameters against the endpoint's spec, run the handler under the
 * idempotency store (POST only: Stripe ignores keys on GET and DELETE), apply `expand[]`, and turn
 * StripeApiErrors into Stripe's error envelope. Also the list envelope, cursor pagination and search
 * result paging that every collection endpoint shares.
 */
import type { SimRequest, SimResponse, SimRoute } from '../common/sim-server';
import { StripeApiError } from './errors';
import { applyExpand } from './expand';
import { decodeForm, fingerprint } from './form';
import type { IdempotencyStore } from './idempotency';
import { newId } from './objects';
import { listFields, validate, type Fields, type Range, type Valid } from './params';
import { compileQuery, parseQuery, type SearchField } from './search';
import { newestFirst, type Store } from './store';

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
          const valid = validate(def.fields, params);
          const ctx: HandlerContext = {
            store: deps.store,
            path: req.params,
            now: Math.floor(Date.now() / 1000),
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
  // invoices 100 at a time, and sorting them all for every page would make paging quadratic.
  const kept = [...items].filter((item) => inRange(item.created, params.created));
  const order = newestFirstOrder(store);
  const cursor = params.starting_after ?? params.ending_before;
  if (cursor === undefined) {
    const page = smallest(kept, limit + 1, order);
    return { object: 'list', data: page.slice(0, limit), has_more: page.length > limit, url };
  }
  const at = kept.find((item) => item.id === cursor);
  if (at === undefined) {
    throw StripeApiError.invalid(`No such ${kind}: '${cursor}'`, params.starting_after ? 'starting_after' : 'ending_before', 'resource_missing');
  }
  if (params.starting_after) {
    const page = smallest(kept.filter((item) => order(at, item) < 0), limit + 1, order);
    return { object: 'list', data: page.slice(0, limit), has_more: page.length > limit, url };
  }
  // ending_before: the `limit` newer objects nearest the cursor, still listed newest first.
  const newer = kept.filter((item) => order(item, at) < 0);
  const nearest = smallest(newer, limit, (a, b) => order(b, a));
  return { object: 'list', data: nearest.reverse(), has_more: newer.length > limit, url };
}

/** Stripe's list order as a comparator: newest first by `created`, ties by creation order. */
function newestFirstOrder(store: Store) {
  return (a: { id: string; created: number }, b: { id: string; created: number }) =>
    b.created - a.created || (store.order.get(b.id) ?? 0) - (store.order.get(a.id) ?? 0);
}

/** The `k` smallest items under `compare`, in order, in one pass (k is a page size, so small). */
function smallest<T>(items: readonly T[], k: number, compare: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  if (k <= 0) return best;
  for (const item of items) {
    if (best.length === k && compare(item, best[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(best[mid], item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, item);
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
  const matches = newestFirst(ctx.store, items).filter(predicate);
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
