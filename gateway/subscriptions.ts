/**
 * Concord's live events as subscriptions: the event-log source of the gateway's one subscription
 * service (gateway/subscription-service.ts has the protocol side: connections, limits, admission,
 * errors; gateway/subscriptions-ws.ts the transport).
 *
 *   subscribe  after admission (the same field scopes as queries), the field's own checks
 *              (subscription-streams.ts: portal isolation, run ownership, cursors)
 *   next       one per event: the payload executed through the federation query plan
 *              (subscription-executor.ts), so a payload field is resolved, and authorized, exactly
 *              as the same field of a query
 */
import { randomUUID } from 'node:crypto';
import { ConcordError } from '../core/errors';
import type { BusinessEvent, EventLog } from '../core/events/event-log';
import type { Logger } from '../core/log';
import type { Principal } from '../core/principal';
import type { AdmittedOperation, GraphQLParams } from './admission';
import type { FailureLimiter } from './connection-limits';
import { shareKeyOf, type FederatedExecutor, type PreparedOperation } from './subscription-executor';
import { openStream, orderedDeliveries } from './subscription-streams';
import { createSubscriptionService as createService, type SubscriptionService, type SubscriptionSource } from './subscription-service';

export { authorizationOf, type SubscriptionService } from './subscription-service';

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

/** The event-log source: an admitted subscription's payloads, one per matching event. */
export function createLiveEventsSource(options: { log: EventLog; executor: FederatedExecutor; window?: number }): SubscriptionSource {
  const { log, executor, window = 16 } = options;

  /** The customer of a run as the orchestration subgraph shows it to this principal (null: no such run for it). */
  const runCustomer = (() => {
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

  return {
    async open(admitted, principal) {
      if (!principal) throw new ConcordError('UNAUTHENTICATED', 'send connection_init with a bearer token first');
      const prepared = executor.prepare(admitted.query, admitted.operationName ?? null);
      const { variables, args } = prepared.arguments(admitted.variables);
      const stream = await openStream(prepared.rootField, args, principal, { log, runCustomer });
      const shareKey = shareKeyOf(prepared, variables, principal);
      const deliver = (event: BusinessEvent) =>
        executor.deliver(prepared, variables, event, { correlationId: event.correlationId ?? `event:${event.id}`, principal }, shareKey);
      return {
        schema: executor.apiSchema,
        document: prepared.document,
        variables,
        payloads: (signal) => orderedDeliveries(stream.events, deliver, { window, signal }),
        describe: { field: prepared.rootField },
      };
    },
  };
}

/** The gateway's subscription service over Concord's event log. */
export function createSubscriptionService(options: SubscriptionServiceOptions): SubscriptionService {
  const { log, executor, window, authenticate, admit, ...limits } = options;
  return createService({
    ...limits,
    source: createLiveEventsSource({ log, executor, window }),
    // Live events always need a token: none is a refusal (and counts as a failed authentication).
    authenticate: (authorization) =>
      authorization ? authenticate(authorization) : Promise.reject(new ConcordError('UNAUTHENTICATED', 'send a bearer token in connection_init')),
    admit: (params, principal) => {
      if (!principal) throw new ConcordError('UNAUTHENTICATED', 'send a bearer token in connection_init');
      return admit(params, principal);
    },
  });
}
