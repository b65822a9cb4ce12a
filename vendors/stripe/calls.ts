/**
 * Reporting of every HTTP call the Stripe SDK makes (VendorCallListener), at the SDK's HTTP client.
 *
 * Why not the SDK's 'request'/'response' events: stripe-node 23 emits 'response' only for the
 * attempt whose answer it hands back. An attempt it retries (429 with Stripe-Should-Retry, 5xx,
 * a reset connection) and an attempt that gets no answer emit no 'response', so the events
 * undercount exactly the calls that consumption and failure dashboards are for. Wrapping the HTTP
 * client sees each attempt once, with its status (0 when no answer came) and duration. Each attempt
 * is also a span of the trace it is made in, and carries that trace's `traceparent`.
 */
import Stripe from 'stripe';
import type { CapacityGate } from '../../core/capacity';
import { startVendorSpan } from '../../core/tracing';
import type { VendorCallListener } from '../../core/vendor-call';

/** `GET /v1/customers/search?query=...` -> 'customers.search'; `POST /v1/invoices/in_1/finalize` -> 'invoices.finalize'. */
export function operationName(method: string, path: string): string {
  const segments = path.split('?')[0].split('/').filter(Boolean).slice(1); // drop 'v1'
  const [resource = 'unknown', id, action] = segments;
  if (action) return `${resource}.${action}`;
  if (id === 'search') return `${resource}.search`;
  if (id) {
    if (method === 'GET') return `${resource}.retrieve`;
    if (method === 'DELETE') return resource === 'subscriptions' ? 'subscriptions.cancel' : `${resource}.del`;
    return `${resource}.update`;
  }
  return method === 'GET' ? `${resource}.list` : `${resource}.create`;
}

type HttpClient = ReturnType<typeof Stripe.createNodeHttpClient>;

/**
 * The SDK's Node HTTP client, every attempt first let through the account's capacity gate (its
 * rate, shared by every Concord process), then reported to `onCall` (and traced).
 */
export function reportingHttpClient(onCall: VendorCallListener | undefined, gate?: CapacityGate): HttpClient {
  const inner = Stripe.createNodeHttpClient();
  const report = (method: string, path: string, status: number, started: number) => {
    if (!onCall) return;
    try {
      onCall({ system: 'BILLING', vendor: 'stripe', operation: operationName(method, path), status, durationMs: Date.now() - started });
    } catch {
      // A failing listener must never fail the vendor call it observes.
    }
  };
  type Args = Parameters<HttpClient['makeRequest']>;
  const send = (args: Args): ReturnType<HttpClient['makeRequest']> => {
    const [host, port, path, method, headers, ...rest] = args;
    const started = Date.now();
    const span = startVendorSpan({ system: 'BILLING', vendor: 'stripe', operation: operationName(method, path), method, url: `http://${host}:${port}${path}` });
    return inner.makeRequest(host, port, path, method, { ...headers, ...span.headers }, ...rest).then(
      (response) => {
        span.end(response.getStatusCode());
        report(method, path, response.getStatusCode(), started);
        return response;
      },
      (error: unknown) => {
        span.end(0, error);
        report(method, path, 0, started);
        throw error;
      },
    );
  };
  return Object.assign(Object.create(inner) as HttpClient, {
    makeRequest(...args: Args) {
      // A refusal of the gate reaches the SDK as a failed request (errors.ts finds it again).
      return gate ? gate.run(() => send(args)) : send(args);
    },
  });
}
