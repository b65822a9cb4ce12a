/**
 * A small HTTP client for Dynamics 365 Business Central's API v2.0 (Microsoft ships no Node SDK
 * for it). It gets an OAuth 2.0 client-credentials token from the configured token endpoint (the
 * Microsoft identity platform: `POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`
 * with scope `https://api.businesscentral.dynamics.com/.default`), keeps it until shortly before
 * it expires and fetches a new one once when BC answers 401 (a request refused at the door had no
 * effect, so sending it again is safe for writes too). Every request, the token's included, goes
 * through the environment's capacity gate (core/capacity.ts: Concord's share of BC's concurrent
 * requests and its request rate, shared by every Concord process), times out, is traced and reported through
 * onCall. HTTP statuses are returned, not thrown; only transport failures throw.
 */
import { createMemoryCapacityGovernor, type CapacityGate } from '../../core/capacity';
import { ConcordError } from '../../core/errors';
import { startVendorSpan } from '../../core/tracing';
import type { VendorCallListener } from '../../core/vendor-call';

export const BUSINESS_CENTRAL_SCOPE = 'https://api.businesscentral.dynamics.com/.default';

export interface BusinessCentralClientOptions {
  /** API host: https://api.businesscentral.dynamics.com, or a simulator URL. */
  baseUrl: string;
  /** Token endpoint: https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token, or the simulator's. */
  tokenUrl: string;
  /** Entra tenant id (or domain). */
  tenant: string;
  /** Business Central environment name ('production', 'sandbox', ...). */
  environment: string;
  clientId: string;
  clientSecret: string;
  /** Default BUSINESS_CENTRAL_SCOPE. */
  scope?: string;
  /** Abort a request after this many ms (its outcome is then unknown). Default 10000. */
  timeoutMs?: number;
  /** Most requests in flight at once, when no `gate` is given (a gate of this process alone). Default 20 (BC allows 100 per user). */
  concurrency?: number;
  /** The environment's gate from the process's capacity governor (vendors/businesscentral/index.ts). Default: one of this client's own. */
  gate?: CapacityGate;
  onCall?: VendorCallListener;
}

export interface BusinessCentralRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path below the API root (`/v2.0/{tenant}/{environment}/api/v2.0/`), e.g. `companies(id)/customers`; or a full URL (an @odata.nextLink). */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Name for metrics ('customers.list', 'salesInvoices.post', ...). */
  operation: string;
}

export interface BusinessCentralResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty (204) or non-JSON body. */
  body: unknown;
}

/** One operation of a JSON $batch. */
export interface BatchOperation {
  id: string;
  method: BusinessCentralRequest['method'];
  /** Relative to the API root, with its query string. */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface BatchResult {
  id: string;
  status: number;
  body: unknown;
}

/** No HTTP answer: timed out or the connection failed. Its effect is unknown. */
export class BusinessCentralTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BusinessCentralTransportError';
  }
}

/**
 * No token: the token endpoint refused Concord's credentials (`refused`), or was not reachable or
 * answered 429/5xx (`unavailable`). Either way the API request was never sent, so its outcome is
 * certain: nothing happened.
 */
export class BusinessCentralAuthError extends Error {
  constructor(
    readonly status: number,
    readonly vendorCode: string | undefined,
    readonly kind: 'refused' | 'unavailable' = 'refused',
  ) {
    super(
      kind === 'refused'
        ? `the Business Central token endpoint refused the client credentials (${status}${vendorCode ? ` ${vendorCode}` : ''})`
        : `the Business Central token endpoint is unavailable (${status || 'no response'})`,
    );
    this.name = 'BusinessCentralAuthError';
  }
}

/** OData string literal: quotes doubled. */
export const odataString = (value: string) => `'${value.replace(/'/g, "''")}'`;

export interface BusinessCentralClient {
  request(request: BusinessCentralRequest): Promise<BusinessCentralResponse>;
  /** Send up to 100 operations as one JSON $batch request; the answers in the operations' order. */
  batch(operations: BatchOperation[], operation: string): Promise<BatchResult[]>;
  /** The API root URL, for building nextLinks' comparisons and logs. */
  readonly apiRoot: string;
}

export function createBusinessCentralClient(options: BusinessCentralClientOptions): BusinessCentralClient {
  const { timeoutMs = 10_000, concurrency = 20, onCall, scope = BUSINESS_CENTRAL_SCOPE } = options;
  const apiRoot = `${options.baseUrl.replace(/\/+$/, '')}/v2.0/${encodeURIComponent(options.tenant)}/${encodeURIComponent(options.environment)}/api/v2.0`;
  const gate = options.gate ?? createMemoryCapacityGovernor().gate({ system: 'ERP', vendor: 'businesscentral', account: `${options.tenant}/${options.environment}`, concurrency });
  let token: { value: string; expiresAt: number } | null = null;
  let pending: Promise<string> | null = null;

  async function timed(url: string, init: RequestInit, operation: string, method: string): Promise<BusinessCentralResponse> {
    const started = Date.now();
    let status = 0;
    let failure: unknown;
    const span = startVendorSpan({ system: 'ERP', vendor: 'businesscentral', operation, method, url });
    const headers = { ...(init.headers as Record<string, string>), ...span.headers };
    try {
      // The slot is held until the body is read: BC counts a request until its answer is sent.
      const { response, text } = await gate.run(async () => {
        const answer = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
        return { response: answer, text: await answer.text() };
      });
      status = response.status;
      let body: unknown = null;
      if (text) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = null; // an HTML page from a proxy
        }
      }
      return { status, headers: response.headers, body };
    } catch (error) {
      failure = error;
      // No room in the budget: the request was never sent (VENDOR_RATE_LIMITED from the governor).
      if (error instanceof ConcordError) throw error;
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new BusinessCentralTransportError('timeout', `Business Central ${operation} timed out after ${timeoutMs} ms`, { cause: error });
      }
      throw new BusinessCentralTransportError('network', `Business Central ${operation} failed: no response`, { cause: error });
    } finally {
      span.end(status, failure);
      onCall?.({ system: 'ERP', vendor: 'businesscentral', operation, status, durationMs: Date.now() - started });
    }
  }

  async function fetchToken(): Promise<string> {
    const response = await timed(
      options.tokenUrl,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: options.clientId, client_secret: options.clientSecret, scope }).toString(),
      },
      'oauth.token',
      'POST',
    ).catch(() => {
      throw new BusinessCentralAuthError(0, undefined, 'unavailable');
    });
    const body = response.body as { access_token?: unknown; expires_in?: unknown; error?: unknown } | null;
    if (response.status === 200 && typeof body?.access_token === 'string') {
      const lifetime = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3599);
      // Renew five minutes early (or at half-life for short tokens): a request must not carry a token that expires on the way.
      const margin = Math.min(300, lifetime / 2) * 1000;
      token = { value: body.access_token, expiresAt: Date.now() + lifetime * 1000 - margin };
      return token.value;
    }
    if (response.status >= 500 || response.status === 429) throw new BusinessCentralAuthError(response.status, undefined, 'unavailable');
    throw new BusinessCentralAuthError(response.status, typeof body?.error === 'string' ? body.error : undefined);
  }

  /** A valid token; concurrent callers share one token request. */
  async function accessToken(): Promise<string> {
    if (token && token.expiresAt > Date.now()) return token.value;
    pending ??= fetchToken().finally(() => {
      pending = null;
    });
    return pending;
  }

  function urlOf(request: BusinessCentralRequest): string {
    const url = new URL(/^https?:/.test(request.path) ? request.path : `${apiRoot}/${request.path.replace(/^\//, '')}`);
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    // OData wants %20, not '+', and keeps '$' and quotes readable.
    return url.toString().replace(/\+/g, '%20');
  }

  async function send(request: BusinessCentralRequest): Promise<BusinessCentralResponse> {
    const url = urlOf(request);
    for (let attempt = 0; ; attempt++) {
      const bearer = await accessToken();
      const headers: Record<string, string> = { accept: 'application/json', ...request.headers, authorization: `Bearer ${bearer}` };
      if (request.body !== undefined) headers['content-type'] = 'application/json';
      const response = await timed(url, { method: request.method, headers, body: request.body === undefined ? undefined : JSON.stringify(request.body) }, request.operation, request.method);
      if (response.status === 401 && attempt === 0) {
        // Expired or revoked early: one new token, then the answer stands.
        if (token?.value === bearer) token = null;
        continue;
      }
      return response;
    }
  }

  return {
    apiRoot,
    request: send,
    async batch(operations, operation) {
      if (operations.length === 0) return [];
      if (operations.length > 100) throw new Error('a Business Central $batch holds at most 100 operations');
      const response = await send({
        method: 'POST',
        path: '$batch',
        body: { requests: operations.map((op) => ({ id: op.id, method: op.method, url: op.url, headers: { 'content-type': 'application/json', ...op.headers }, ...(op.body === undefined ? {} : { body: op.body }) })) },
        operation,
      });
      if (response.status !== 200) return operations.map((op) => ({ id: op.id, status: response.status, body: response.body }));
      const answers = ((response.body as { responses?: BatchResult[] } | null)?.responses ?? []);
      const byId = new Map(answers.map((a) => [String(a.id), a]));
      return operations.map((op) => byId.get(op.id) ?? { id: op.id, status: 0, body: null });
    },
  };
}
