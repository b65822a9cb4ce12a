/**
 * A small HTTP client for NetSuite REST web services (NetSuite has no official Node SDK). Every
 * request is signed with OAuth 1.0a Token-Based Authentication, HMAC-SHA256, realm = account id,
 * query parameters included in the signature base string as RFC 5849 requires. Every request goes
 * through the account's capacity gate (core/capacity.ts: the concurrency limit, which NetSuite
 * enforces per account, shared by every Concord process and every other integration of the
 * account, so a request over it would be refused), times requests out and reports
 * each call (and traces it: a span of the caller's trace, whose `traceparent` goes with it). It knows nothing of Concord's records or errors: HTTP statuses are returned, not
 * thrown; only transport failures throw (NetSuiteTransportError).
 */
import crypto from 'node:crypto';
import OAuth from 'oauth-1.0a';
import { createMemoryCapacityGovernor, type CapacityGate } from '../../core/capacity';
import { startVendorSpan } from '../../core/tracing';
import type { VendorCallListener } from '../../core/vendor-call';

export interface NetSuiteClientOptions {
  /** REST root, without a path: `https://{accountId}.suitetalk.api.netsuite.com`, or a simulator URL. */
  baseUrl: string;
  /** Account id, the OAuth realm (for example '1234567' or '1234567_SB1'). */
  accountId: string;
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
  /** Abort a request after this many ms (the request's outcome is then unknown). Default 10000. */
  timeoutMs?: number;
  /** Most requests in flight at once, when no `gate` is given (a gate of this process alone). Default 5 (a developer account's limit). */
  concurrency?: number;
  /** The account's gate from the process's capacity governor (vendors/netsuite/index.ts). Default: one of this client's own. */
  gate?: CapacityGate;
  /** Told of every finished call, for metrics. */
  onCall?: VendorCallListener;
}

export interface NetSuiteRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below baseUrl, already encoded where needed, for example '/services/rest/record/v1/customer/eid:ABC'. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Name for metrics ('suiteql', 'customer.upsert', ...). */
  operation: string;
}

export interface NetSuiteResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty body (204) or one that is not JSON. */
  body: unknown;
}

/** No HTTP answer: the request timed out or the connection failed. Its effect is unknown. */
export class NetSuiteTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetSuiteTransportError';
  }
}

/** RFC 3986 percent-encoding (what OAuth signs); use it for query values so client and server agree. */
export function percentEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The full request URL: base + path + RFC 3986-encoded query (never '+' for spaces). */
export function buildUrl(baseUrl: string, path: string, query: NetSuiteRequest['query'] = {}): string {
  const pairs = Object.entries(query)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${percentEncode(key)}=${percentEncode(String(value))}`);
  return `${baseUrl.replace(/\/+$/, '')}${path}${pairs.length > 0 ? `?${pairs.join('&')}` : ''}`;
}

/** A signer producing the `Authorization` header for one request. */
export function createTbaSigner(credentials: Pick<NetSuiteClientOptions, 'accountId' | 'consumerKey' | 'consumerSecret' | 'tokenId' | 'tokenSecret'>) {
  const oauth = new OAuth({
    consumer: { key: credentials.consumerKey, secret: credentials.consumerSecret },
    signature_method: 'HMAC-SHA256',
    realm: credentials.accountId,
    hash_function: (base, key) => crypto.createHmac('sha256', key).update(base).digest('base64'),
  });
  const token = { key: credentials.tokenId, secret: credentials.tokenSecret };
  /** The JSON body is not signed: OAuth 1.0a signs only form-encoded bodies. */
  return (method: string, url: string): string => oauth.toHeader(oauth.authorize({ method, url }, token)).Authorization;
}

export interface NetSuiteClient {
  request(request: NetSuiteRequest): Promise<NetSuiteResponse>;
}

export function createNetSuiteClient(options: NetSuiteClientOptions): NetSuiteClient {
  const { baseUrl, timeoutMs = 10_000, concurrency = 5, onCall } = options;
  const sign = createTbaSigner(options);
  const gate = options.gate ?? createMemoryCapacityGovernor().gate({ system: 'ERP', vendor: 'netsuite', account: options.accountId, concurrency });

  async function send(request: NetSuiteRequest): Promise<NetSuiteResponse> {
    const url = buildUrl(baseUrl, request.path, request.query);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...request.headers,
      // Signed here, inside the gate: a queued request must not wait out its timestamp.
      authorization: sign(request.method, url),
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const started = Date.now();
    let status = 0;
    let failure: unknown;
    const span = startVendorSpan({ system: 'ERP', vendor: 'netsuite', operation: request.operation, method: request.method, url });
    Object.assign(headers, span.headers);
    try {
      const response = await fetch(url, {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      const text = await response.text();
      let body: unknown = null;
      if (text) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = null; // an HTML error page from a proxy or maintenance window
        }
      }
      return { status, headers: response.headers, body };
    } catch (error) {
      failure = error;
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new NetSuiteTransportError('timeout', `NetSuite ${request.operation} timed out after ${timeoutMs} ms`, { cause: error });
      }
      throw new NetSuiteTransportError('network', `NetSuite ${request.operation} failed: no response`, { cause: error });
    } finally {
      span.end(status, failure);
      onCall?.({ system: 'ERP', vendor: 'netsuite', operation: request.operation, status, durationMs: Date.now() - started });
    }
  }

  return { request: (request) => gate.run(() => send(request)) };
}
