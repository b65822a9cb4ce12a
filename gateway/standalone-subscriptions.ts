/**
 * Subscriptions of any supergraph, served by the subgraphs that own them: the standalone gateway's
 * source of the gateway's one subscription service (gateway/subscription-service.ts: connections,
 * limits, admission and error shaping, the same as for Concord's own live events;
 * gateway/subscriptions-ws.ts is the transport).
 *
 * Concord's bundled subscriptions (businessEvents, customerEvents, orderToCashRunUpdated) are read
 * from Concord's event log inside the full system's gateway (gateway/live-events.ts). A supergraph
 * of other teams' subgraphs has no such log: its Subscription fields are resolved by the subgraph
 * that declares them. So, as Apollo Router's "passthrough" mode does, each client subscription opens
 * one graphql-ws subscription to that subgraph for the plan's primary fetch, and every event it
 * sends is completed through the rest of the federation query plan (fields owned by other
 * subgraphs) with the gateway's own data sources, as a query would be:
 *
 *   client --ws--> gateway: auth (per mode), admission (validation, limits, scopes)
 *                     | plan: Subscription { primary: Fetch(reviews), rest: Fetch(accounts), ... }
 *                     +--ws--> subgraph `reviews`: the primary operation (principal + signature on the upgrade)
 *   per upstream event: executeQueryPlan(primary answered by the event, rest fetched) --> client
 *
 * A subscription keeps the plan and the upstream socket it started with: a supergraph swapped in
 * while it is open changes nothing for it (new subscriptions plan against the new one). The
 * subgraph side (signed upgrade, failures, the event iterator) is gateway/standalone-upstream.ts.
 */
import { randomUUID } from 'node:crypto';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import { Supergraph, operationFromDocument, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext, GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  Kind,
  getVariableValues,
  parse,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { ConcordError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Principal } from '../core/principal';
import type { AdmittedOperation, GraphQLParams } from './admission';
import type { FailureLimiter } from './connection-limits';
import { openUpstreamSubscription, relay, webSocketUrlOf } from './standalone-upstream';
import { assertPlannableSubscription, createSubscriptionService, type SubscriptionService, type SubscriptionServiceOptions, type SubscriptionSource } from './subscription-service';

export interface UpstreamSubscriptionsOptions {
  /** Subscriptions one client connection may hold. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Subgraph name -> graphql-ws URL. Default: the subgraph's URL with ws(s): for http(s):. */
  subgraphWebSocketUrls?: Record<string, string>;
  /** Events computed but not yet taken by a slow client before its subscription is ended. Default 256. */
  maxBufferedEvents?: number;
  /** Ping interval on upstream sockets, in ms (a dead subgraph ends its subscriptions). Default 12000. */
  upstreamKeepAliveMs?: number;
  /** How long the upstream WebSocket handshake may take, in ms. Default 10000. */
  upstreamConnectTimeoutMs?: number;
  /** Connections one token subject may hold open at once (CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT). Default 20. */
  maxConnectionsPerSubject?: number;
  /** Sockets one client address may hold open (CONCORD_WS_MAX_CONNECTIONS_PER_ADDRESS; the transport's). Default 50. */
  maxConnectionsPerAddress?: number;
}

export interface UpstreamSubscriptionsDeps {
  logger: Logger;
  /** The caller of a connection by the gateway's auth mode (null = anonymous); throws when refused. */
  authenticate(authorization: string | null): Promise<Principal | null>;
  /** Admission as on HTTP (gateway/admission.ts); throws Rejection. */
  admit(params: GraphQLParams, principal: Principal | null): AdmittedOperation;
  /** The supergraph the gateway serves now, as @apollo/gateway loaded it. */
  supergraphSdl(): string | null;
  /** The gateway's data sources by subgraph name (signing, principal header). */
  dataSources(): Record<string, GraphQLDataSource>;
  /** A subgraph's HTTP URL as the gateway calls it. */
  subgraphUrl(name: string): string | undefined;
  /** Secret to sign upstream upgrade requests with; null = unsigned. */
  subgraphSecret: string | null;
  /** The caller's rate limit, as on HTTP: every subscribe takes one. Default: none. */
  rateLimit?: SubscriptionServiceOptions['rateLimit'];
  /** Failed connection authentications per client address (shared with HTTP). Default: none. */
  authFailures?: FailureLimiter;
  /** The client address of a connection (from the transport's `extra`). Default: 'unknown'. */
  addressOf?: (extra: unknown) => string;
}

interface Planning {
  sdl: string;
  api: Schema;
  apiSchema: GraphQLSchema;
  supergraphSchema: GraphQLSchema;
  planner: QueryPlanner;
  prepared: Map<string, Prepared>;
}

interface Prepared {
  planning: Planning;
  /** The operation as admitted (after authorization), and parsed. */
  query: string;
  document: DocumentNode;
  operationContext: ReturnType<typeof buildOperationContext>;
  /** The primary fetch then the rest, as executeQueryPlan runs it. */
  plan: QueryPlan;
  primary: FetchNode;
}

const PLAN_CACHE_SIZE = 200;

/** The graphql-ws service (hand it to attachWebSocketTransport) of upstream subscriptions. */
export function createUpstreamSubscriptions(options: UpstreamSubscriptionsOptions, deps: UpstreamSubscriptionsDeps): SubscriptionService {
  const {
    maxSubscriptionsPerConnection = 100,
    subgraphWebSocketUrls = {},
    maxBufferedEvents = 256,
    upstreamKeepAliveMs = 12_000,
    upstreamConnectTimeoutMs = 10_000,
    maxConnectionsPerSubject,
  } = options;
  const { logger, authenticate, admit, supergraphSdl, dataSources, subgraphUrl, subgraphSecret, rateLimit, authFailures, addressOf } = deps;
  let planning: Planning | null = null;
  const quiet = {
    debug() {},
    info() {},
    warn: (m: unknown) => logger.warn({ detail: m }, 'subscription plan execution'),
    error: (m: unknown) => logger.error({ detail: m }, 'subscription plan execution'),
  };

  function planningFor(sdl: string): Planning {
    if (planning?.sdl === sdl) return planning;
    const supergraph = Supergraph.build(sdl);
    const api = supergraph.apiSchema();
    planning = { sdl, api, apiSchema: api.toGraphQLJSSchema(), supergraphSchema: supergraph.schema.toGraphQLJSSchema(), planner: new QueryPlanner(supergraph), prepared: new Map() };
    return planning;
  }

  function prepare(query: string, operationName: string | undefined): Prepared {
    const sdl = supergraphSdl();
    if (!sdl) throw new ConcordError('INTERNAL', 'the gateway is starting; try again', { retryable: true });
    const current = planningFor(sdl);
    const key = `${operationName ?? ''}\u0000${query}`;
    const cached = current.prepared.get(key);
    if (cached) return cached;
    const document = parse(query);
    assertPlannableSubscription(document);
    const operationContext = buildOperationContext({ schema: current.apiSchema, operationDocument: document, operationName });
    const { operation } = operationContext;
    if (operation.selectionSet.selections.length !== 1 || operation.selectionSet.selections[0].kind !== Kind.FIELD) {
      throw new ConcordError('BAD_USER_INPUT', 'a subscription selects exactly one root field');
    }
    const plan = current.planner.buildQueryPlan(operationFromDocument(current.api, document, { operationName }));
    if (plan.node?.kind !== 'Subscription') throw new ConcordError('INTERNAL', 'the subscription could not be planned');
    const { primary, rest } = plan.node;
    const flat: PlanNode = rest ? { kind: 'Sequence', nodes: [primary, rest] } : primary;
    const prepared: Prepared = { planning: current, query, document, operationContext, plan: { kind: 'QueryPlan', node: flat }, primary };
    if (current.prepared.size >= PLAN_CACHE_SIZE) current.prepared.delete(current.prepared.keys().next().value!);
    current.prepared.set(key, prepared);
    return prepared;
  }

  /** One upstream event completed through the rest of the plan. Never rejects. */
  async function complete(prepared: Prepared, variables: Record<string, unknown>, event: ExecutionResult, context: { correlationId: string; principal: Principal | null }): Promise<ExecutionResult> {
    const { primary, planning: at } = prepared;
    const services: Record<string, GraphQLDataSource> = { ...dataSources() };
    const fallback = services[primary.serviceName];
    // The primary fetch is answered by the event the subgraph sent; every other fetch goes out.
    services[primary.serviceName] = {
      process: (request) =>
        request.request.query === primary.operation
          ? Promise.resolve({ data: event.data as GatewayGraphQLResponse['data'], errors: event.errors as GatewayGraphQLResponse['errors'] })
          : fallback.process(request),
    };
    const requestContext = {
      request: { query: prepared.query, operationName: prepared.operationContext.operation.name?.value, variables },
      context,
      logger: quiet,
      metrics: {},
      schema: at.apiSchema,
      document: prepared.document,
      operationName: prepared.operationContext.operation.name?.value ?? null,
      operation: prepared.operationContext.operation,
      overallCachePolicy: undefined,
    } as unknown as GatewayGraphQLRequestContext;
    try {
      return await executeQueryPlan(prepared.plan, services as ServiceMap, requestContext, prepared.operationContext, at.supergraphSchema, at.api);
    } catch (error) {
      logger.error({ err: error, correlationId: context.correlationId }, 'subscription event could not be completed');
      return { data: null, errors: [new GraphQLError('the event could not be resolved', { extensions: { code: 'INTERNAL' } })] };
    }
  }

  /** The upstream graphql-ws subscription of a prepared operation's primary fetch. */
  function openUpstream(prepared: Prepared, variables: Record<string, unknown>, correlationId: string, principal: Principal | null) {
    const { primary } = prepared;
    const name = primary.serviceName;
    const httpUrl = subgraphUrl(name);
    return openUpstreamSubscription(
      {
        subgraph: name,
        url: subgraphWebSocketUrls[name] ?? (httpUrl ? webSocketUrlOf(httpUrl) : null),
        query: primary.operation,
        operationName: primary.operationName,
        // Only the variables the primary fetch uses (the rest of the plan gets the others).
        variables: Object.fromEntries((primary.variableUsages ?? []).filter((v) => v in variables).map((v) => [v, variables[v]])),
      },
      { correlationId, principal, subgraphSecret, keepAliveMs: upstreamKeepAliveMs, connectTimeoutMs: upstreamConnectTimeoutMs, logger },
    );
  }

  const source: SubscriptionSource = {
    async open(admitted, principal, correlationId) {
      const prepared = prepare(admitted.query, admitted.operationName);
      const coerced = getVariableValues(prepared.planning.apiSchema, prepared.operationContext.operation.variableDefinitions ?? [], admitted.variables ?? {});
      if (coerced.errors) throw new ConcordError('BAD_USER_INPUT', coerced.errors.map((e) => e.message).join('; '));
      const variables = coerced.coerced;
      const context = { correlationId, principal };
      return {
        schema: prepared.planning.apiSchema,
        document: prepared.document,
        variables,
        payloads: (signal) =>
          relay(openUpstream(prepared, variables, correlationId, principal), (event) => complete(prepared, variables, event, context), maxBufferedEvents, signal),
        describe: { subgraph: prepared.primary.serviceName },
      };
    },
  };

  return createSubscriptionService({ source, logger, authenticate, admit, maxSubscriptionsPerConnection, rateLimit, maxConnectionsPerSubject, authFailures, addressOf });
}
