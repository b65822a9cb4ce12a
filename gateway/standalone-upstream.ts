/**
 * The subgraph side of a passed-through subscription (gateway/standalone-subscriptions.ts): one
 * graphql-ws client subscription to the subgraph that owns the field, and the iterator the client's
 * subscription reads its events from.
 *
 * The upgrade request carries `x-correlation-id`, the caller's principal (`x-concord-principal`,
 * when there is one) and, when signing is on, `x-concord-signature` over the empty body of that GET
 * (core/signing.ts); connection_init's payload carries the same as `headers`, for servers that only
 * look there. The client's own token is not forwarded, as on HTTP.
 */
import { createClient, type Sink } from 'graphql-ws';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import WebSocket from 'ws';
import { ConcordError } from '../core/errors';
import type { Logger } from '../core/log';
import { PRINCIPAL_HEADER, encodePrincipal, type Principal } from '../core/principal';
import { SIGNATURE_HEADER, signRequest } from '../core/signing';
import { formatGatewayError } from './errors';
import { createPullQueue } from './pull-queue';
import { SubscriptionEndedError } from './subscription-service';

/** A subgraph's graphql-ws URL by default: its HTTP URL with ws(s):. */
export function webSocketUrlOf(httpUrl: string): string {
  return httpUrl.replace(/^http(s?):/i, 'ws$1:');
}

/** What to subscribe to, where. */
export interface UpstreamTarget {
  subgraph: string;
  /** graphql-ws URL; null = the subgraph has none (the subscription fails with that reason). */
  url: string | null;
  query: string;
  operationName?: string;
  variables: Record<string, unknown>;
}

export interface UpstreamConnectOptions {
  correlationId: string;
  principal: Principal | null;
  /** Null = unsigned. */
  subgraphSecret: string | null;
  /** Ping interval, in ms: a subgraph that stops answering ends the subscription. */
  keepAliveMs: number;
  /** Longest WebSocket handshake, in ms. */
  connectTimeoutMs: number;
  logger: Logger;
}

/** Subscribe to `target`; returns a function that unsubscribes (and closes the socket). For relay(). */
export function openUpstreamSubscription(target: UpstreamTarget, options: UpstreamConnectOptions): (sink: Sink<ExecutionResult>) => () => void {
  const { subgraph, url } = target;
  const { correlationId, principal, subgraphSecret, keepAliveMs, connectTimeoutMs, logger } = options;
  const headers: Record<string, string> = { 'x-correlation-id': correlationId };
  if (principal) headers[PRINCIPAL_HEADER] = encodePrincipal(principal);
  // Bound to this subgraph and to a GET upgrade, once: the subgraph that receives it holds nothing
  // another subgraph would accept (core/signing.ts), nor a POST it could replay to itself.
  if (subgraphSecret !== null && url) {
    headers[SIGNATURE_HEADER] = signRequest(subgraphSecret, { method: 'GET', path: new URL(url).pathname, subgraph, body: '', principal: headers[PRINCIPAL_HEADER] });
  }
  // graphql-ws constructs the socket itself: a subclass is how the upgrade request gets its headers.
  class UpstreamSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers, handshakeTimeout: connectTimeoutMs, perMessageDeflate: false });
    }
  }

  /** What the client is told when the subgraph refuses or drops the subscription. */
  const failure = (error: unknown): SubscriptionEndedError => {
    if (Array.isArray(error)) {
      // The subgraph refused the operation: its errors, under the gateway's error contract.
      return new SubscriptionEndedError(
        (error as GraphQLFormattedError[]).map((e) => formatGatewayError({ ...e, extensions: { ...e.extensions, serviceName: subgraph } })),
      );
    }
    const close = error as { code?: unknown; reason?: unknown; message?: unknown };
    const detail = typeof close?.code === 'number' ? `closed ${close.code}${close.reason ? ` ${String(close.reason)}` : ''}` : String(close?.message ?? error);
    logger.warn({ subgraph, detail, correlationId }, 'upstream subscription failed');
    return new SubscriptionEndedError([
      { message: `subgraph ${subgraph} ended the subscription (${detail}); subscribe again`, extensions: { code: 'INTERNAL', retryable: true, subgraph } },
    ]);
  };

  return (sink) => {
    if (!url) {
      sink.error(new SubscriptionEndedError([{ message: `subgraph ${subgraph} has no URL`, extensions: { code: 'INTERNAL', subgraph } }]));
      return () => undefined;
    }
    const client = createClient({ url, webSocketImpl: UpstreamSocket, connectionParams: { headers }, lazy: true, retryAttempts: 0, keepAlive: keepAliveMs });
    const unsubscribe = client.subscribe<Record<string, unknown>>(
      { query: target.query, operationName: target.operationName, variables: target.variables },
      {
        next: (value) => sink.next(value as ExecutionResult),
        complete: () => sink.complete(),
        error: (error) => sink.error(failure(error)),
      },
    );
    return () => {
      unsubscribe();
      void client.dispose();
    };
  };
}

/**
 * An async iterator over upstream events, each mapped by `compute`, delivered in order
 * (gateway/pull-queue.ts: `return()` takes effect at once even while waiting for the next event,
 * so a client that leaves closes its upstream subscription immediately). A subgraph cannot be
 * slowed down, so a client that falls `maxBuffered` events behind is ended (retryable) rather than
 * buffered without bound. An abort of `signal` with an Error reason ends the stream with it.
 */
export function relay(
  open: (sink: Sink<ExecutionResult>) => () => void,
  compute: (event: ExecutionResult) => Promise<ExecutionResult>,
  maxBuffered: number,
  signal?: AbortSignal,
): AsyncGenerator<ExecutionResult> {
  let unsubscribe: () => void = () => undefined;
  let stopped = false;
  const queue = createPullQueue<ExecutionResult>(() => {
    stopped = true;
    unsubscribe();
  });
  unsubscribe = open({
    next(event) {
      if (queue.length >= maxBuffered) {
        queue.abort(new ConcordError('INTERNAL', `more than ${maxBuffered} events are waiting for this subscriber; subscribe again`, { retryable: true }));
        return;
      }
      queue.push(compute(event));
    },
    error: (error) => queue.end(error ?? new Error('upstream error')),
    complete: () => queue.end(),
  });
  // Stopped while `open` was subscribing: unsubscribe now that there is something to call.
  if (stopped) unsubscribe();
  if (signal?.aborted) queue.abort(signal.reason);
  else signal?.addEventListener('abort', () => queue.abort(signal.reason), { once: true });
  return queue.iterator;
}
