/**
 * The gateway: @apollo/gateway over the composed supergraph, served by @apollo/server on a plain
 * Node HTTP server that also answers /health and /ready. Requests to subgraphs are signed with
 * CONCORD_SUBGRAPH_SECRET and carry the caller's correlation id and verified principal.
 *
 * A /graphql request is authenticated (gateway/auth.ts), rate limited per subject
 * (gateway/rate-limit.ts), read up to the body limit, then admitted (gateway/admission.ts:
 * persisted queries, parse, validation, limits, authorization) before Apollo plans or executes it.
 * `auth` decides who may call: a verified token always ('required'), when one is sent ('optional':
 * anonymous callers get only fields without @authenticated/@requiresScopes), or nobody is checked
 * ('off', never in production).
 *
 * The supergraph can be swapped while serving (RunningGateway.updateSupergraph; the standalone
 * gateway's file watch, gateway/standalone.ts): @apollo/gateway's `update` gives new requests the
 * new schema and plans while requests in flight finish on theirs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { AuthMode } from '../core/config';
import { ConcordError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Tracing } from '../core/tracing';
import { runReadinessChecks, type ReadinessCheck } from '../core/readiness';
import { CACHE_CONTROL_HEADER, wantsNoCache } from '../core/entity-cache';
import { PRINCIPAL_HEADER, encodePrincipal } from '../core/principal';
import { SIGNATURE_HEADER, signRequest } from '../core/signing';
import { Rejection, createAdmission, denialsPlugin, type GraphQLParams } from './admission';
import type { GatewaySecurityOptions } from './auth-options';
import { createAuthenticator, type Principal } from './auth';
import { policyFromSupergraph, supergraphForGateway, type AuthorizationPolicy, type Denial } from './authorization';
import { FailureLimiter } from './connection-limits';
import { csrfRefusal } from './csrf';
import { correlationPlugin, formatGatewayError } from './errors';
import { withExecutionErrorsAsGraphQL } from './executor-errors';
import { readBody, sendGraphQLError, sendJson } from './http';
import { createLiveEvents, type GatewayEventsOptions } from './live-events';
import { DEFAULT_LIMITS, subgraphOwnership, type SubgraphOwnership } from './limits';
import { createPersistedQueries, loadSafelist } from './persisted';
import type { Metrics } from '../observability/metrics';
import { createGatewayObservability, type ObservedRequest } from './observability';
import { isIdeAsset, serveIde, wantsIde } from './ide/ide';
import { serveOpsConsole } from './ops/console';
import { createUpstreamSubscriptions, type UpstreamSubscriptionsOptions } from './standalone-subscriptions';
import { attachWebSocketTransport, wsAddressOf, type WebSocketTransport } from './subscriptions-ws';
import { SupergraphError, supergraphId, validateSupergraph, type SupergraphInfo } from './supergraph-source';
import { createMemoryRateLimiter, createRedisRateLimiter, createUnlimitedRateLimiter, type RateLimiter } from './rate-limit';
import { leanSendRequest, subgraphFetch } from './subgraph-http';
import { createExecutionGate, OverloadedError, type ExecutionGateOptions } from './overload';
import { dedupingDataSource } from './fetch-dedup';

export const CORRELATION_HEADER = 'x-correlation-id';

export interface GatewayContext {
  correlationId: string;
  /** Null: an anonymous caller (auth 'optional' without a token, or auth 'off'). */
  principal: Principal | null;
  /** FORBIDDEN errors for the fields authorization removed before execution. */
  denials?: Denial[];
  /** The HTTP request's metrics and log record, for the observability plugin (gateway/observability.ts). */
  observed?: ObservedRequest;
  /** The client sent `cache-control: no-cache`: subgraphs read through the entity cache (core/entity-cache.ts). */
  noCache?: boolean;
}

export interface GatewayOptions {
  /** Composed supergraph SDL (schema/supergraph.graphql); the first one, when it is swapped later. */
  supergraphSdl: string;
  /**
   * Which of several gateway processes this is (gateway/cluster.ts: `1`..`N`), sent on every answer
   * as `x-concord-process` so that an operator (and the cluster test) can tell which process served
   * a request. Null (default, one process): no header.
   */
  processLabel?: string | null;
  /** Subgraph name -> URL, replacing the supergraph's `@join__graph` URLs. Default: none replaced. */
  subgraphUrls?: Record<string, string>;
  /** Secret to sign subgraph requests with; null = send unsigned. */
  subgraphSecret: string | null;
  /** HS256 secret that bearer tokens are verified with; null = HS256 tokens refused (JWKS only). */
  jwtSecret: string | null;
  /** JWKS, limits, rate limits, persisted queries (gateway/auth-options.ts). Default: see each field. */
  security?: GatewaySecurityOptions;
  logger: Logger;
  /** Production turns introspection off. Default false. */
  production?: boolean;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Longest wait for one subgraph fetch, in ms. Default 15000. */
  subgraphTimeoutMs?: number;
  /** Live events: subscriptions over graphql-ws on /graphql, webhooks (gateway/live-events.ts). Default: off. */
  events?: GatewayEventsOptions;
  /**
   * Who may call: 'required' (a verified token), 'optional' (a token is verified when sent; without
   * one, only fields with no @authenticated/@requiresScopes are served), 'off' (no checks: local
   * development only, refused when `production`). Default 'required'.
   */
  auth?: AuthMode;
  /**
   * How /ready checks a subgraph: GET its /health (alive only), or a `{ __typename }` query signed
   * like every subgraph request (any GraphQL server answers it; Concord's subgraphs answer only when
   * the gateway's CONCORD_SUBGRAPH_SECRET is theirs). Default 'health'.
   */
  readinessProbe?: 'health' | 'graphql';
  /** Hide foreign subgraph error messages (gateway/errors.ts GatewayErrorOptions). Default false: passed on as DOWNSTREAM_SERVICE_ERROR. */
  maskSubgraphErrors?: boolean;
  /** More of what /ready waits for (Redis, vendors: core/readiness.ts), reported under `checks`. Default none. */
  readinessChecks?: Record<string, ReadinessCheck>;
  /** Subscriptions resolved by the subgraphs themselves, over graphql-ws (gateway/standalone-subscriptions.ts); not with `events`. Default: off. */
  upstreamSubscriptions?: UpstreamSubscriptionsOptions;
  /** Prometheus metrics (observability/metrics.ts), served at GET /metrics. Default: none, and no /metrics. */
  metrics?: Metrics;
  /** Bearer token GET /metrics requires (CONCORD_METRICS_TOKEN). Default null: open. */
  metricsToken?: string | null;
  /** Spans of requests and subgraph fetches, continuing a client's `traceparent` (core/tracing.ts). Default: none. */
  tracing?: Tracing;
  /** Serve the GraphQL IDE (GraphiQL) to browsers opening /graphql (gateway/ide/ide.ts; CONCORD_GRAPHIQL). Default false. */
  ide?: boolean;
  /**
   * Executions in flight and the FIFO queue before them (gateway/overload.ts; CONCORD_MAX_IN_FLIGHT,
   * CONCORD_QUEUE_LENGTH, CONCORD_QUEUE_WAIT_MS); beyond them a 503 SERVICE_UNAVAILABLE with Retry-After.
   * Default: 32 in flight, 16 queued, 500 ms wait.
   */
  overload?: Pick<ExecutionGateOptions, 'maxInFlight' | 'queueLength' | 'queueWaitMs'>;
  /** Share identical query fetches to a subgraph while one is in flight (gateway/fetch-dedup.ts; CONCORD_FETCH_DEDUP). Default true. */
  dedupFetches?: boolean;
}

export interface RunningGateway {
  url: string;
  port: number;
  /** Subgraph name -> URL the gateway is using. */
  subgraphs: Record<string, string>;
  /** The supergraph being served: sha256 of its SDL and when it was loaded. */
  supergraph(): { id: string; loadedAt: string };
  /**
   * Validate `sdl` and swap it in: new requests get its schema and plans, requests (and upstream
   * subscriptions) in flight finish on the old ones. Throws SupergraphError, and the old one keeps serving.
   */
  updateSupergraph(sdl: string): SupergraphInfo;
  close(): Promise<void>;
}

/** `@join__graph(name: "crm", url: "http://...")` entries of a supergraph. */
export function supergraphSubgraphUrls(supergraphSdl: string): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const m of supergraphSdl.matchAll(/@join__graph\(name:\s*"([^"]+)",\s*url:\s*"([^"]*)"\)/g)) urls[m[1]] = m[2];
  return urls;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Auth 'off': nothing is required of anyone. */
const NO_REQUIREMENTS: AuthorizationPolicy = { size: 0, fieldRequirement: () => undefined };

function correlationIdOf(req: http.IncomingMessage): string {
  const given = req.headers[CORRELATION_HEADER];
  return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
}

/** Who /ready's subgraph probe is: no scopes, no customer; `{ __typename }` needs neither. */
const READINESS_PRINCIPAL: Principal = Object.freeze({ subject: 'concord-readiness-probe', scopes: new Set<string>(), customerId: null });

/** Principal header values, encoded once per principal: a cached token's principal serves all its requests (gateway/auth.ts). */
const principalHeaders = new WeakMap<Principal, string>();
function principalHeader(principal: Principal): string {
  let value = principalHeaders.get(principal);
  if (value === undefined) principalHeaders.set(principal, (value = encodePrincipal(principal)));
  return value;
}

/** The vendor system behind a subgraph of Concord's own supergraph, when it has one. */
const SYSTEM_OF_SUBGRAPH: Record<string, string> = { crm: 'CRM', billing: 'BILLING', erp: 'ERP' };

/**
 * A subgraph that does not answer in time is waiting on its vendor (adapters bound their own calls,
 * but a slow vendor plus retries can outlast the gateway's patience): VENDOR_UNAVAILABLE, with the
 * system when the subgraph is one system's, and retryable. Apollo's executor keeps a GraphQLError
 * thrown by the fetcher as it is (executeQueryPlan pushes it to the response's errors).
 */
export function subgraphTimeoutError(subgraph: string, timeoutMs: number): GraphQLError {
  const system = SYSTEM_OF_SUBGRAPH[subgraph];
  return new GraphQLError(`the ${subgraph} subgraph did not answer within ${timeoutMs} ms; try again`, {
    extensions: { code: 'VENDOR_UNAVAILABLE', ...(system ? { system } : {}), retryable: true, serviceName: subgraph },
  });
}

/** Header naming the gateway process that answered, when there are several (GatewayOptions.processLabel). */
export const PROCESS_HEADER = 'x-concord-process';

/** The path of a subgraph URL (parsed once per URL: the fetcher sees the same few URLs). */
const paths = new Map<string, string>();
function pathOf(url: string): string {
  let path = paths.get(url);
  if (path === undefined) {
    path = new URL(url).pathname;
    if (paths.size < 1000) paths.set(url, path);
  }
  return path;
}

/** Subgraph fetches on pooled keep-alive sockets (gateway/subgraph-http.ts) with a timeout and, when a secret is set, the gateway's signature over principal and body. */
function subgraphFetcher(secret: string | null, timeoutMs: number, subgraph: string): Fetcher {
  return (async (url: string, init: { body?: string; headers?: Record<string, string>; method?: string } = {}) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (secret !== null) {
      // Bound to this subgraph, method and path, once (core/signing.ts).
      headers[SIGNATURE_HEADER] = signRequest(secret, { method: init.method ?? 'POST', path: pathOf(url), subgraph, body: init.body ?? '', principal: headers[PRINCIPAL_HEADER] });
    }
    try {
      return await subgraphFetch(url, { ...init, headers }, timeoutMs);
    } catch (error) {
      if (error instanceof DOMException && error.name === 'TimeoutError') throw subgraphTimeoutError(subgraph, timeoutMs);
      throw error;
    }
  }) as unknown as Fetcher;
}

export function createGateway(options: GatewayOptions) {
  const {
    supergraphSdl,
    subgraphUrls = {},
    subgraphSecret,
    jwtSecret,
    security = {},
    logger,
    production = false,
    maxBodyBytes = 1024 * 1024,
    subgraphTimeoutMs = 15_000,
    events,
    auth = 'required',
    readinessProbe = 'health',
    readinessChecks = {},
    maskSubgraphErrors = false,
    upstreamSubscriptions,
    metrics,
    metricsToken = null,
    tracing,
    ide = false,
    overload = {},
    dedupFetches = true,
    processLabel = null,
  } = options;
  if (auth === 'off' && production) throw new Error('auth "off" is for local development only; refused in production');
  if (events && upstreamSubscriptions) throw new Error('live events and upstream subscriptions both serve WebSocket on /graphql: choose one');
  const subgraphs = { ...supergraphSubgraphUrls(supergraphSdl), ...subgraphUrls };
  // Request spans and timings, subgraph fetch spans (traceparent) and timings, /metrics (gateway/observability.ts).
  const observability = createGatewayObservability({ metrics, tracing, subgraphs, metricsToken, logger: logger.child({ component: 'gateway' }) });
  const fetchers = new Map<string, Fetcher>();
  const fetcherFor = (name: string): Fetcher => {
    let fetcher = fetchers.get(name);
    if (!fetcher) fetchers.set(name, (fetcher = observability.fetcher(subgraphFetcher(subgraphSecret, subgraphTimeoutMs, name))));
    return fetcher;
  };
  // The readiness probe is signed for the subgraph it asks (a signature names its target subgraph).
  const probe = (name: string) => subgraphFetcher(subgraphSecret, 2000, name);
  const { requestTimeoutMs = 30_000 } = security;
  // Executions in flight, bounded, with a short FIFO queue before them (gateway/overload.ts).
  const gate = createExecutionGate({ ...overload, onShed: (reason) => metrics?.gatewayShed(reason) });
  metrics?.watch({ executions: () => gate.stats() });

  const authenticator = createAuthenticator({
    hs256Secret: jwtSecret,
    jwksUrl: security.jwksUrl,
    jwks: security.jwks,
    issuer: security.jwtIssuer,
    audience: security.jwtAudience,
    maxLifetimeSeconds: security.jwtMaxLifetimeSeconds,
  });
  // Failed authentications per client address, HTTP and WebSocket alike (gateway/connection-limits.ts).
  const authFailures = new FailureLimiter({ maxFailures: security.authFailuresPerMinute ?? 50, windowMs: 60_000 });
  const rateLimiter: RateLimiter = !security.rateLimit
    ? createUnlimitedRateLimiter()
    : security.redisUrl
      ? createRedisRateLimiter({
          ...security.rateLimit,
          url: security.redisUrl,
          prefix: security.redisPrefix,
          onError: (error) => logger.warn({ err: error }, 'rate limiter connection error; reconnecting'),
        })
      : createMemoryRateLimiter(security.rateLimit);
  const safelist = security.safelistDir ? loadSafelist(security.safelistDir) : null;
  if (safelist) logger.info({ operations: safelist.size, dir: security.safelistDir }, 'safelist mode: only listed operations run');
  let apiSchema: GraphQLSchema | null = null;
  let policy: AuthorizationPolicy | null = null;
  // Which subgraph resolves each field: admission bounds the plan's fetches before planning (gateway/limits.ts).
  let ownership: SubgraphOwnership | null = null;
  /** The supergraph @apollo/gateway serves now (as handed to it), its id and load time. */
  let current: { sdl: string; id: string; loadedAt: string } | null = null;
  let swap: ((sdl: string) => void) | null = null;
  const admission = createAdmission({
    schema: () => apiSchema,
    policy: () => policy,
    ownership: () => ownership,
    limits: { ...DEFAULT_LIMITS, ...security.limits },
    maxTokens: security.maxTokens ?? 5000,
    maxStringLength: security.maxStringLength,
    cacheBytes: security.admissionCacheBytes,
    persisted: createPersistedQueries({ apq: security.apq ?? true, safelist }),
    production,
  });

  // Subscriptions execute query plans with the same data sources as HTTP (signing, principal header).
  const dataSources: Record<string, GraphQLDataSource> = {};
  const live = events
    ? createLiveEvents(events, {
        supergraphSdl: supergraphForGateway(supergraphSdl),
        logger,
        production,
        authenticate: (authorization) => authenticator.authenticate(authorization),
        admit: (params, principal) => admission.admit(params, principal),
        dataSources: () => dataSources,
        rateLimit: (subject) => rateLimiter.take(subject).catch(() => null),
        authFailures,
      })
    : null;
  const localSubgraphs = live?.localDataSources ?? {};
  if (live) metrics?.watch({ subscriptions: () => live.stats() });
  metrics?.watch({ ready: async () => (await ready()).ready });

  /** The caller under the auth mode: null = anonymous. Throws UNAUTHENTICATED (or a 503 INTERNAL: identity provider down). */
  async function principalOf(authorization: string | null | undefined): Promise<Principal | null> {
    if (auth === 'off') return null;
    // A token that is sent is verified, in either mode: a bad one is a 401, never "anonymous".
    if (auth === 'optional' && !authorization) return null;
    return authenticator.authenticate(authorization);
  }
  const upstream = upstreamSubscriptions
    ? createUpstreamSubscriptions(upstreamSubscriptions, {
        logger: logger.child({ component: 'subscriptions' }),
        authenticate: principalOf,
        admit: (params, principal) => admission.admit(params, principal),
        supergraphSdl: () => current?.sdl ?? null,
        dataSources: () => dataSources,
        subgraphUrl: (name) => subgraphs[name],
        subgraphSecret,
        // The same WebSocket limits as live events: subscribes take from the rate limit, failed
        // authentications count per address (gateway/subscription-service.ts).
        rateLimit: (key) => rateLimiter.take(key).catch(() => null),
        authFailures,
        addressOf: wsAddressOf,
      })
    : null;
  let upstreamTransport: WebSocketTransport | null = null;

  const gateway = new ApolloGateway({
    // Authorization is enforced by the admission step (gateway/authorization.ts), before planning.
    // A hook rather than a string: its `update` swaps the supergraph at run time (updateSupergraph).
    supergraphSdl: async ({ update }) => {
      swap = update;
      return { supergraphSdl: supergraphForGateway(supergraphSdl) };
    },
    buildService: ({ name, url }) => {
      if (localSubgraphs[name]) return (dataSources[name] = localSubgraphs[name]);
      const remote = new RemoteGraphQLDataSource<GatewayContext>({
        ...leanSendRequest,
        url: subgraphUrls[name] ?? url,
        fetcher: fetcherFor(name),
        willSendRequest({ request, context }) {
          if (context.correlationId) request.http?.headers.set(CORRELATION_HEADER, context.correlationId);
          // Signed with the body by the fetcher. No principal, no header: the subgraph answers 401.
          if (context.principal) request.http?.headers.set(PRINCIPAL_HEADER, principalHeader(context.principal));
          if (context.noCache) request.http?.headers.set(CACHE_CONTROL_HEADER, 'no-cache');
        },
      });
      // Identical query fetches in flight are sent once: the caller as the subgraph sees it (the
      // principal header) is part of what must be identical (gateway/fetch-dedup.ts).
      return (dataSources[name] = dedupFetches
        ? dedupingDataSource<GatewayContext>(remote, {
            subgraph: name,
            callerKey: (context) => {
              const { principal, noCache } = context as { principal?: Principal | null; noCache?: boolean };
              // A no-cache fetch must not be answered by one that may be served from the cache.
              return `${principal ? principalHeader(principal) : ''}${noCache ? '\nno-cache' : ''}`;
            },
            onShared: (subgraph) => metrics?.subgraphFetchShared(subgraph),
          })
        : remote);
    },
  });

  // The API schema and the authorization policy, from the supergraph the gateway loaded.
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema, coreSupergraphSdl }) => {
    apiSchema = schema;
    policy = auth === 'off' ? NO_REQUIREMENTS : policyFromSupergraph(coreSupergraphSdl);
    ownership = subgraphOwnership(coreSupergraphSdl);
    current = { sdl: coreSupergraphSdl, id: current?.id ?? supergraphId(supergraphSdl), loadedAt: new Date().toISOString() };
  });

  function updateSupergraph(sdl: string): SupergraphInfo {
    // Live events plan subscriptions against the supergraph they started with (gateway/live-events.ts).
    if (live) throw new SupergraphError('the supergraph cannot be swapped while live events are on');
    if (!swap) throw new SupergraphError('the gateway has not loaded its first supergraph yet');
    const info = validateSupergraph(sdl, { subgraphUrls });
    const id = info.id;
    swap(supergraphForGateway(sdl));
    if (current) current = { ...current, id };
    for (const name of Object.keys(subgraphs)) delete subgraphs[name];
    Object.assign(subgraphs, info.subgraphs);
    return info;
  }

  const apollo = new ApolloServer<GatewayContext>({
    // A query-planning failure answers as a GraphQL error, not a bare 500 (gateway/executor-errors.ts).
    gateway: withExecutionErrorsAsGraphQL(gateway, logger),
    introspection: !production,
    hideSchemaDetailsFromClientErrors: production,
    includeStacktraceInErrorResponses: false,
    // Persisted queries are resolved by the admission step, which must see the query text.
    persistedQueries: false,
    parseOptions: { maxTokens: security.maxTokens ?? 5000 },
    // Every operation Apollo executes was validated by admission (gateway/admission.ts), with the
    // same rules, after the size bounds that keep validation cheap; validating it again here would
    // double the most expensive step of a request. (Apollo Server's dangerouslyDisableValidation:
    // "When set to true, disable validation of graphql operations entirely"; admission is the
    // only way in: handleGraphQL calls executeHTTPGraphQLRequest with what admission returned.)
    dangerouslyDisableValidation: true,
    formatError: (formatted) => formatGatewayError(formatted, { maskSubgraphErrors, production }),
    plugins: [ApolloServerPluginLandingPageDisabled(), denialsPlugin<GatewayContext>(), correlationPlugin<GatewayContext>(), observability.plugin<GatewayContext>()],
  });

  async function ready(): Promise<{ ready: boolean; subgraphs: Record<string, string>; checks?: Record<string, string> }> {
    const others = Object.keys(readinessChecks).length > 0 ? runReadinessChecks(readinessChecks) : null;
    const results = await Promise.all(
      Object.entries(subgraphs).filter(([name]) => !(name in localSubgraphs)).map(async ([name, url]) => {
        try {
          if (readinessProbe === 'graphql') {
            // Any GraphQL server answers this (@apollo/gateway's own health check query), signed as usual.
            const response = (await probe(name)(url, {
              method: 'POST',
              // Signed with a principal, as every gateway request is: a Concord subgraph refuses a signature without one (401).
              headers: { 'content-type': 'application/json', [PRINCIPAL_HEADER]: principalHeader(READINESS_PRINCIPAL) },
              body: JSON.stringify({ query: 'query __ApolloServiceHealthCheck__ { __typename }' }),
            })) as unknown as Response;
            if (!response.ok) return [name, `down (${response.status})`] as const;
            const body = (await response.json().catch(() => null)) as { data?: { __typename?: unknown } } | null;
            return [name, body?.data?.__typename ? 'up' : 'down (no GraphQL answer)'] as const;
          }
          // /ready, not /health: a subgraph that is alive but cannot reach what it needs (the
          // orchestration subgraph without Redis) is not ready either.
          const response = await fetch(url.replace(/\/graphql$/, '/ready'), { signal: AbortSignal.timeout(2000) });
          return [name, response.ok ? 'up' : `down (${response.status})`] as const;
        } catch {
          return [name, 'down (no answer)'] as const;
        }
      }),
    );
    const subgraphsUp = apiSchema !== null && results.every(([, state]) => state === 'up');
    if (!others) return { ready: subgraphsUp, subgraphs: Object.fromEntries(results) };
    const { ready: othersUp, checks } = await others;
    return { ready: subgraphsUp && othersUp, subgraphs: Object.fromEntries(results), checks };
  }

  function sendRejection(res: http.ServerResponse, rejection: Rejection, correlationId: string, headers: Record<string, string> = {}): void {
    const errors = rejection.errors.map(({ message, code, path, locations }) => ({
      message,
      ...(locations ? { locations } : {}),
      ...(path ? { path } : {}),
      extensions: { code, correlationId },
    }));
    // A fully forbidden operation answers data: null, as execution would have.
    const body = rejection.status === 403 && rejection.errors.some((e) => e.path) ? { data: null, errors } : { errors };
    sendJson(res, rejection.status, body, { [CORRELATION_HEADER]: correlationId, ...headers });
  }

  /** 503 SERVICE_UNAVAILABLE with Retry-After: the gateway is at capacity (gateway/overload.ts). */
  function shed(res: http.ServerResponse, error: OverloadedError, correlationId: string): void {
    res.setHeader('retry-after', String(error.retryAfterSeconds));
    sendGraphQLError(res, 503, error, correlationId);
  }

  /** The GraphQL parameters of a GET (URL) or POST (JSON body) request. */
  async function paramsOf(req: http.IncomingMessage, url: URL): Promise<GraphQLParams> {
    if (req.method === 'GET') {
      const json = (name: string) => {
        const raw = url.searchParams.get(name);
        if (raw === null || raw === '') return undefined;
        try {
          return JSON.parse(raw) as unknown;
        } catch {
          throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', `${name} is not valid JSON`));
        }
      };
      return {
        query: url.searchParams.get('query') ?? undefined,
        operationName: url.searchParams.get('operationName') ?? undefined,
        variables: json('variables'),
        extensions: json('extensions'),
      };
    }
    let text: string;
    try {
      text = await readBody(req, maxBodyBytes);
    } catch (error) {
      if (error instanceof ConcordError) throw Rejection.of(413, error);
      throw error;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', 'request body is not valid JSON'));
    }
    if (Array.isArray(body)) throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', 'batched requests are not supported'));
    if (typeof body !== 'object' || body === null) throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', 'request body must be a JSON object'));
    return body as GraphQLParams;
  }

  async function graphql(req: http.IncomingMessage, res: http.ServerResponse, url: URL, correlationId: string, observed: ObservedRequest): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return sendRejection(res, Rejection.of(405, new ConcordError('BAD_USER_INPUT', 'use GET or POST')), correlationId, { allow: 'GET, POST' });
    }
    const forgery = csrfRefusal(req.headers);
    if (forgery) return sendRejection(res, Rejection.of(400, forgery), correlationId);
    // At capacity, a request is refused before anything is spent on it (the body is not read).
    const full = gate.refuseEarly();
    if (full) return shed(res, full, correlationId);
    const address = req.socket.remoteAddress ?? 'unknown';
    const blocked = authFailures.blockedFor(address);
    if (blocked > 0) {
      res.setHeader('retry-after', String(blocked));
      return sendGraphQLError(res, 429, new ConcordError('RATE_LIMITED', 'too many failed authentications from this address; retry later', { retryAfterSeconds: blocked }), correlationId);
    }
    let principal: Principal | null;
    try {
      principal = await principalOf(req.headers.authorization);
    } catch (error) {
      const failure = error instanceof ConcordError ? error : new ConcordError('UNAUTHENTICATED', 'invalid token');
      const status = failure.code === 'UNAUTHENTICATED' ? 401 : 503;
      if (status === 401) authFailures.recordFailure(address);
      if (status === 503) logger.error({ err: error, correlationId }, 'token verification failed: identity provider keys unavailable');
      res.setHeader('www-authenticate', 'Bearer realm="concord"');
      return sendGraphQLError(res, status, failure, correlationId);
    }
    // Rate limits come before the body is read: a flood costs one bucket check per request.
    // Anonymous callers (auth optional or off) share a bucket per client address.
    const decision = await rateLimiter.take(principal?.subject ?? `anonymous@${req.socket.remoteAddress ?? 'unknown'}`).catch((error: unknown) => {
      // Fail open: a Redis outage must not take the API down with it (logged, and /ready says so).
      logger.warn({ err: error, correlationId }, 'rate limiter unavailable; request let through');
      return null;
    });
    if (decision && !decision.allowed) {
      const limited = new ConcordError('RATE_LIMITED', 'too many requests for this token; retry later', { retryAfterSeconds: decision.retryAfterSeconds });
      res.setHeader('retry-after', String(decision.retryAfterSeconds));
      return sendGraphQLError(res, 429, limited, correlationId);
    }

    let admitted;
    try {
      admitted = admission.admit(await paramsOf(req, url), principal);
    } catch (error) {
      if (error instanceof Rejection) {
        if (error.status === 413) res.setHeader('connection', 'close');
        return sendRejection(res, error, correlationId);
      }
      throw error;
    }
    observability.operation(observed, admitted.operationName, admitted.operationType);
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && key !== 'content-length') headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    if (admitted.operationType === 'subscription') {
      const overHttp = new ConcordError('BAD_USER_INPUT', 'subscriptions are served over WebSocket (graphql-ws) on this path');
      return sendRejection(res, Rejection.of(400, overHttp), correlationId);
    }
    const { query, variables, operationName, extensions, denials } = admitted;
    let search = url.search;
    let body: unknown;
    if (req.method === 'GET') {
      const params = new URLSearchParams({ query });
      if (operationName) params.set('operationName', operationName);
      if (variables) params.set('variables', JSON.stringify(variables));
      if (extensions) params.set('extensions', JSON.stringify(extensions));
      search = `?${params.toString()}`;
    } else {
      // Only present keys: Apollo checks `'extensions' in body`, and undefined is not an object.
      body = { query, ...(variables ? { variables } : {}), ...(operationName ? { operationName } : {}), ...(extensions ? { extensions } : {}) };
    }
    // A slot among the executions in flight, or a fast 503 when the gateway is at capacity.
    let release;
    try {
      release = await gate.acquire();
    } catch (error) {
      if (!(error instanceof OverloadedError)) throw error;
      return shed(res, error, correlationId);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), requestTimeoutMs);
    });
    const execution = apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'POST', headers, search, body },
      context: async () => ({ correlationId, principal, denials, observed, noCache: wantsNoCache(req.headers['cache-control']) }),
    });
    // The slot is held until the execution ends, also when the client was answered 504 before it.
    void execution.then(release, release);
    const response = await Promise.race([execution, timedOut]).finally(() => clearTimeout(timer));
    if (response === 'timeout') {
      logger.warn({ correlationId, subject: principal?.subject ?? null, timeoutMs: requestTimeoutMs }, 'graphql request timed out');
      const late = new ConcordError('INTERNAL', `the request took longer than ${requestTimeoutMs} ms`, { retryable: true });
      return sendGraphQLError(res, 504, late, correlationId);
    }
    const out: Record<string, string> = { [CORRELATION_HEADER]: correlationId };
    for (const [key, value] of response.headers) out[key] = value;
    res.writeHead(response.status ?? 200, out);
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    switch (url.pathname) {
      case '/health':
        // 200 once a supergraph is loaded (the server listens only after the first one is).
        return current ? sendJson(res, 200, { status: 'ok', supergraph: { id: current.id, loadedAt: current.loadedAt } }) : sendJson(res, 503, { status: 'loading' });
      case '/ready': {
        const state = await ready();
        return sendJson(res, state.ready ? 200 : 503, state);
      }
      case '/graphql': {
        if (ide && wantsIde(req, url)) return serveIde(req, res, url.pathname);
        const correlationId = correlationIdOf(req);
        return observability.graphql(req, res, correlationId, (observed) => graphql(req, res, url, correlationId, observed));
      }
      case '/metrics':
        return observability.serveMetrics(req, res);
      default:
        if (url.pathname === '/ops' || url.pathname.startsWith('/ops/')) return serveOpsConsole(req, res, url.pathname);
        if (ide && isIdeAsset(url.pathname)) return serveIde(req, res, url.pathname);
        if (live && (await live.handleWebhook(req, res, url.pathname))) return;
        return sendJson(res, 404, { error: `no route ${url.pathname}` });
    }
  }

  return {
    async listen(port = 0, host = '127.0.0.1'): Promise<RunningGateway> {
      await apollo.start();
      const server = http.createServer((req, res) => {
        if (processLabel !== null) res.setHeader(PROCESS_HEADER, processLabel);
        handle(req, res).catch((error) => {
          logger.error({ err: error }, 'gateway request failed');
          if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal error', extensions: { code: 'INTERNAL' } }] });
          else res.end();
        });
      });
      server.keepAliveTimeout = 65_000;
      // Slow clients (slowloris): headers within 20 s, the whole request within the request timeout.
      server.headersTimeout = 20_000;
      server.requestTimeout = requestTimeoutMs + 5_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      live?.attach(server);
      if (upstream) upstreamTransport = attachWebSocketTransport(server, upstream, { production, logger, maxConnectionsPerAddress: upstreamSubscriptions?.maxConnectionsPerAddress });
      const address = server.address() as AddressInfo;
      return {
        url: `http://${host}:${address.port}`,
        port: address.port,
        subgraphs,
        supergraph: () => ({ id: current!.id, loadedAt: current!.loadedAt }),
        updateSupergraph,
        close: async () => {
          await live?.close();
          await upstreamTransport?.close();
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await apollo.stop();
          await rateLimiter.close();
        },
      };
    },
  };
}
