/**
 * The one Chargebee client of a process: the official chargebee-node SDK (v3) pointed at the
 * configured site (real Chargebee, `https://{site}.chargebee.com/api/v2`, or the simulator), every
 * HTTP attempt reported and traced through the SDK's pluggable HTTP client (Config.httpClient,
 * types/index.d.ts HttpClientInterface). The billing adapter and the webhook path share it, and so
 * do the governors that count calls: nothing else talks to Chargebee.
 *
 * The SDK's own retries stay off (its default, retryConfig.enabled false): retries follow the
 * Chargebee policy (retry.ts) in the adapter (reads) and the saga engine (writes), one call per
 * attempt, each write with its `chargebee-idempotency-key`. Its anonymous telemetry header is off.
 */
import Chargebee from 'chargebee';
import { startVendorSpan } from '../../core/tracing';
import type { VendorCallListener } from '../../core/vendor-call';
import type { CapacityGate } from '../../core/capacity';

/** What a real deployment configures for its Chargebee site. */
export interface ChargebeeSettings {
  /** Site name: the `{site}` of https://{site}.chargebee.com (CHARGEBEE_SITE). */
  site: string;
  /** Full-access API key (CHARGEBEE_API_KEY). Never logged. */
  apiKey: string;
  /** API base other than https://{site}.chargebee.com, for the simulator (CHARGEBEE_API_BASE). */
  baseUrl?: string | null;
  /** Requests per minute the site's plan allows (CHARGEBEE_REQUESTS_PER_MINUTE). Default 150 (test sites and the Starter plan). */
  requestsPerMinute?: number;
}

export interface ChargebeeClientOptions extends ChargebeeSettings {
  /** The site's gate from the process's capacity governor (vendors/chargebee/index.ts); every HTTP attempt passes it. Default none. */
  gate?: CapacityGate;
  /** Timeout of one HTTP request, in ms. Default 10000. */
  timeoutMs?: number;
  onCall?: VendorCallListener;
}

/** `GET /api/v2/customers/cus_1/subscriptions` -> 'customers.subscriptions'; `POST /api/v2/invoices/CB-1/close` -> 'invoices.close'. */
export function operationName(method: string, path: string): string {
  const segments = path.split('?')[0].split('/').filter(Boolean).slice(2); // drop 'api', 'v2'
  const [resource = 'unknown', id, action] = segments;
  // Subscriptions are created and listed under their customer.
  if (resource === 'customers' && action === 'subscription_for_items') return 'subscriptions.create_with_items';
  if (resource === 'customers' && action === 'subscriptions') return 'subscriptions.list';
  if (action) return `${resource}.${action}`;
  if (id) return method === 'GET' ? `${resource}.retrieve` : `${resource}.update`;
  return method === 'GET' ? `${resource}.list` : `${resource}.create`;
}

export type ChargebeeClient = InstanceType<typeof Chargebee>;

export function createChargebeeClient(options: ChargebeeClientOptions): ChargebeeClient {
  const { site, apiKey, baseUrl, timeoutMs = 10_000, onCall, gate } = options;
  const target = baseUrl
    ? (() => {
        const url = new URL(baseUrl);
        // The SDK builds the host as site + hostSuffix: the simulator's host is the "site".
        return { site: url.hostname, hostSuffix: '', protocol: url.protocol === 'http:' ? ('http' as const) : ('https' as const), port: url.port ? Number(url.port) : undefined };
      })()
    : { site };
  const httpClient = {
    async makeApiRequest(request: Request, timeout: number): Promise<Response> {
      const url = new URL(request.url);
      const operation = operationName(request.method, url.pathname);
      const span = startVendorSpan({ system: 'BILLING', vendor: 'chargebee', operation, method: request.method, url: request.url });
      const headers = new Headers(request.headers);
      for (const [name, value] of Object.entries(span.headers)) headers.set(name, value);
      const started = Date.now();
      const report = (status: number) => {
        try {
          onCall?.({ system: 'BILLING', vendor: 'chargebee', operation, status, durationMs: Date.now() - started });
        } catch {
          // A failing listener must never fail the vendor call it observes.
        }
      };
      try {
        const send = () => fetch(new Request(request, { headers, signal: AbortSignal.timeout(timeout) }));
        const response = await (gate ? gate.run(send) : send());
        span.end(response.status);
        report(response.status);
        return response;
      } catch (error) {
        span.end(0, error);
        report(0);
        throw error;
      }
    },
  };
  return new Chargebee({
    apiKey,
    ...target,
    site: target.site,
    timeout: timeoutMs,
    sdkTelemetryEnabled: false,
    httpClient,
  });
}
