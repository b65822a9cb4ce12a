/**
 * The event workers of a Concord process, built from the configuration: the Stripe webhook handler
 * (served by the gateway at /webhooks/stripe), the Salesforce and NetSuite change pollers, and the
 * account-status reaction. With the bundled Stripe simulator, its webhook endpoint is pointed at the
 * gateway with a signing secret generated per start (or STRIPE_WEBHOOK_SECRET when set).
 *
 * Pollers and reactions run where order-to-cash workers run (CONCORD_WORKERS, default on); with
 * several processes on one Redis, a lease gives each poller one runner and the consumer group hands
 * each event to one reaction worker.
 */
import { randomBytes } from 'node:crypto';
import type { ConcordConfig } from '../../core/config';
import type { EventInfrastructure } from '../../core/events';
import type { Logger } from '../../core/log';
import type { WebhookHandler } from '../../gateway/webhooks';
import type { Ports } from '../orchestration/steps';
import { createAccountStatusReaction } from './account-status';
import { createNetSuiteChangeFeed } from '../../vendors/netsuite/changes';
import { runPoller, type ChangeFeed } from './poller';
import { createSalesforceChangeFeed } from '../../vendors/salesforce/changes';
import { createStripeWebhookHandler, stripeCustomerLink } from '../../vendors/stripe/webhooks';

/** Where the vendors are: the configured ones, or the bundled simulators. */
export interface VendorEndpoints {
  salesforce: { instanceUrl: string; accessToken: string };
  stripe: { apiKey: string; baseUrl: string; simulated: boolean };
  netsuite: { baseUrl: string; accountId: string; consumerKey: string; consumerSecret: string; tokenId: string; tokenSecret: string };
}

export interface EventsRuntimeOptions {
  config: ConcordConfig;
  events: EventInfrastructure;
  ports: Ports;
  vendors: VendorEndpoints;
  logger: Logger;
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
   * Start the workers and, in a process that serves the gateway (`gatewayUrl`), point the Stripe
   * simulator's webhooks at it (with real Stripe, the endpoint is configured in Stripe's dashboard).
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
  const log = logger.child({ component: 'events' });
  // A real Stripe account's endpoint secret must be configured; the simulator gets one of ours.
  const secret = config.events.stripeWebhookSecret ?? (vendors.stripe.simulated ? `whsec_${randomBytes(24).toString('base64url')}` : null);
  const webhooks: Record<string, WebhookHandler> = {
    stripe: secret
      ? createStripeWebhookHandler({
          secret,
          log: events.log,
          customerLink: stripeCustomerLink({ apiKey: vendors.stripe.apiKey, baseUrl: vendors.stripe.baseUrl }),
          logger: log,
        })
      : async () => ({ status: 503, body: { error: 'Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)' } }),
  };
  const controller = new AbortController();
  const running: Promise<void>[] = [];

  return {
    webhooks,
    stripeWebhookSecret: secret,
    async start(gatewayUrl) {
      if (gatewayUrl && !secret) log.warn('STRIPE_WEBHOOK_SECRET is not set: /webhooks/stripe refuses every delivery');
      if (gatewayUrl && vendors.stripe.simulated && secret) {
        const response = await fetch(`${vendors.stripe.baseUrl}/__sim/webhooks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: `${gatewayUrl}/webhooks/stripe`, secret }),
        });
        if (!response.ok) throw new Error(`the Stripe simulator refused the webhook endpoint (${response.status})`);
      }
      if (!workers) return;
      const reaction = createAccountStatusReaction({ log: events.log, coordination: events.coordination, ports, logger: log });
      running.push(reaction.run(controller.signal).catch((error: unknown) => log.error({ err: error }, 'account status reaction stopped')));
      if (pollIntervalMs > 0) {
        const feeds: ChangeFeed[] = [createSalesforceChangeFeed(vendors.salesforce), createNetSuiteChangeFeed(vendors.netsuite)];
        for (const feed of feeds) {
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
