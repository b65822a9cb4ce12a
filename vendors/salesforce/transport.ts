/**
 * jsforce's HTTP layer, observed and tamed: every HTTP call jsforce makes (query pages, PATCHes,
 * limits) is timed and reported with its status and the org's API usage from Sforce-Limit-Info,
 * a request timeout is set, and jsforce's own retries are switched off so that the adapter's retry
 * policy (core/retry.ts) is the only one. Each call is a span of the trace it is made in, and
 * carries that trace's `traceparent` (core/tracing.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { HttpRequest, HttpRequestOptions, HttpResponse, StreamPromise } from 'jsforce';
import { Transport } from 'jsforce/lib/transport';
import { startVendorSpan } from '../../core/tracing';

/** What the adapter is doing, carried across jsforce's internals to the HTTP layer. */
export interface CallContext {
  /** Operation name for metrics, for example 'query.Account'. */
  operation: string;
  /** HTTP status of the last response in this context (0 = none came). */
  status?: number;
}

export const callContext = new AsyncLocalStorage<CallContext>();

export interface ObservedCall {
  operation: string;
  status: number;
  durationMs: number;
  limit?: { used: number; max: number };
}

export interface ObservedTransportOptions {
  /** Abort a request after this many ms without a response. */
  timeoutMs: number;
  /** Told of every finished HTTP call. Must not throw (errors are swallowed). */
  onCall: (call: ObservedCall) => void;
}

/** `api-usage=123/15000` -> { used: 123, max: 15000 } */
export function parseLimitInfo(header: string | undefined): { used: number; max: number } | undefined {
  const match = /api-usage=(\d+)\/(\d+)/.exec(header ?? '');
  return match ? { used: Number(match[1]), max: Number(match[2]) } : undefined;
}

export class ObservedTransport extends Transport {
  constructor(private readonly options: ObservedTransportOptions) {
    super();
  }

  override httpRequest(request: HttpRequest, options: HttpRequestOptions = {}): StreamPromise<HttpResponse> {
    const context = callContext.getStore();
    const started = performance.now();
    const operation = context?.operation ?? 'request';
    const span = startVendorSpan({ system: 'CRM', vendor: 'salesforce', operation, method: request.method, url: request.url });
    const report = (status: number, limit?: { used: number; max: number }) => {
      if (context) context.status = status;
      span.end(status, undefined, limit ? { 'concord.vendor.api_usage': limit.used, 'concord.vendor.api_limit': limit.max } : undefined);
      try {
        this.options.onCall({ operation, status, durationMs: performance.now() - started, limit });
      } catch {
        // A metrics listener must never break a vendor call.
      }
    };
    // jsforce retries GETs on 429/5xx/ECONNRESET by itself (5 times, from 500 ms, invisibly to
    // us and to the API budget); maxRetries 0 leaves retrying to the adapter's policy.
    const pending = super.httpRequest({ ...request, headers: { ...request.headers, ...span.headers } }, {
      ...options,
      timeout: this.options.timeoutMs,
      retry: { ...options.retry, maxRetries: 0 },
    });
    pending.then(
      (response) => report(response.statusCode, parseLimitInfo(response.headers['sforce-limit-info'])),
      () => report(0),
    );
    return pending;
  }
}
