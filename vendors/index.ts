/**
 * The vendor modules of a process, built from vendor settings: the only way into Salesforce,
 * Stripe and NetSuite. Subgraphs, sagas, pollers, webhooks and reconciliation get the ports, change
 * feeds and webhook handler made here; metrics and the ops console get the limits. Which vendor
 * (the real account or a simulator) is decided by whoever builds the settings: the production
 * composition root reads them from the configuration (vendorSettingsFromConfig), the dev one
 * (system.ts) points them at the bundled simulators.
 */
import { ConfigError, type ConcordConfig } from '../core/config';
import type { EventLog } from '../core/events/event-log';
import type { Logger } from '../core/log';
import type { RetryPolicies } from '../core/retry';
import type { WebhookHandler } from '../core/webhooks';
import type { VendorCallListener, VendorLimitPolicy } from '../core/vendor-call';
import type { ChangeFeed } from '../subgraphs/events/poller';
import type { Ports } from '../subgraphs/orchestration/steps';
import { createNetSuiteModule, netsuiteLimits, type NetSuiteSettings } from './netsuite';
import { createSalesforceModule, salesforceLimits, type SalesforceSettings } from './salesforce';
import { createStripeModule, stripeLimits, type StripeSettings } from './stripe';
import { netsuiteRetry } from './netsuite/retry';
import { salesforceRetry } from './salesforce/retry';
import { stripeRetry } from './stripe/retry';

export type { NetSuiteSettings } from './netsuite';
export type { SalesforceSettings } from './salesforce';
export type { StripeSettings } from './stripe';

/** Where each vendor is and how Concord signs in. */
export interface VendorSettings {
  salesforce: SalesforceSettings;
  stripe: StripeSettings;
  netsuite: NetSuiteSettings;
}

export interface VendorModules {
  /** One port adapter per vendor, on the process's one client of that vendor. */
  ports: Ports;
  /** Change feeds of the vendors Concord polls (Salesforce, NetSuite). */
  changeFeeds: ChangeFeed[];
  /** Stripe's webhook handler for an endpoint signing secret. */
  stripeWebhook(options: { secret: string; log: EventLog; logger: Logger }): WebhookHandler;
  /** Each vendor's limit by vendor name, for metrics and the ops console. */
  limits: Record<string, VendorLimitPolicy>;
  /** Each vendor's retry policy by system, for the saga engine (the clients read the same ones). */
  retryPolicies: RetryPolicies;
}

export function createVendorModules(settings: VendorSettings, options: { onCall?: VendorCallListener } = {}): VendorModules {
  const salesforce = createSalesforceModule(settings.salesforce, options);
  const stripe = createStripeModule(settings.stripe, options);
  const netsuite = createNetSuiteModule(settings.netsuite, options);
  return {
    ports: { crm: salesforce.port, billing: stripe.port, erp: netsuite.port },
    changeFeeds: [salesforce.changeFeed, netsuite.changeFeed],
    stripeWebhook: stripe.webhookHandler,
    limits: vendorLimits(settings),
    retryPolicies: { CRM: salesforceRetry, BILLING: stripeRetry, ERP: netsuiteRetry },
  };
}

/** Each vendor's limit by vendor name, as its module declares it (known from the settings alone). */
export function vendorLimits(settings: VendorSettings): Record<string, VendorLimitPolicy> {
  return { salesforce: salesforceLimits, stripe: stripeLimits(settings.stripe.apiKey), netsuite: netsuiteLimits(settings.netsuite.concurrency ?? 5) };
}

/**
 * The vendor settings a deployment configured (core/config.ts), or a ConfigError naming every
 * vendor that is not configured. `fallback` fills in vendors a dev composition root simulates.
 */
export function vendorSettingsFromConfig(config: ConcordConfig, fallback: Partial<VendorSettings> = {}): VendorSettings {
  const unavailable = [
    config.vendors.crm !== 'salesforce' && `CONCORD_CRM=${config.vendors.crm}`,
    config.vendors.billing !== 'stripe' && `CONCORD_BILLING=${config.vendors.billing}`,
    config.vendors.erp !== 'netsuite' && `CONCORD_ERP=${config.vendors.erp}`,
  ].filter((entry): entry is string => !!entry);
  if (unavailable.length > 0) throw new ConfigError(`vendor modules not in this build yet: ${unavailable.join(', ')}`);
  const salesforce = config.salesforce ?? fallback.salesforce;
  const stripe = config.stripe ? { ...config.stripe, taxRateId: config.stripeTaxRateId } : fallback.stripe;
  const netsuiteBase = config.netsuite ?? fallback.netsuite;
  const missing = [
    !salesforce && 'Salesforce (SALESFORCE_INSTANCE_URL, SALESFORCE_ACCESS_TOKEN)',
    !stripe && 'Stripe (STRIPE_API_KEY)',
    !netsuiteBase && 'NetSuite (NETSUITE_ACCOUNT_ID, NETSUITE_CONSUMER_KEY, NETSUITE_CONSUMER_SECRET, NETSUITE_TOKEN_ID, NETSUITE_TOKEN_SECRET)',
  ].filter((entry): entry is string => !!entry);
  if (!salesforce || !stripe || !netsuiteBase) throw new ConfigError(`vendors not configured: ${missing.join('; ')}`);
  return { salesforce, stripe, netsuite: { ...netsuiteBase, concurrency: config.orchestration.concurrency.ERP } };
}
