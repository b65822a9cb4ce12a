/**
 * What live events add to the gateway, in one place so that gateway/server.ts only wires it:
 *
 *   - the events subgraph, run in process (its data source for the gateway's query plans, built by
 *     the composition root: the gateway knows no subgraph's internals);
 *   - subscriptions over graphql-ws on the gateway's port and /graphql path, executed through the
 *     federation query plan with the gateway's own subgraph data sources (signed, with the
 *     subscriber's principal) and admitted by the same admission as HTTP;
 *   - `POST /webhooks/<vendor>` ingress.
 */
import type http from 'node:http';
import type { GraphQLDataSource } from '@apollo/gateway';
import type { EventLog } from '../core/events/event-log';
import type { Logger } from '../core/log';
import type { Principal } from '../core/principal';
import type { AdmittedOperation, GraphQLParams } from './admission';
import { coalescingDataSource } from './fetch-coalescer';
import { createFederatedExecutor } from './subscription-executor';
import { createSubscriptionService } from './subscriptions';
import { attachWebSocketTransport, wsAddressOf, type WebSocketTransport } from './subscriptions-ws';
import type { FailureLimiter } from './connection-limits';
import { createWebhookRoute, type WebhookHandler } from './webhooks';

/** Live-event settings of a gateway (GatewayOptions.events). */
export interface GatewayEventsOptions {
  /** The shared event log subscriptions read from. */
  log: EventLog;
  /**
   * The events subgraph run in process, as a data source: it answers the event's part of each
   * subscription's plan (subgraphs/events/local-subgraph.ts). Required.
   */
  eventsDataSource: GraphQLDataSource;
  /** Webhook handlers by vendor name (`/webhooks/<name>`). Default none. */
  webhooks?: Record<string, WebhookHandler>;
  /** Subscriptions one connection may hold. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** WebSocket keep-alive ping interval, in ms. Default 12000. */
  keepAliveMs?: number;
  /** Connections one token subject may hold. Default 20. */
  maxConnectionsPerSubject?: number;
  /** Open sockets per client address. Default 50. */
  maxConnectionsPerAddress?: number;
}

export interface LiveEventsDeps {
  supergraphSdl: string;
  logger: Logger;
  production: boolean;
  authenticate(authorization: string): Promise<Principal>;
  admit(params: GraphQLParams, principal: Principal): AdmittedOperation;
  /** The gateway's data sources by subgraph name, as @apollo/gateway built them. */
  dataSources(): Record<string, GraphQLDataSource>;
  /** The caller's rate limit, shared with HTTP. */
  rateLimit?: (subject: string) => Promise<{ allowed: boolean; retryAfterSeconds: number } | null>;
  /** Failed authentications per address, shared with HTTP. */
  authFailures?: FailureLimiter;
}

export function createLiveEvents(options: GatewayEventsOptions, deps: LiveEventsDeps) {
  const { log, eventsDataSource, webhooks = {}, maxSubscriptionsPerConnection, keepAliveMs, maxConnectionsPerSubject, maxConnectionsPerAddress } = options;
  const { supergraphSdl, logger, production, authenticate, admit, dataSources, rateLimit, authFailures } = deps;
  const coalesced = new Map<GraphQLDataSource, GraphQLDataSource>();
  const executor = createFederatedExecutor({
    supergraphSdl,
    logger,
    serviceMap: () => {
      const map: Record<string, GraphQLDataSource> = {};
      for (const [name, source] of Object.entries(dataSources())) {
        if (source === eventsDataSource) map[name] = source;
        else {
          if (!coalesced.has(source)) coalesced.set(source, coalescingDataSource(source));
          map[name] = coalesced.get(source)!;
        }
      }
      return map;
    },
  });
  const service = createSubscriptionService({
    log,
    executor,
    authenticate,
    admit,
    logger: logger.child({ component: 'subscriptions' }),
    maxSubscriptionsPerConnection,
    maxConnectionsPerSubject,
    rateLimit,
    authFailures,
    addressOf: wsAddressOf,
  });
  const webhookRoute = createWebhookRoute({ handlers: webhooks, logger: logger.child({ component: 'webhooks' }) });
  let transport: WebSocketTransport | null = null;

  return {
    /** Subgraphs served in process, for the gateway's buildService (and skipped by /ready). */
    localDataSources: { events: eventsDataSource } as Record<string, GraphQLDataSource>,
    /** Answers `/webhooks/...`; false for any other path. */
    handleWebhook: (req: http.IncomingMessage, res: http.ServerResponse, pathname: string) => webhookRoute(req, res, pathname),
    attach(server: http.Server): void {
      transport = attachWebSocketTransport(server, service, { keepAliveMs, production, maxConnectionsPerAddress, logger });
    },
    stats: () => ({ ...service.stats(), sockets: transport?.clients ?? 0 }),
    async close(): Promise<void> {
      await transport?.close();
      transport = null;
    },
  };
}

export type LiveEvents = ReturnType<typeof createLiveEvents>;
