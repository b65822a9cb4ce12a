/**
 * Executes subscription payloads through the federation query plan, one event at a time.
 *
 * @apollo/gateway plans subscriptions (the planner returns a Subscription node: a "primary" fetch
 * to the subgraph that owns the field, then the "rest" of the plan for fields owned elsewhere) but
 * refuses to execute them. Concord's gateway executes that plan per event: the primary fetch goes to
 * the events subgraph, which runs in this process and answers from the event (and, through
 * `@provides`, the run as it was at the event); the rest goes to the owning subgraphs through the
 * gateway's own data sources (signed, with the subscriber's principal), exactly as a query would.
 *
 * Work is shared: plans are cached per operation text; a payload is computed once per
 * (event, operation, variables, authorization) however many subscribers share them; and entity
 * fetches of concurrent deliveries are merged into one request per subgraph (fetch-coalescer.ts).
 *
 * Uses @apollo/query-planner and @apollo/federation-internals, which @apollo/gateway itself is built
 * on (same versions); executeQueryPlan and buildOperationContext are @apollo/gateway exports.
 */
import { createHash } from 'node:crypto';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import { Supergraph, operationFromDocument, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  Kind,
  getArgumentValues,
  getVariableValues,
  parse,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { ConcordError } from '../core/errors';
import type { BusinessEvent } from '../core/events/event-log';
import type { Logger } from '../core/log';
import { callerScope, type Principal } from '../core/principal';
import { Lru } from '../core/lru';
import { assertPlannableSubscription } from './subscription-service';

/** An operation ready to run per event: its plan, and what the subscription asks for. */
export interface PreparedOperation {
  /** sha256 of the executed text and operation name: the cache and sharing key. */
  key: string;
  query: string;
  /** The parsed operation text (what graphql-ws needs to identify the operation). */
  document: DocumentNode;
  operationName: string | null;
  kind: 'query' | 'mutation' | 'subscription';
  /** The root field of a subscription (exactly one) and its response key. */
  rootField: string;
  /** Coerces variables and reads the root field's arguments. */
  arguments(variables: Record<string, unknown> | undefined): { variables: Record<string, unknown>; args: Record<string, unknown> };
  /** @internal */
  plan: QueryPlan;
  /** @internal */
  operationContext: ReturnType<typeof buildOperationContext>;
}

/** The context fetches are made with: the gateway's request context plus the event delivered. */
export interface DeliveryContext {
  correlationId: string;
  principal: Principal;
  event?: BusinessEvent;
}

export interface FederatedExecutorOptions {
  supergraphSdl: string;
  /** Data sources by subgraph name; called per execution (the gateway builds them when it loads). */
  serviceMap: () => Record<string, GraphQLDataSource>;
  logger: Logger;
  /** Plans kept. Default 500. */
  planCacheSize?: number;
  /** Payloads kept for sharing between subscribers of the same event, by count. Default 5000. */
  sharedResults?: number;
}

export interface FederatedExecutor {
  /** The API schema subscriptions are validated against. */
  readonly apiSchema: GraphQLSchema;
  prepare(query: string, operationName?: string | null): PreparedOperation;
  /**
   * The payload of one event for one operation. Subscribers with the same `shareKey` (see
   * shareKeyOf: operation, variables, authorization) share one execution, and one result object:
   * do not mutate it.
   */
  deliver(prepared: PreparedOperation, variables: Record<string, unknown>, event: BusinessEvent, context: DeliveryContext, shareKey: string): Promise<ExecutionResult>;
  /** A query through the same plans and data sources (for subscribe-time checks). */
  query(prepared: PreparedOperation, variables: Record<string, unknown>, context: DeliveryContext): Promise<ExecutionResult>;
}

/**
 * Authorization is the same when scopes and customer are: the shared payload is the same. Except
 * for a token without ops:read that is not a portal: it sees only the runs it started (run ids and
 * fields depend on who it is, resolvers/events.ts and resolvers/orchestration.ts), so its payloads
 * are shared only with the same caller.
 */
export function authorizationKey(principal: Principal): string {
  const base = `${[...principal.scopes].sort().join(' ')}|${principal.customerId ?? ''}`;
  return principal.customerId === null && !principal.scopes.has('ops:read') ? `${base}|${callerScope(principal)}` : base;
}

/** What subscribers must have in common to share payloads; computed once per subscription. */
export function shareKeyOf(prepared: PreparedOperation, variables: Record<string, unknown>, principal: Principal): string {
  return `${prepared.key}\u0000${stableJson(variables)}\u0000${authorizationKey(principal)}`;
}

/** JSON with sorted keys, so equal variables give equal keys. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}


/** The plan as executeQueryPlan runs it: a subscription's primary fetch, then the rest. */
function executablePlan(plan: QueryPlan): QueryPlan {
  const node = plan.node;
  if (node?.kind !== 'Subscription') return plan;
  const flat: PlanNode = node.rest ? { kind: 'Sequence', nodes: [node.primary, node.rest] } : node.primary;
  return { kind: 'QueryPlan', node: flat };
}

export function createFederatedExecutor(options: FederatedExecutorOptions): FederatedExecutor {
  const { supergraphSdl, serviceMap, logger, planCacheSize = 500, sharedResults = 5000 } = options;
  const supergraph = Supergraph.build(supergraphSdl);
  const api: Schema = supergraph.apiSchema();
  const apiSchema = api.toGraphQLJSSchema();
  const supergraphSchema = supergraph.schema.toGraphQLJSSchema();
  const planner = new QueryPlanner(supergraph);
  const plans = new Lru<PreparedOperation>(planCacheSize);
  // Payloads by event: kept in arrival order and dropped oldest first (events arrive in order, so
  // recency of use adds nothing, and a plain Map costs one lookup per subscriber and event).
  const results = new Map<string, Promise<ExecutionResult>>();
  const quiet = { debug() {}, info() {}, warn: (m: unknown) => logger.warn({ detail: m }, 'query plan execution'), error: (m: unknown) => logger.error({ detail: m }, 'query plan execution') };

  function prepare(query: string, operationName: string | null = null): PreparedOperation {
    const key = createHash('sha256').update(query).update('\u0000').update(operationName ?? '').digest('hex');
    const cached = plans.get(key);
    if (cached) return cached;
    const document = parse(query);
    assertPlannableSubscription(document);
    const operationContext = buildOperationContext({ schema: apiSchema, operationDocument: document, operationName: operationName ?? undefined });
    const operation: OperationDefinitionNode = operationContext.operation;
    const fields = operation.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD);
    if (operation.operation === 'subscription' && (fields.length !== 1 || operation.selectionSet.selections.length !== 1)) {
      throw new ConcordError('BAD_USER_INPUT', 'a subscription selects exactly one root field');
    }
    const root = fields[0];
    const plan = planner.buildQueryPlan(operationFromDocument(api, document, { operationName: operationName ?? undefined }));
    const rootType = operation.operation === 'subscription' ? apiSchema.getSubscriptionType() : operation.operation === 'mutation' ? apiSchema.getMutationType() : apiSchema.getQueryType();
    const fieldDef = root ? rootType?.getFields()[root.name.value] : undefined;
    const prepared: PreparedOperation = {
      key,
      query,
      document,
      operationName,
      kind: operation.operation,
      rootField: root?.name.value ?? '',
      arguments(variables) {
        const coerced = getVariableValues(apiSchema, operation.variableDefinitions ?? [], variables ?? {});
        if (coerced.errors) throw new ConcordError('BAD_USER_INPUT', coerced.errors.map((e) => e.message).join('; '));
        const args = fieldDef && root ? getArgumentValues(fieldDef, root, coerced.coerced) : {};
        return { variables: coerced.coerced, args };
      },
      plan: executablePlan(plan),
      operationContext,
    };
    plans.set(key, prepared);
    return prepared;
  }

  async function run(prepared: PreparedOperation, variables: Record<string, unknown>, context: DeliveryContext): Promise<ExecutionResult> {
    const requestContext = {
      request: { query: prepared.query, operationName: prepared.operationName ?? undefined, variables },
      context,
      logger: quiet,
      metrics: {},
      schema: apiSchema,
      document: prepared.operationContext.operation,
      operationName: prepared.operationName,
      operation: prepared.operationContext.operation,
      overallCachePolicy: undefined,
    } as unknown as GatewayGraphQLRequestContext;
    try {
      return await executeQueryPlan(prepared.plan, serviceMap() as ServiceMap, requestContext, prepared.operationContext, supergraphSchema, api);
    } catch (error) {
      logger.error({ err: error, operation: prepared.operationName }, 'subscription payload could not be executed');
      return { errors: [new GraphQLError('the event could not be resolved', { extensions: { code: 'INTERNAL' } })] };
    }
  }

  return {
    apiSchema,
    prepare,
    deliver(prepared, variables, event, context, shareKey) {
      const key = `${event.id}\u0000${shareKey}`;
      let result = results.get(key);
      if (!result) {
        result = run(prepared, variables, { ...context, event });
        results.set(key, result);
        if (results.size > sharedResults) results.delete(results.keys().next().value!);
      }
      return result;
    },
    query: (prepared, variables, context) => run(prepared, variables, context),
  };
}
