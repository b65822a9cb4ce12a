/**
 * A Stripe API simulator that the official stripe-node SDK (23.1.0, API version 2026-10-28.endive)
 * talks to unchanged: form-encoded requests, Stripe's objects, lists, search, errors, idempotency
 * keys and events, over the deterministic seed shared with the other simulators. The shared shell
 * (simulators/common/sim-server.ts) adds the `/__sim/` control API, fault injection and stats.
 *
 * Endpoints: customers (CRUD, list, search), products, prices, tax rates, subscriptions (create,
 * retrieve, update with prorations (proration.ts), cancel, list, search), invoices (create, retrieve, update, delete draft, finalize,
 * pay, void, mark_uncollectible, send, list, search, lines), invoice items (create), events.
 */
import type { SimRequest, SimResponse, SimRoute, SimServer } from '../common/sim-server';
import { createSimServer } from '../common/sim-server';
import { buildSeed, type Seed } from '../common/seed';
import { catalogEndpoints } from './catalog';
import { clockControlRoutes, createSimClock } from './clock';
import { customerEndpoints } from './customers';
import { StripeApiError } from './errors';
import { eventEndpoints } from './events';
import { toRoutes } from './http';
import { IdempotencyStore } from './idempotency';
import { invoiceEndpoints } from './invoices';
import { API_VERSION, newId } from './objects';
import { createSeededStore } from './seeding';
import type { Store } from './store';
import { subscriptionEndpoints } from './subscriptions';
import { createWebhookSender, webhookControlRoutes } from './webhooks';

export { API_VERSION } from './objects';

export interface StripeSimulatorOptions {
  /** Seed data shared with the other simulators. Default `buildSeed()` (50 customers). */
  seed?: Seed;
  /**
   * The one secret key accepted; any other gets Stripe's 401. Default: unset, and any key of the
   * right form (`sk_test_...`) is accepted, as stripe-mock does.
   */
  requiredApiKey?: string;
  /** Most clauses in a search query. Default 10, Stripe's limit. */
  searchMaxClauses?: number;
  /**
   * How long a change takes to reach search, in ms (Stripe: typically under a minute). Default 0:
   * searchable at once. Changed at run time with `POST /__sim/search-lag {"ms": 3000}`.
   */
  searchLagMs?: number;
}

const NO_KEY_MESSAGE =
  "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/** `sk_test_abc...wxyz` -> `sk_test_****...wxyz`, as Stripe shows a rejected key. */
function maskKey(key: string): string {
  const prefix = /^[a-z]{2}_(test|live)_/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  return `${prefix}${'*'.repeat(Math.max(rest.length - 4, 4))}${rest.slice(-4)}`;
}

/** The key from `Authorization: Bearer sk_...` or Basic auth with the key as user name. */
function apiKeyOf(req: SimRequest): string | null {
  const raw = req.headers.authorization;
  const auth = Array.isArray(raw) ? raw[0] : raw;
  if (!auth) return null;
  const bearer = /^Bearer\s+(.+)$/i.exec(auth);
  if (bearer) return bearer[1].trim();
  const basic = /^Basic\s+(.+)$/i.exec(auth);
  if (basic) return Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0];
  return null;
}

function unauthorized(message: string): SimResponse {
  return new StripeApiError(401, { type: 'invalid_request_error', message }).toResponse();
}

/**
 * Stripe's answers for injected faults and for its own rate and concurrency limiters. As real Stripe
 * does (https://docs.stripe.com/rate-limits, https://docs.stripe.com/error-low-level#should-retry):
 * a rate-limit 429 carries no `Stripe-Should-Retry: true` (stripe-node does not retry it on its
 * own); a lock_timeout 429 (another request holds the object) asks for the retry. An injected 429 on
 * a write to an existing object (`POST /v1/<objects>/<id>...`) is a lock_timeout, any other a rate limit.
 */
function faultResponse(kind: '429' | '500' | '503' | 'concurrency', req?: SimRequest): SimResponse {
  switch (kind) {
    case '429':
      if (req && req.method === 'POST' && /^\/v1\/[a-z_]+\/[a-z]+_[A-Za-z0-9]+/.test(req.path)) {
        return new StripeApiError(
          429,
          { type: 'invalid_request_error', code: 'lock_timeout', message: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate. See https://stripe.com/docs/rate-limits for more details.' },
          { 'Stripe-Should-Retry': 'true' },
        ).toResponse();
      }
      return new StripeApiError(429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.' }).toResponse();
    case 'concurrency':
      return new StripeApiError(
        429,
        { type: 'invalid_request_error', code: 'rate_limit', message: 'This request was rate limited because too many concurrent requests were in flight. Learn more about rate limits here https://stripe.com/docs/rate-limits.' },
      ).toResponse();
    case '500':
      return new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred' }, { 'Stripe-Should-Retry': 'true' }).toResponse();
    case '503':
      return new StripeApiError(503, { type: 'api_error', message: 'Stripe is temporarily unavailable. Please try again later.' }).toResponse();
  }
}

/** `GET /__sim/search-lag` and `POST /__sim/search-lag {"ms": n}`: how far search trails writes. */
function searchLagControlRoutes(store: Store): SimRoute[] {
  const index = store.searchIndex!;
  return [
    { method: 'GET', pattern: '/__sim/search-lag', handler: () => ({ status: 200, body: { ms: index.lagMs } }) },
    {
      method: 'POST',
      pattern: '/__sim/search-lag',
      handler: (req) => {
        let ms: unknown;
        try {
          ms = (JSON.parse(req.body || '{}') as { ms?: unknown }).ms;
        } catch {
          return { status: 400, body: { error: 'body must be JSON: {"ms": <non-negative integer>}' } };
        }
        if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0) return { status: 400, body: { error: 'ms must be a non-negative integer' } };
        index.lagMs = ms;
        return { status: 200, body: { ms } };
      },
    },
  ];
}

/** Create (not yet listening) a Stripe simulator; `listen(port)` starts it. */
export function createStripeSimulator(options: StripeSimulatorOptions = {}): { listen(port?: number, host?: string): Promise<SimServer> } {
  const { seed = buildSeed(), requiredApiKey, searchMaxClauses = 10, searchLagMs = 0 } = options;
  const store = createSeededStore(seed);
  // Indexed from here on: the seed is searchable at once, later changes after the lag.
  store.searchIndex = { lagMs: searchLagMs, versions: new Map() };
  // Seed events are history; only changes from now on are sent as webhooks.
  const webhooks = createWebhookSender();
  store.onEvent = (event) => webhooks.send(event);
  const idempotency = new IdempotencyStore();
  const clock = createSimClock(store);
  const endpoints = [...customerEndpoints, ...catalogEndpoints, ...subscriptionEndpoints, ...invoiceEndpoints, ...eventEndpoints];

  const shell = createSimServer({
    name: 'stripe',
    controlRoutes: [...webhookControlRoutes(webhooks), ...clockControlRoutes(clock), ...searchLagControlRoutes(store)],
    // The clock is state, like the store: a reset of faults and stats leaves it where it is.
    onReset: () => webhooks.resetStats(),
    routes: toRoutes(endpoints, { store, idempotency, searchMaxClauses, clock }),
    state: () => ({
      customers: [...store.customers.values()],
      subscriptions: [...store.subscriptions.values()],
      invoices: [...store.invoices.values()],
      events: [...store.events],
      products: [...store.products.values()],
      prices: [...store.prices.values()],
      tax_rates: [...store.taxRates.values()],
      invoiceitems: [...store.invoiceItems.values()],
    }),
    faultResponse,
    authenticate: (req) => {
      const key = apiKeyOf(req);
      if (!key) return unauthorized(NO_KEY_MESSAGE);
      const accepted = requiredApiKey !== undefined ? key === requiredApiKey : /^(sk|rk)_test_\S+$/.test(key);
      return accepted ? null : unauthorized(`Invalid API Key provided: ${maskKey(key)}`);
    },
    decorate: (req, res) => {
      const headers = (res.headers ??= {});
      headers['Request-Id'] ??= `req_${newId('x', 14).slice(2)}`;
      const version = req.headers['stripe-version'];
      headers['Stripe-Version'] = (Array.isArray(version) ? version[0] : version) ?? API_VERSION;
      const key = req.headers['idempotency-key'];
      if (req.method === 'POST' && typeof key === 'string') headers['Idempotency-Key'] = key;
    },
    notFound: (req) =>
      new StripeApiError(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${req.method}: ${req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      }).toResponse(),
  });
  return {
    async listen(port, host) {
      const sim = await shell.listen(port, host);
      // Closing the simulator stops its webhook retries too.
      return { ...sim, close: async () => {
        webhooks.close();
        await sim.close();
      } };
    },
  };
}

/** Create and start a Stripe simulator (port 0 = any free port). */
export function startStripeSimulator(options: StripeSimulatorOptions & { port?: number; host?: string } = {}): Promise<SimServer> {
  const { port, host, ...rest } = options;
  return createStripeSimulator(rest).listen(port, host);
}
