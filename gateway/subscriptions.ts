/**
 * Subscriptions at the gateway: the graphql-ws protocol side (ServerOptions), independent of the
 * socket library (gateway/subscriptions-ws.ts binds it to `ws` on the gateway's HTTP server).
 *
 *   connection_init  the bearer token in the payload ({ authorization: "Bearer ..." }), verified as
 *                    on HTTP; refused = close 4403. When the token expires, its subscriptions end
 *                    with UNAUTHENTICATED (reconnect with a fresh token, resume with `after`).
 *   subscribe        admitted as on HTTP (gateway/admission.ts: validation, limits, scopes), then
 *                    the field's own checks (subscription-streams.ts: portal isolation, cursors).
 *   next             one per event: the payload executed through the federation query plan
 *                    (subscription-executor.ts), errors in the API's error contract.
 *
 * Queries and mutations are not served over the socket: they go over HTTP, with its limits.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { GraphQLError, type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { Context, ServerOptions } from 'graphql-ws';
import { ConcordError } from '../core/errors';
import type { BusinessEvent, EventLog } from '../core/events/event-log';
import type { Logger } from '../core/log';
import type { Principal } from '../core/principal';
import { Rejection, type AdmittedOperation, type GraphQLParams } from './admission';
import { CappedCounter, CLOSE_TOO_MANY, ConnectionRefused, type FailureLimiter } from './connection-limits';
import type { Denial } from './authorization';
import { formatGatewayError } from './errors';
import { sharedPayload } from './shared-frames';
import { shareKeyOf, type FederatedExecutor, type PreparedOperation } from './subscription-executor';
import { openStream, orderedDeliveries } from './subscription-streams';

export interface SubscriptionServiceOptions {
  log: EventLog;
  executor: FederatedExecutor;
  /** Verifies an Authorization header value (gateway/auth.ts); throws UNAUTHENTICATED. */
  authenticate(authorization: string): Promise<Principal>;
  /** Admission of an operation, as on HTTP (gateway/admission.ts); throws Rejection. */
  admit(params: GraphQLParams, principal: Principal): AdmittedOperation;
  logger: Logger;
  /** Subscriptions one connection may hold at once. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Payloads computed ahead of the client per subscription. Default 16. */
  window?: number;
  /** The caller's rate limit, as on HTTP: every subscribe takes one. Default: none. */
  rateLimit?: (subject: string) => Promise<{ allowed: boolean; retryAfterSeconds: number } | null>;
  /** Connections one token subject may hold open at once. Default 20. */
  maxConnectionsPerSubject?: number;
  /** Failed connection authentications per client address (shared with HTTP). Default: none. */
  authFailures?: FailureLimiter;
  /** The client address of a connection (from the transport's `extra`). Default: 'unknown'. */
  addressOf?: (extra: unknown) => string;
}

export interface SubscriptionService {
  /** graphql-ws server options: hand them to a transport (subscriptions-ws.ts). */
  serverOptions: ServerOptions<Record<string, unknown> | undefined, unknown>;
  stats(): { connections: number; subscriptions: number; delivered: number };
}

interface Connection {
  principal: Principal;
  /** Token expiry, ms since epoch. */
  expiresAt: number;
  subscriptions: Set<Subscription>;
  /** Subscriptions counted against the cap: started ones and those still being set up. */
  slots: number;
  timer: NodeJS.Timeout | null;
}

interface Subscription {
  correlationId: string;
  denials: Denial[];
  controller: AbortController;
  start(): AsyncGenerator<ExecutionResult>;
}

/** The bearer token of a connection_init payload (a few shapes clients use). */
export function authorizationOf(params: Record<string, unknown> | undefined): string | null {
  if (!params) return null;
  const headers = typeof params.headers === 'object' && params.headers !== null ? (params.headers as Record<string, unknown>) : {};
  const value = params.authorization ?? params.Authorization ?? headers.authorization ?? headers.Authorization;
  if (typeof value === 'string' && value) return value;
  if (typeof params.token === 'string' && params.token) return `Bearer ${params.token}`;
  return null;
}

function graphQLError(error: ConcordError, correlationId: string): GraphQLError {
  return new GraphQLError(error.message, { extensions: { ...error.toExtensions(), correlationId } });
}

function rejectionErrors(rejection: Rejection, correlationId: string): GraphQLError[] {
  return rejection.errors.map((e) => new GraphQLError(e.message, { extensions: { code: e.code, correlationId } }));
}

/** An error at a subscription's start or end, in the API's error contract. */
function formatted(error: GraphQLError, correlationId: string): GraphQLFormattedError {
  const original = error.originalError;
  if (original instanceof ConcordError) return { message: original.message, extensions: { ...original.toExtensions(), correlationId } };
  const out = formatGatewayError(error.toJSON());
  return { ...out, extensions: { ...out.extensions, correlationId } };
}

export function createSubscriptionService(options: SubscriptionServiceOptions): SubscriptionService {
  const {
    log,
    executor,
    authenticate,
    admit,
    logger,
    maxSubscriptionsPerConnection = 100,
    window = 16,
    rateLimit,
    maxConnectionsPerSubject = 20,
    authFailures,
    addressOf = () => 'unknown',
  } = options;
  const perSubject = new CappedCounter(maxConnectionsPerSubject);
  const connections = new WeakMap<Context<Record<string, unknown> | undefined, unknown>, Connection>();
  let open = 0;
  let active = 0;
  let delivered = 0;

  const runQuery = (() => {
    let prepared: PreparedOperation | null = null;
    return async (runId: string, principal: Principal) => {
      prepared ??= executor.prepare('query ConcordRunOwner($id: ID!) { orderToCashRun(id: $id) { id customer { id } } }', 'ConcordRunOwner');
      const result = await executor.query(prepared, { id: runId }, { correlationId: randomUUID(), principal });
      if (result.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')) throw new ConcordError('FORBIDDEN', `this token may not access run ${runId}`);
      const data = result.data as { orderToCashRun?: { customer?: { id: string } | null } | null } | null | undefined;
      // No answer is not "no run": the orchestration subgraph may be down for a moment.
      if (!data && result.errors?.length) throw new ConcordError('INTERNAL', `run ${runId} could not be looked up; try again`, { retryable: true });
      const run = data?.orderToCashRun;
      return run ? { customerId: run.customer?.id ?? null } : null;
    };
  })();

  function endAll(connection: Connection, error: ConcordError): void {
    for (const subscription of connection.subscriptions) subscription.controller.abort(error);
  }

  const serverOptions: SubscriptionService['serverOptions'] = {
    connectionInitWaitTimeout: 5_000,

    async onConnect(ctx) {
      const address = addressOf(ctx.extra);
      const blocked = authFailures?.blockedFor(address) ?? 0;
      if (blocked > 0) throw new ConnectionRefused(CLOSE_TOO_MANY, `too many failed authentications; retry in ${blocked} s`);
      const authorization = authorizationOf(ctx.connectionParams);
      if (!authorization) {
        authFailures?.recordFailure(address);
        return false;
      }
      let principal: Principal;
      try {
        principal = await authenticate(authorization);
      } catch (error) {
        if (error instanceof ConcordError && error.code === 'UNAUTHENTICATED') authFailures?.recordFailure(address);
        logger.debug({ reason: (error as Error).message }, 'subscription connection refused');
        return false;
      }
      // Checked and counted in one step (no await in between): a burst cannot overshoot it.
      if (!perSubject.acquire(principal.subject)) {
        throw new ConnectionRefused(CLOSE_TOO_MANY, `at most ${maxConnectionsPerSubject} connections per token subject`);
      }
      let expiresAt = Number.POSITIVE_INFINITY;
      try {
        const exp = decodeJwt(authorization.replace(/^Bearer\s+/i, '')).exp;
        if (typeof exp === 'number') expiresAt = exp * 1000;
      } catch {
        // Verified above; a token without a readable exp was refused there.
      }
      const connection: Connection = { principal, expiresAt, subscriptions: new Set(), slots: 0, timer: null };
      if (Number.isFinite(expiresAt)) {
        // Subscriptions outliving the token end; the client reconnects with a new one and resumes.
        const delay = Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1));
        connection.timer = setTimeout(() => endAll(connection, new ConcordError('UNAUTHENTICATED', 'token expired; reconnect with a fresh token')), delay);
        connection.timer.unref();
      }
      connections.set(ctx, connection);
      open += 1;
      return true;
    },

    async onSubscribe(ctx, id, payload) {
      const correlationId = randomUUID();
      const connection = connections.get(ctx);
      const fail = (error: ConcordError) => [graphQLError(error, correlationId)];
      if (!connection) return fail(new ConcordError('UNAUTHENTICATED', 'send connection_init with a bearer token first'));
      if (connection.expiresAt <= Date.now()) return fail(new ConcordError('UNAUTHENTICATED', 'token expired; reconnect with a fresh token'));
      // The slot is taken before anything is awaited, so concurrent subscribes cannot all pass
      // the check; it is given back if the subscription does not start.
      if (connection.slots >= maxSubscriptionsPerConnection) {
        return fail(new ConcordError('RATE_LIMITED', `at most ${maxSubscriptionsPerConnection} subscriptions per connection`));
      }
      connection.slots += 1;
      let started = false;
      try {
        const outcome = await setUp(connection, id, payload, correlationId, fail);
        started = !Array.isArray(outcome);
        return outcome;
      } finally {
        if (!started) connection.slots -= 1;
      }
    },

    subscribe: (args: ExecutionArgs) => (args.contextValue as Subscription).start(),

    // Queries and mutations never get here (refused in onSubscribe); defensive all the same.
    execute: () => ({ errors: [new GraphQLError('send queries and mutations over HTTP', { extensions: { code: 'BAD_USER_INPUT' } })] }),

    onNext(_ctx, _id, _payload, args, result) {
      return shapeNext(args.contextValue as Subscription, result);
    },

    onError(_ctx, _id, _payload, errors) {
      // Errors at subscribe time already carry their correlation id; end-of-stream errors get one.
      return errors.map((error) => formatted(error, (error.extensions?.correlationId as string | undefined) ?? randomUUID()));
    },

    onClose(ctx) {
      const connection = connections.get(ctx);
      if (!connection) return;
      if (connection.timer) clearTimeout(connection.timer);
      for (const subscription of connection.subscriptions) subscription.controller.abort();
      connections.delete(ctx);
      perSubject.release(connection.principal.subject);
      open -= 1;
    },
  };

  /** Everything a subscribe does after its slot is taken: rate limit, admission, stream; errors as graphql-ws wants them. */
  async function setUp(
    connection: Connection,
    id: string,
    payload: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null; extensions?: Record<string, unknown> | null },
    correlationId: string,
    fail: (error: ConcordError) => GraphQLError[],
  ): Promise<ExecutionArgs | GraphQLError[]> {
    const { principal } = connection;
    // Subscribes take from the caller's rate limit, as HTTP requests do.
    const decision = rateLimit ? await rateLimit(principal.subject) : null;
    if (decision && !decision.allowed) {
      return fail(new ConcordError('RATE_LIMITED', 'too many requests for this token; retry later', { retryAfterSeconds: decision.retryAfterSeconds }));
    }
    let admitted: AdmittedOperation;
    try {
      admitted = admit({ query: payload.query, variables: payload.variables, operationName: payload.operationName, extensions: payload.extensions }, principal);
    } catch (error) {
      if (error instanceof Rejection) return rejectionErrors(error, correlationId);
      throw error;
    }
    if (admitted.operationType !== 'subscription') {
      return fail(new ConcordError('BAD_USER_INPUT', 'only subscriptions are served over WebSocket; send queries and mutations over HTTP'));
    }
    let prepared: PreparedOperation;
    let variables: Record<string, unknown>;
    let stream;
    try {
      prepared = executor.prepare(admitted.query, admitted.operationName ?? null);
      const resolved = prepared.arguments(admitted.variables);
      variables = resolved.variables;
      stream = await openStream(prepared.rootField, resolved.args, principal, { log, runCustomer: runQuery });
    } catch (error) {
      if (error instanceof ConcordError) return fail(error);
      // The planner refuses what a subscription cannot do (@defer, for one): the client's to fix.
      if (error instanceof GraphQLError || /not supported/i.test((error as Error).message)) {
        return fail(new ConcordError('BAD_USER_INPUT', (error as Error).message));
      }
      logger.error({ err: error, correlationId }, 'subscription could not start');
      return fail(new ConcordError('INTERNAL', 'the subscription could not start'));
    }

    const controller = new AbortController();
    const shareKey = shareKeyOf(prepared, variables, principal);
    const deliver = (event: BusinessEvent) =>
      executor.deliver(prepared, variables, event, { correlationId: event.correlationId ?? `event:${event.id}`, principal }, shareKey);
    const subscription: Subscription = {
      correlationId,
      denials: admitted.denials,
      controller,
      start: () => {
        connection.subscriptions.add(subscription);
        active += 1;
        const deliveries = orderedDeliveries(stream.events, deliver, { window, signal: controller.signal });
        const end = () => {
          if (connection.subscriptions.delete(subscription)) {
            active -= 1;
            connection.slots -= 1;
          }
        };
        // graphql-ws calls return() when the client completes or the socket closes.
        const original = deliveries.return.bind(deliveries);
        deliveries.return = async (value) => {
          end();
          controller.abort();
          return original(value);
        };
        controller.signal.addEventListener('abort', end, { once: true });
        return deliveries;
      },
    };
    logger.debug({ correlationId, field: prepared.rootField, subject: principal.subject, id }, 'subscription started');
    return {
      schema: executor.apiSchema,
      document: prepared.document,
      operationName: admitted.operationName,
      variableValues: variables,
      contextValue: subscription,
    } satisfies ExecutionArgs;
  }

  function shapeNext(subscription: Subscription, result: ExecutionResult) {
    delivered += 1;
    // The common case sends the shared result as it is, serialised once for every subscriber
    // given this same result object (gateway/shared-frames.ts), not once per socket.
    if (!result.errors?.length && !subscription.denials.length) return sharedPayload(result) as unknown as ExecutionResult;
    const errors: GraphQLFormattedError[] = [
      ...subscription.denials.map((d) => ({ message: d.message, path: d.path, extensions: { code: 'FORBIDDEN', correlationId: subscription.correlationId } })),
      ...(result.errors ?? []).map((error) => {
        const out = formatGatewayError(error instanceof GraphQLError ? error.toJSON() : (error as GraphQLFormattedError));
        return { ...out, extensions: { ...out.extensions, correlationId: subscription.correlationId } };
      }),
    ];
    return errors.length ? { data: result.data, errors } : { data: result.data };
  }

  return {
    serverOptions,
    stats: () => ({ connections: open, subscriptions: active, delivered }),
  };
}
