/**
 * Reporting of every HTTP call the Stripe SDK makes (VendorCallListener), at the SDK's HTTP client.
 *
 * Why not the SDK's 'request'/'response' events: stripe-node 23 emits 'response' only for the
 * attempt whose answer it hands back. An attempt it retries (429 with Stripe-Should-Retry, 5xx,
 * a reset connection) and an attempt that gets no answer emit no 'response', so the events
 * undercount exactly the calls that consumption and failure dashboards are for. Wrapping the HTTP
 * client sees each attempt once, with its status (0 when no answer came) and duration.
 */
import Stripe from 'stripe';
import type { VendorCallListener } from '../../../core/vendor-call';

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

/** The SDK's Node HTTP client, reporting each request to `onCall`. */
export function reportingHttpClient(onCall: VendorCallListener): HttpClient {
  const inner = Stripe.createNodeHttpClient();
  const report = (method: string, path: string, status: number, started: number) => {
    try {
      onCall({ system: 'BILLING', vendor: 'stripe', operation: operationName(method, path), status, durationMs: Date.now() - started });
    } catch {
      // A failing listener must never fail the vendor call it observes.
    }
  };
  return Object.assign(Object.create(inner) as HttpClient, {
    makeRequest(...args: Parameters<HttpClient['makeRequest']>) {
      const [, , path, method] = args;
      const started = Date.now();
      return inner.makeRequest(...args).then(
        (response) => {
          report(method, path, response.getStatusCode(), started);
          return response;
        },
        (error: unknown) => {
          report(method, path, 0, started);
          throw error;
        },
      );
    },
  });
}
