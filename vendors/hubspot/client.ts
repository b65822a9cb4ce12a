/**
 * The one HubSpot client of a process: the official @hubspot/api-client SDK (13.x, Node >= 18)
 * pointed at the configured base URL (real HubSpot, https://api.hubapi.com, or the simulator),
 * authenticated with a private-app access token (`pat-...`, sent as a Bearer token). The adapter
 * and the change feed share it, and every HTTP attempt passes the account's capacity gate, is
 * traced and is reported (onCall), through `call`.
 *
 * The SDK's own retries and Bottleneck limiter stay off (numberOfApiCallRetries 0, no
 * limiterOptions: src/client.ts getDecorators adds neither then): retries follow the HubSpot
 * policy (retry.ts) and the shared governor (core/capacity.ts) keeps the rate, one SDK call = one
 * HTTP request. A middleware (pre/post) adds the trace headers and reads each answer's status and
 * X-HubSpot-RateLimit-* headers. It is passed with every call (`callOptions`, merge strategy
 * 'append'): the generated APIs ignore the client-level `middleware` (and with it the SDK's own
 * User-Agent and httpAgent middleware) unless a call brings options of its own (ObservableAPI
 * starts from an empty list; HubSpot/hubspot-api-nodejs issues 560, 671, 683).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import https from 'node:https';
import { Client } from '@hubspot/api-client';
import type { CapacityGate } from '../../core/capacity';
import { startVendorSpan } from '../../core/tracing';
import type { VendorCallListener } from '../../core/vendor-call';
import { HubSpotTimeoutError, POLICY_NAME } from './errors';

/** What a real deployment configures for its HubSpot account. */
export interface HubSpotSettings {
  /** Private-app access token (HUBSPOT_ACCESS_TOKEN, `pat-...`). Never logged or put in an error. */
  accessToken: string;
  /** API base (HUBSPOT_BASE_URL). Default https://api.hubapi.com. */
  baseUrl?: string | null;
  /** Requests per rolling ten seconds the account allows a private app (HUBSPOT_REQUESTS_PER_10S). Default 190 (Professional/Enterprise). */
  requestsPerTenSeconds?: number;
  /** Search requests a second (HubSpot: 5 per account, HUBSPOT_SEARCH_PER_SECOND). Default 5. */
  searchPerSecond?: number;
  /** The custom object holding Concord's CRM contracts (HUBSPOT_CONTRACT_OBJECT_TYPE). Default p_concord_contracts. */
  contractObjectType?: string;
}

export const HUBSPOT_DEFAULT_BASE_URL = 'https://api.hubapi.com';

export interface HubSpotClientOptions extends HubSpotSettings {
  /** The account's gate (every call) and its search gate (search calls also pass it). Default none. */
  gate?: CapacityGate;
  searchGate?: CapacityGate;
  /** Give up on an answer after this many ms. Default 10000. */
  requestTimeoutMs?: number;
  onCall?: VendorCallListener;
}

interface CallState {
  operation: string;
  status: number;
  headers: Record<string, string>;
  spanHeaders: Record<string, string>;
  /** A 429's policyName (TEN_SECONDLY_ROLLING, SECONDLY, DAILY), which the SDK's Error model drops. */
  policyName?: string;
}

export interface HubSpotClient {
  sdk: Client;
  /** The options every SDK call must be given (the last argument): they carry the middleware. */
  callOptions: never;
  gate: CapacityGate | null;
  /**
   * One HubSpot request: through the gates (search ones through the search gate too), traced,
   * reported, within the request timeout. Rejects as the SDK does (errors.ts maps it).
   */
  call<T>(operation: string, request: () => Promise<T>, options?: { search?: boolean }): Promise<T>;
  /** The account's daily allocation as HubSpot last reported it (X-HubSpot-RateLimit-Daily[-Remaining]). */
  usage(): { used: number; max: number } | undefined;
  settings: Required<Pick<HubSpotSettings, 'contractObjectType'>> & { baseUrl: string };
}

const states = new AsyncLocalStorage<CallState>();

export function createHubSpotClient(options: HubSpotClientOptions): HubSpotClient {
  const { accessToken, gate, searchGate, onCall, requestTimeoutMs = 10_000 } = options;
  const baseUrl = (options.baseUrl || HUBSPOT_DEFAULT_BASE_URL).replace(/\/+$/, '');
  let daily: { used: number; max: number } | undefined;
  const agent = baseUrl.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const sdk = new Client({ accessToken, basePath: baseUrl, numberOfApiCallRetries: 0, httpAgent: agent });
  const middleware = [
      {
        async pre(context: unknown) {
          const state = states.getStore();
          const request = context as { setHeaderParam(name: string, value: string): void };
          for (const [name, value] of Object.entries(state?.spanHeaders ?? {})) request.setHeaderParam(name, value);
          return context;
        },
        async post(context: unknown) {
          const state = states.getStore();
          const response = context as { httpStatusCode: number; headers: Record<string, string>; body: { text(): Promise<string>; binary(): Promise<Buffer> } };
          if (state) {
            state.status = response.httpStatusCode;
            state.headers = response.headers ?? {};
          }
          if (response.httpStatusCode === 429 && state) {
            // The body is read once here and handed on unchanged, so the policy name is not lost.
            const text = await response.body.text();
            try {
              const policy = (JSON.parse(text) as { policyName?: unknown }).policyName;
              if (typeof policy === 'string') state.policyName = policy;
            } catch {
              // Not JSON: the SDK reports it as it is.
            }
            response.body = { text: async () => text, binary: async () => Buffer.from(text) };
          }
          const max = Number(response.headers?.['x-hubspot-ratelimit-daily']);
          const remaining = Number(response.headers?.['x-hubspot-ratelimit-daily-remaining']);
          if (Number.isFinite(max) && max > 0 && Number.isFinite(remaining)) {
            daily = { used: Math.max(0, max - remaining), max };
            gate?.report(daily);
          }
          return context;
        },
      },
  ];
  const callOptions = { middleware, middlewareMergeStrategy: 'append' } as never;

  async function attempt<T>(operation: string, request: () => Promise<T>): Promise<T> {
    const span = startVendorSpan({ system: 'CRM', vendor: 'hubspot', operation, method: 'POST', url: baseUrl });
    const state: CallState = { operation, status: 0, headers: {}, spanHeaders: span.headers };
    const started = Date.now();
    const report = () => {
      try {
        onCall?.({ system: 'CRM', vendor: 'hubspot', operation, status: state.status, durationMs: Date.now() - started, ...(daily ? { limit: { ...daily } } : {}) });
      } catch {
        // A failing listener must never fail the vendor call it observes.
      }
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      // The SDK has no request timeout of its own (node-fetch without `timeout`): a deadline here.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HubSpotTimeoutError(`no answer within ${requestTimeoutMs} ms`)), requestTimeoutMs);
      });
      const result = await Promise.race([states.run(state, request), deadline]);
      span.end(state.status);
      return result;
    } catch (error) {
      span.end(state.status, error);
      if (state.policyName && error && typeof error === 'object') Object.defineProperty(error, POLICY_NAME, { value: state.policyName });
      throw error;
    } finally {
      clearTimeout(timer);
      report();
    }
  }

  return {
    sdk,
    callOptions,
    gate: gate ?? null,
    settings: { baseUrl, contractObjectType: options.contractObjectType || 'p_concord_contracts' },
    usage: () => daily,
    call(operation, request, callOptions = {}) {
      const run = () => attempt(operation, request);
      const gated = gate ? () => gate.run(run) : run;
      // Search has its own per-second limit on top of the account's (HubSpot CRM search guide, "Limitations").
      return callOptions.search && searchGate ? searchGate.run(gated) : gated();
    },
  };
}
