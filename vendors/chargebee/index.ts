/**
 * The Chargebee module: everything Concord says to a Chargebee site goes through here. One client
 * per process (client.ts: the official SDK, every attempt reported and traced), the billing port
 * adapter (adapter.ts, errors mapped in errors.ts), the webhook path (webhooks.ts: Basic-auth check,
 * normalisation, the customer link read on the same client) and the site's per-minute limit as
 * metrics and the ops console read it.
 */
import { createHash } from 'node:crypto';
import { createMemoryCapacityGovernor, type CapacityDescriptor, type CapacityGovernor } from '../../core/capacity';
import type { EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import type { WebhookHandler } from '../../core/webhooks';
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { BillingPort } from '../../subgraphs/billing/port';
import { createChargebeeAdapter } from './adapter';
import { createChargebeeClient, type ChargebeeSettings } from './client';
import { chargebeeCustomerLink, createChargebeeWebhookHandler } from './webhooks';

export type { ChargebeeSettings } from './client';

/**
 * Chargebee's documented limits are per minute by plan ("What are the Chargebee API limits?": test
 * sites and Starter 150/min, Performance 1000, Enterprise 3500); as requests per second for the
 * governors and metrics, rounded down (150/min = 2.5/s -> 2).
 */
export const chargebeeLimits = (requestsPerMinute = 150): VendorLimitPolicy => ({ system: 'BILLING', kind: 'REQUESTS_PER_SECOND', max: Math.max(1, Math.floor(requestsPerMinute / 60)) });

/**
 * The site's capacity as the governor keeps it: Chargebee counts requests a minute per site, so
 * the window is a minute (plus a second's guard for transit), shared by every process using the
 * same site and key (named by a hash of both: the key is a secret and never a Redis key).
 */
export const chargebeeCapacity = (settings: Pick<ChargebeeSettings, 'site' | 'apiKey' | 'requestsPerMinute'>): CapacityDescriptor => ({
  system: 'BILLING',
  vendor: 'chargebee',
  account: createHash('sha256').update(`${settings.site}:${settings.apiKey}`).digest('hex').slice(0, 16),
  perSecond: settings.requestsPerMinute ?? 150,
  rateWindowMs: 61_000,
});

export interface ChargebeeModule {
  port: BillingPort;
  limits: VendorLimitPolicy;
  capacity: CapacityDescriptor;
  /** The `/webhooks/chargebee` handler for the endpoint's Basic-auth credentials (`user:password`). */
  webhookHandler(options: { secret: string; log: EventLog; logger: Logger }): WebhookHandler;
}

export function createChargebeeModule(settings: ChargebeeSettings, options: { onCall?: VendorCallListener; governor?: CapacityGovernor } = {}): ChargebeeModule {
  const governor = options.governor ?? createMemoryCapacityGovernor();
  const client = createChargebeeClient({ ...settings, gate: governor.gate(chargebeeCapacity(settings)), onCall: options.onCall });
  const customerLink = chargebeeCustomerLink({ client });
  return {
    port: createChargebeeAdapter({ client }),
    limits: chargebeeLimits(settings.requestsPerMinute),
    capacity: chargebeeCapacity(settings),
    webhookHandler: ({ secret, log, logger }) => createChargebeeWebhookHandler({ credentials: secret, log, customerLink, logger }),
  };
}
