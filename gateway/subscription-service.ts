/**
 * The one graphql-ws subscription service of the gateway (the protocol side, independent of the
 * socket library: gateway/subscriptions-ws.ts binds it to `ws`). Both kinds of subscription use
 * it, so connection bookkeeping, limits, authorization and error shaping are written once, and the
 * one push-to-pull iterator is gateway/pull-queue.ts:
 *
 *   - Concord's live events, read from the event log (gateway/subscriptions.ts);
 *   - the standalone gateway's passthrough subscriptions, resolved by the subgraph that owns the
 *     field (gateway/standalone-subscriptions.ts).
 *
 * A source only turns an admitted operation into a stream of payloads (SubscriptionSource).
 * Everything else is here:
 *
 *   connection_init  failed authentications limited per address (close 4429 beyond), the bearer
 *                    token verified as on HTTP (refused: close 4403), connections per token subject
 *                    capped (close 4429). When the token expires its subscriptions end with
 *                    UNAUTHENTICATED (reconnect with a fresh token, resume with `after`).
 *   subscribe        a slot of the per-connection cap taken before anything is awaited (a burst
 *                    cannot overshoot it), the caller's rate limit as on HTTP, admission as on HTTP
 *                    (gateway/admission.ts: validation, limits, the same field scopes as queries),
 *                    then the source's own checks.
 *   next             the payload, with a FORBIDDEN error at the path of every field authorization
 *                    removed, and every error in the API's error contract (code, correlationId).
 *
 * Queries and mutations are not served over the socket: they go over HTTP, with its limits.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { GraphQLError, Kind, visit, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { Context, ServerOptions } from 'graphql-ws';
import { ConcordError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Principal } from '../core/principal';
import { Rejection, type AdmittedOperation, type GraphQLParams } from './admission';
import type { Denial } from './authorization';
import { CappedCounter, CLOSE_TOO_MANY, ConnectionRefused, type FailureLimiter } from './connection-limits';
import { formatGatewayError } from './errors';
import { sharedPayload } from './shared-frames';

/** A stream that ended with errors already in the API's error contract (a subgraph's refusal, say). */
export class SubscriptionEndedError extends Error {
  constructor(readonly errors: GraphQLFormattedError[]) {
    super(errors[0]?.message ?? 'the subscription ended');
    this.name = 'SubscriptionEndedError';
  }
}

/**
 * Refuses, as the client's to fix, what the query planner cannot do in a subscription: @defer
 * (@apollo/query-planner buildPlan throws a plain Error "@defer is not supported on
 * subscriptions"). Checked on the document before planning, so a planner failure is never told
 * apart from a bug by its message.
 */
export function assertPlannableSubscription(document: DocumentNode): void {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== 'subscription') continue;
    let deferred = false;
    visit(document, { Directive: (node) => void (node.name.value === 'defer' && (deferred = true)) });
    if (deferred) throw new ConcordError('BAD_USER_INPUT', '@defer is not supported in subscriptions');
    return;
  }
}

/** An admitted subscription, ready to stream. */
export interface OpenedSubscription {
  /** What graphql-ws executes (it needs the schema and document to identify the operation). */
  schema: GraphQLSchema;
  document: DocumentNode;
  variables: Record<string, unknown>;
  /**
   * The payloads, in order, until `signal` aborts: without a reason the stream is done, with an
   * Error reason (token expired) it throws it. Called once, when graphql-ws starts the stream.
   */
  payloads(signal: AbortSignal): AsyncGenerator<ExecutionResult>;
  /** For the "subscription started" log line. */
  describe: Record<string, unknown>;
}

/** Where subscriptions' payloads come from. */
export interface SubscriptionSource {
  /**
   * The stream of an admitted subscription operation. Throws ConcordError for what the client must
   * fix or may retry (sent as it is); anything else is logged and sent as INTERNAL.
   */
  open(admitted: AdmittedOperation, principal: Principal | null, correlationId: string): Promise<OpenedSubscription>;
}

export interface SubscriptionServiceOptions {
  source: SubscriptionSource;
  /**
   * The caller of a connection, from its Authorization value (null: none sent). Null = anonymous
   * (the standalone gateway's optional auth); throws UNAUTHENTICATED when refused.
   */
  authenticate(authorization: string | null): Promise<Principal | null>;
  /** Admission of an operation, as on HTTP (gateway/admission.ts); throws Rejection. */
  admit(params: GraphQLParams, principal: Principal | null): AdmittedOperation;
  logger: Logger;
  /** Subscriptions one connection may hold at once. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** The caller's rate limit, as on HTTP (key: subject, or `anonymous@address`): every subscribe takes one. Default: none. */
  rateLimit?: (key: string) => Promise<{ allowed: boolean; retryAfterSeconds: number } | null>;
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
  principal: Principal | null;
  address: string;
  /** Token expiry, ms since epoch (Infinity: anonymous, or no exp). */
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

const EXPIRED = 'token expired; reconnect with a fresh token';

/** The bearer token of a connection_init payload (a few shapes clients use). */
export function authorizationOf(params: Record<string, unknown> | undefined): string | null {
  if (!params) return null;
  const headers = typeof params.headers === 'object' && params.headers !== null ? (params.headers as Record<string, unknown>) : {};
  const value = params.authorization ?? params.Authorization ?? headers.authorization ?? headers.Authorization;
  if (typeof value === 'string' && value) return value;
  if (typeof params.token === 'string' && params.token) return `Bearer ${params.token}`;
  return null;
}

/** The `exp` of a verified bearer token, in ms; Infinity when it has none. */
function expiryOf(authorization: string | null): number {
  if (!authorization) return Number.POSITIVE_INFINITY;
  try {
    const exp = decodeJwt(authorization.replace(/^Bearer\s+/i, '')).exp;
    return typeof exp === 'number' ? exp * 1000 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY; // verified already; a token without a readable exp was refused there
  }
}

const withCorrelation = (error: GraphQLFormattedError, correlationId: string): GraphQLFormattedError => ({
  ...error,
  extensions: { ...error.extensions, correlationId },
});

/** An error at a subscription's start or end, in the API's error contract. */
function formatted(error: GraphQLError, correlationId: string): GraphQLFormattedError[] {
  const original = error.originalError;
  if (original instanceof SubscriptionEndedError) return original.errors.map((e) => withCorrelation(e, correlationId));
  if (original instanceof ConcordError) return [{ message: original.message, extensions: { ...original.toExtensions(), correlationId } }];
  return [withCorrelation(formatGatewayError(error.toJSON()), correlationId)];
}

export function createSubscriptionService(options: SubscriptionServiceOptions): SubscriptionService {
  const {
    source,
    authenticate,
    admit,
    logger,
    maxSubscriptionsPerConnection = 100,
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

  const serverOptions: SubscriptionService['serverOptions'] = {
    connectionInitWaitTimeout: 5_000,

    async onConnect(ctx) {
      const address = addressOf(ctx.extra);
      const blocked = authFailures?.blockedFor(address) ?? 0;
      if (blocked > 0) throw new ConnectionRefused(CLOSE_TOO_MANY, `too many failed authentications; retry in ${blocked} s`);
      const authorization = authorizationOf(ctx.connectionParams);
      let principal: Principal | null;
      try {
        principal = await authenticate(authorization);
      } catch (error) {
        if (error instanceof ConcordError && error.code === 'UNAUTHENTICATED') authFailures?.recordFailure(address);
        logger.debug({ reason: (error as Error).message }, 'subscription connection refused');
        return false;
      }
      // Checked and counted in one step (no await in between): a burst cannot overshoot it.
      if (principal && !perSubject.acquire(principal.subject)) {
        throw new ConnectionRefused(CLOSE_TOO_MANY, `at most ${maxConnectionsPerSubject} connections per token subject`);
      }
      const expiresAt = principal ? expiryOf(authorization) : Number.POSITIVE_INFINITY;
      const connection: Connection = { principal, address, expiresAt, subscriptions: new Set(), slots: 0, timer: null };
      if (Number.isFinite(expiresAt)) {
        // Subscriptions outliving the token end; the client reconnects with a new one and resumes.
        const delay = Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1));
        connection.timer = setTimeout(() => {
          for (const subscription of connection.subscriptions) subscription.controller.abort(new ConcordError('UNAUTHENTICATED', EXPIRED));
        }, delay);
        connection.timer.unref();
      }
      connections.set(ctx, connection);
      open += 1;
      return true;
    },

    async onSubscribe(ctx, id, payload) {
      const correlationId = randomUUID();
      const connection = connections.get(ctx);
      const fail = (error: ConcordError) => [new GraphQLError(error.message, { extensions: { ...error.toExtensions(), correlationId } })];
      if (!connection) return fail(new ConcordError('UNAUTHENTICATED', 'send connection_init with a bearer token first'));
      if (connection.expiresAt <= Date.now()) return fail(new ConcordError('UNAUTHENTICATED', EXPIRED));
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
      return errors.flatMap((error) => formatted(error, (error.extensions?.correlationId as string | undefined) ?? randomUUID()));
    },

    onClose(ctx) {
      const connection = connections.get(ctx);
      if (!connection) return;
      if (connection.timer) clearTimeout(connection.timer);
      for (const subscription of connection.subscriptions) subscription.controller.abort();
      connections.delete(ctx);
      if (connection.principal) perSubject.release(connection.principal.subject);
      open -= 1;
    },
  };

  /** Everything a subscribe does after its slot is taken: rate limit, admission, the source; errors as graphql-ws wants them. */
  async function setUp(
    connection: Connection,
    id: string,
    payload: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null; extensions?: Record<string, unknown> | null },
    correlationId: string,
    fail: (error: ConcordError) => GraphQLError[],
  ): Promise<ExecutionArgs | GraphQLError[]> {
    const { principal } = connection;
    // Subscribes take from the caller's rate limit, keyed as HTTP requests are.
    const decision = rateLimit ? await rateLimit(principal?.subject ?? `anonymous@${connection.address}`) : null;
    if (decision && !decision.allowed) {
      return fail(new ConcordError('RATE_LIMITED', 'too many requests for this token; retry later', { retryAfterSeconds: decision.retryAfterSeconds }));
    }
    let admitted: AdmittedOperation;
    try {
      admitted = admit({ query: payload.query, variables: payload.variables, operationName: payload.operationName, extensions: payload.extensions }, principal);
    } catch (error) {
      if (error instanceof Rejection) return error.errors.map((e) => new GraphQLError(e.message, { extensions: { code: e.code, correlationId } }));
      throw error;
    }
    if (admitted.operationType !== 'subscription') {
      return fail(new ConcordError('BAD_USER_INPUT', 'only subscriptions are served over WebSocket; send queries and mutations over HTTP'));
    }
    let opened: OpenedSubscription;
    try {
      opened = await source.open(admitted, principal, correlationId);
    } catch (error) {
      if (error instanceof ConcordError) return fail(error);
      logger.error({ err: error, correlationId }, 'subscription could not start');
      return fail(new ConcordError('INTERNAL', 'the subscription could not start'));
    }

    const controller = new AbortController();
    const subscription: Subscription = {
      correlationId,
      denials: admitted.denials,
      controller,
      start: () => {
        connection.subscriptions.add(subscription);
        active += 1;
        const end = () => {
          if (connection.subscriptions.delete(subscription)) {
            active -= 1;
            connection.slots -= 1;
          }
        };
        // Expired before the stream started: it ends at once, with the error.
        if (connection.expiresAt <= Date.now()) controller.abort(new ConcordError('UNAUTHENTICATED', EXPIRED));
        const payloads = opened.payloads(controller.signal);
        // graphql-ws calls return() when the client completes or the socket closes; a stream that
        // ends by itself (done, or an error) gives its slot back too.
        const next = payloads.next.bind(payloads);
        const finish = payloads.return.bind(payloads);
        payloads.next = async () => {
          try {
            const step = await next();
            if (step.done) end();
            return step;
          } catch (error) {
            end();
            throw error;
          }
        };
        payloads.return = async (value) => {
          end();
          controller.abort();
          return finish(value);
        };
        controller.signal.addEventListener('abort', end, { once: true });
        return payloads;
      },
    };
    logger.debug({ correlationId, ...opened.describe, subject: principal?.subject ?? null, id }, 'subscription started');
    return {
      schema: opened.schema,
      document: opened.document,
      operationName: admitted.operationName,
      variableValues: opened.variables,
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
      ...(result.errors ?? []).map((error) =>
        withCorrelation(formatGatewayError(error instanceof GraphQLError ? error.toJSON() : (error as GraphQLFormattedError)), subscription.correlationId),
      ),
    ];
    return { data: result.data, errors };
  }

  return {
    serverOptions,
    stats: () => ({ connections: open, subscriptions: active, delivered }),
  };
}
