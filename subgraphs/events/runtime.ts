/**
 * The event workers of a Concord process, built from the configuration: the Stripe webhook handler
 * (served by the gateway at /webhooks/stripe), the Salesforce and NetSuite change pollers, and the
 * account-status reaction. The vendor side of each (the webhook handler, the change feeds) comes
 * from the vendor modules (vendors/index.ts); this file only decides what runs where.
 *
 * Pollers and reactions run where order-to-cash workers run (CONCORD_WORKERS, default on); with
 * several processes on one Redis, a lease gives each poller one runner and the consumer group hands
 * each event to one reaction worker.
 */
import type { ConcordConfig } from '../../core/config';
import type { EventInfrastructure } from '../../core/events';
import type { EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import type { WebhookHandler } from '../../core/webhooks';
import type { Ports } from '../orchestration/steps';
import { createAccountStatusReaction } from './account-status';
import { runPoller, type ChangeFeed } from './poller';

/** What the events runtime needs of the vendor modules (vendors/index.ts VendorModules). */
export interface EventVendors {
  changeFeeds: ChangeFeed[];
  /** Webhook handler factories of the chosen vendors by route name (`/webhooks/<name>`). */
  webhooks: Record<string, (options: { secret: string; log: EventLog; logger: Logger }) => WebhookHandler>;
}

export interface EventsRuntimeOptions {
  config: ConcordConfig;
  events: EventInfrastructure;
  ports: Ports;
  vendors: EventVendors;
  logger: Logger;
  /** The Stripe endpoint's signing secret. Default config.events.stripeWebhookSecret (null: Stripe webhooks refused). */
  stripeWebhookSecret?: string | null;
  /** Signing secrets of the other vendors' webhook endpoints, by route name (null: that route refuses). */
  webhookSecrets?: Record<string, string | null>;
  /** Run pollers and reactions in this process. Default: config.orchestration.workers. */
  workers?: boolean;
  /** Poll interval, ms (0 = no polling). Default: config.events.pollIntervalMs. */
  pollIntervalMs?: number;
}

export interface EventsRuntime {
  /** Webhook handlers for the gateway (`/webhooks/<name>`). */
  webhooks: Record<string, WebhookHandler>;
  /** The Stripe endpoint's signing secret (null: Stripe webhooks are refused, see start-up log). */
  stripeWebhookSecret: string | null;
  /**
   * Start the workers (in a process that runs them). `gatewayUrl`: this process serves the webhook
   * endpoint, and warns when Stripe's cannot verify deliveries.
   */
  start(gatewayUrl?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long a customer record Concord wrote is kept from change polling (echo.ts): past the poll
 * that will read it, with its overlap window.
 */
export function echoTtlMs(config: ConcordConfig): number {
  return Math.max(30_000, 3 * config.events.pollIntervalMs + 10_000);
}

export function createEventsRuntime(options: EventsRuntimeOptions): EventsRuntime {
  const { config, events, ports, vendors, logger } = options;
  const { workers = config.orchestration.workers, pollIntervalMs = config.events.pollIntervalMs } = options;
  const { stripeWebhookSecret: secret = config.events.stripeWebhookSecret } = options;
  const log = logger.child({ component: 'events' });
  const secrets: Record<string, string | null> = { chargebee: config.events.chargebeeWebhookCredentials, ...options.webhookSecrets, stripe: secret };
  const webhooks: Record<string, WebhookHandler> = {};
  for (const [name, make] of Object.entries(vendors.webhooks)) {
    const routeSecret = secrets[name] ?? null;
    const unconfigured = name === 'stripe'
      ? 'Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)'
      : name === 'chargebee'
        ? 'Chargebee webhooks are not configured (CHARGEBEE_WEBHOOK_USERNAME, CHARGEBEE_WEBHOOK_PASSWORD)'
        : `${name} webhooks are not configured`;
    webhooks[name] = routeSecret ? make({ secret: routeSecret, log: events.log, logger: log }) : async () => ({ status: 503, body: { error: unconfigured } });
  }
  const controller = new AbortController();
  const running: Promise<void>[] = [];

  return {
    webhooks,
    stripeWebhookSecret: secret,
    async start(gatewayUrl) {
      if (gatewayUrl && vendors.webhooks.stripe && !secret) log.warn('STRIPE_WEBHOOK_SECRET is not set: /webhooks/stripe refuses every delivery');
      if (gatewayUrl && vendors.webhooks.chargebee && !secrets.chargebee) log.warn('CHARGEBEE_WEBHOOK_USERNAME/PASSWORD are not set: /webhooks/chargebee refuses every delivery');
      if (!workers) return;
      const reaction = createAccountStatusReaction({ log: events.log, coordination: events.coordination, ports, logger: log });
      running.push(reaction.run(controller.signal).catch((error: unknown) => log.error({ err: error }, 'account status reaction stopped')));
      if (pollIntervalMs > 0) {
        for (const feed of vendors.changeFeeds) {
          running.push(runPoller({ feed, log: events.log, coordination: events.coordination, logger: log, intervalMs: pollIntervalMs, signal: controller.signal }));
        }
      }
    },
    async close() {
      controller.abort();
      await Promise.all(running);
    },
  };
}
