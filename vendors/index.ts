/**
 * The vendor modules of a process, built from vendor settings: the only way into Salesforce,
 * HubSpot, Stripe, Chargebee, NetSuite and Business Central. Subgraphs, sagas, pollers, webhooks and reconciliation get the ports, change
 * feeds and webhook handler made here; metrics and the ops console get the limits. Which vendor
 * (the real account or a simulator) is decided by whoever builds the settings: the production
 * composition root reads them from the configuration (vendorSettingsFromConfig), the dev one
 * (system.ts) points them at the bundled simulators.
 */
import type { CapacityDescriptor, CapacityGovernor } from '../core/capacity';
import { ConfigError, type ConcordConfig, type VendorChoice } from '../core/config';
import type { EventLog } from '../core/events/event-log';
import type { Logger } from '../core/log';
import type { RetryPolicies, VendorRetryPolicy } from '../core/retry';
import type { WebhookHandler } from '../core/webhooks';
import type { VendorCallListener, VendorLimitPolicy } from '../core/vendor-call';
import type { ChangeFeed } from '../subgraphs/events/poller';
import type { BillingPort } from '../subgraphs/billing/port';
import type { CrmPort } from '../subgraphs/crm/port';
import type { ErpPort } from '../subgraphs/erp/port';
import type { Ports } from '../subgraphs/orchestration/steps';
import { businessCentralLimits, createBusinessCentralModule, type BusinessCentralSettings } from './businesscentral';
import { businessCentralRetry } from './businesscentral/retry';
import { createHubSpotModule, hubspotLimits, type HubSpotSettings } from './hubspot';
import { hubspotRetry } from './hubspot/retry';
import { createNetSuiteModule, netsuiteLimits, type NetSuiteSettings } from './netsuite';
import { createSalesforceModule, salesforceLimits, type SalesforceSettings } from './salesforce';
import { chargebeeLimits, createChargebeeModule, type ChargebeeSettings } from './chargebee';
import { chargebeeRetry } from './chargebee/retry';
import { createStripeModule, stripeLimits, type StripeSettings } from './stripe';
import { netsuiteRetry } from './netsuite/retry';
import { salesforceRetry } from './salesforce/retry';
import { stripeRetry } from './stripe/retry';

export type { BusinessCentralSettings } from './businesscentral';
export type { ChargebeeSettings } from './chargebee';
export type { HubSpotSettings } from './hubspot';
export type { NetSuiteSettings } from './netsuite';
export type { SalesforceSettings } from './salesforce';
export type { StripeSettings } from './stripe';

/**
 * Where each vendor is and how Concord signs in: the settings of the vendor chosen for each system
 * (`choice`, from CONCORD_CRM / CONCORD_BILLING / CONCORD_ERP); the other vendors' are absent.
 */
export interface VendorSettings {
  choice: VendorChoice;
  salesforce?: SalesforceSettings;
  hubspot?: HubSpotSettings;
  stripe?: StripeSettings;
  chargebee?: ChargebeeSettings;
  netsuite?: NetSuiteSettings;
  businesscentral?: BusinessCentralSettings;
}

/** Builds a vendor's webhook handler (`/webhooks/<vendor>`) for the endpoint's secret. */
export type VendorWebhookFactory = (options: { secret: string; log: EventLog; logger: Logger }) => WebhookHandler;

/** What every vendor module gives the process, whatever the vendor: one system's port and its surroundings. */
export interface SystemModule<P> {
  /** The vendor's name (`salesforce`, `stripe`, ...): the key of its limits and webhook route. */
  vendor: string;
  port: P;
  changeFeeds: ChangeFeed[];
  limits: VendorLimitPolicy;
  /** The account's capacity as the governor keeps it (core/capacity.ts). */
  capacity: CapacityDescriptor;
  retry: VendorRetryPolicy;
  /** Webhook handlers by route name (`/webhooks/<name>`), for vendors that push events. */
  webhooks: Record<string, VendorWebhookFactory>;
}

export interface VendorModules {
  /** One port adapter per system, on the process's one client of the chosen vendor. */
  ports: Ports;
  /** Change feeds of the vendors Concord polls. */
  changeFeeds: ChangeFeed[];
  /** Webhook handler factories by route name (`stripe` -> /webhooks/stripe). */
  webhooks: Record<string, VendorWebhookFactory>;
  /** Each vendor's limit by vendor name, for metrics and the ops console. */
  limits: Record<string, VendorLimitPolicy>;
  /** Each vendor's retry policy by system, for the saga engine (the clients read the same ones). */
  retryPolicies: RetryPolicies;
  /** Each vendor's capacity descriptor by vendor name (what the governor enforces), for metrics. */
  capacity: Record<string, CapacityDescriptor>;
}

type ModuleOptions = {
  onCall?: VendorCallListener;
  /**
   * The process's capacity governor (core/capacity.ts; Redis-backed with REDIS_URL): every
   * vendor client takes its account's gate from it. Default: an in-memory one per module.
   */
  governor?: CapacityGovernor;
};

function required<T>(value: T | undefined, what: string): T {
  if (!value) throw new ConfigError(`${what} is chosen but not configured`);
  return value;
}

/** The CRM module of the chosen vendor. */
export function createCrmModule(settings: VendorSettings, options: ModuleOptions = {}): SystemModule<CrmPort> {
  switch (settings.choice.crm) {
    case 'salesforce': {
      const salesforce = createSalesforceModule(required(settings.salesforce, 'Salesforce'), options);
      return { vendor: 'salesforce', port: salesforce.port, changeFeeds: [salesforce.changeFeed], limits: salesforce.limits, capacity: salesforce.capacity, retry: salesforceRetry, webhooks: {} };
    }
    case 'hubspot': {
      const hubspot = createHubSpotModule(required(settings.hubspot, 'HubSpot'), options);
      return { vendor: 'hubspot', port: hubspot.port, changeFeeds: [hubspot.changeFeed], limits: hubspot.limits, capacity: hubspot.capacity, retry: hubspotRetry, webhooks: {} };
    }
    default:
      throw new ConfigError(`CONCORD_CRM=${settings.choice.crm} has no vendor module in this build`);
  }
}

/** The billing module of the chosen vendor. */
export function createBillingModule(settings: VendorSettings, options: ModuleOptions = {}): SystemModule<BillingPort> {
  switch (settings.choice.billing) {
    case 'stripe': {
      const stripe = createStripeModule(required(settings.stripe, 'Stripe'), options);
      return { vendor: 'stripe', port: stripe.port, changeFeeds: [], limits: stripe.limits, capacity: stripe.capacity, retry: stripeRetry, webhooks: { stripe: stripe.webhookHandler } };
    }
    case 'chargebee': {
      const chargebee = createChargebeeModule(required(settings.chargebee, 'Chargebee'), options);
      return { vendor: 'chargebee', port: chargebee.port, changeFeeds: [], limits: chargebee.limits, capacity: chargebee.capacity, retry: chargebeeRetry, webhooks: { chargebee: chargebee.webhookHandler } };
    }
    default:
      throw new ConfigError(`CONCORD_BILLING=${settings.choice.billing} has no vendor module in this build`);
  }
}

/** The ERP module of the chosen vendor. */
export function createErpModule(settings: VendorSettings, options: ModuleOptions = {}): SystemModule<ErpPort> {
  switch (settings.choice.erp) {
    case 'netsuite': {
      const netsuite = createNetSuiteModule(required(settings.netsuite, 'NetSuite'), options);
      return { vendor: 'netsuite', port: netsuite.port, changeFeeds: [netsuite.changeFeed], limits: netsuite.limits, capacity: netsuite.capacity, retry: netsuiteRetry, webhooks: {} };
    }
    case 'businesscentral': {
      const bc = createBusinessCentralModule(required(settings.businesscentral, 'Business Central'), options);
      return { vendor: 'businesscentral', port: bc.port, changeFeeds: [bc.changeFeed], limits: bc.limits, capacity: bc.capacity, retry: businessCentralRetry, webhooks: {} };
    }
    default:
      throw new ConfigError(`CONCORD_ERP=${settings.choice.erp} has no vendor module in this build`);
  }
}

export function createVendorModules(settings: VendorSettings, options: ModuleOptions = {}): VendorModules {
  const crm = createCrmModule(settings, options);
  const billing = createBillingModule(settings, options);
  const erp = createErpModule(settings, options);
  const webhooks = { ...crm.webhooks, ...billing.webhooks, ...erp.webhooks };
  return {
    ports: { crm: crm.port, billing: billing.port, erp: erp.port },
    changeFeeds: [...crm.changeFeeds, ...billing.changeFeeds, ...erp.changeFeeds],
    webhooks,
    limits: { [crm.vendor]: crm.limits, [billing.vendor]: billing.limits, [erp.vendor]: erp.limits },
    retryPolicies: { CRM: crm.retry, BILLING: billing.retry, ERP: erp.retry },
    capacity: { [crm.vendor]: crm.capacity, [billing.vendor]: billing.capacity, [erp.vendor]: erp.capacity },
  };
}

/** Each chosen vendor's limit by vendor name, as its module declares it (known from the settings alone). */
export function vendorLimits(settings: VendorSettings): Record<string, VendorLimitPolicy> {
  const limits: Record<string, VendorLimitPolicy> = {};
  if (settings.choice.crm === 'salesforce') limits.salesforce = salesforceLimits;
  if (settings.choice.crm === 'hubspot') limits.hubspot = hubspotLimits(settings.hubspot?.requestsPerTenSeconds);
  if (settings.choice.billing === 'stripe' && settings.stripe) limits.stripe = stripeLimits(settings.stripe.apiKey, settings.stripe.ratePerSecond);
  if (settings.choice.billing === 'chargebee' && settings.chargebee) limits.chargebee = chargebeeLimits(settings.chargebee.requestsPerMinute);
  if (settings.choice.erp === 'netsuite') limits.netsuite = netsuiteLimits(settings.netsuite?.concurrency ?? 5);
  if (settings.choice.erp === 'businesscentral') limits.businesscentral = businessCentralLimits;
  return limits;
}

/** Where each chosen vendor answers, by vendor name: what /ready probes (core/readiness.ts). */
export function vendorEndpoints(settings: VendorSettings): Record<string, string> {
  const endpoints: Record<string, string> = {};
  if (settings.choice.crm === 'salesforce' && settings.salesforce) endpoints.salesforce = settings.salesforce.instanceUrl;
  if (settings.choice.crm === 'hubspot' && settings.hubspot) endpoints.hubspot = settings.hubspot.baseUrl ?? 'https://api.hubapi.com';
  if (settings.choice.billing === 'stripe' && settings.stripe) endpoints.stripe = settings.stripe.baseUrl ?? 'https://api.stripe.com';
  if (settings.choice.billing === 'chargebee' && settings.chargebee) endpoints.chargebee = settings.chargebee.baseUrl ?? `https://${settings.chargebee.site}.chargebee.com`;
  if (settings.choice.erp === 'netsuite' && settings.netsuite) endpoints.netsuite = settings.netsuite.baseUrl;
  if (settings.choice.erp === 'businesscentral' && settings.businesscentral) endpoints.businesscentral = settings.businesscentral.baseUrl;
  return endpoints;
}

/** Settings a dev composition root fills in for vendors it simulates. */
export type VendorFallback = Omit<Partial<VendorSettings>, 'choice'>;

/** What a deployment must set to use each vendor for real (named when missing). */
const VENDOR_VARIABLES: Record<string, string> = {
  salesforce: 'Salesforce (SALESFORCE_INSTANCE_URL, SALESFORCE_ACCESS_TOKEN)',
  hubspot: 'HubSpot (HUBSPOT_ACCESS_TOKEN)',
  stripe: 'Stripe (STRIPE_API_KEY)',
  chargebee: 'Chargebee (CHARGEBEE_SITE, CHARGEBEE_API_KEY)',
  netsuite: 'NetSuite (NETSUITE_ACCOUNT_ID, NETSUITE_CONSUMER_KEY, NETSUITE_CONSUMER_SECRET, NETSUITE_TOKEN_ID, NETSUITE_TOKEN_SECRET)',
  businesscentral: 'Business Central (BUSINESSCENTRAL_TENANT_ID, BUSINESSCENTRAL_CLIENT_ID, BUSINESSCENTRAL_CLIENT_SECRET)',
};

/**
 * The vendor settings a deployment configured (core/config.ts) for the vendors it chose, or a
 * ConfigError naming every chosen vendor that is not configured. `fallback` fills in vendors a dev
 * composition root simulates.
 */
export function vendorSettingsFromConfig(config: ConcordConfig, fallback: VendorFallback = {}): VendorSettings {
  const choice = config.vendors;
  const settings: VendorSettings = { choice };
  const missing: string[] = [];
  const unavailable: string[] = [];
  if (choice.crm === 'salesforce') {
    settings.salesforce = config.salesforce ?? fallback.salesforce;
    if (!settings.salesforce) missing.push(VENDOR_VARIABLES.salesforce);
  } else if (choice.crm === 'hubspot') {
    settings.hubspot = config.hubspot ?? fallback.hubspot;
    if (!settings.hubspot) missing.push(VENDOR_VARIABLES.hubspot);
  } else unavailable.push(`CONCORD_CRM=${choice.crm}`);
  if (choice.billing === 'stripe') {
    const stripe = config.stripe ? { ...config.stripe, taxRateId: config.stripeTaxRateId } : fallback.stripe;
    if (stripe) settings.stripe = { ...stripe, searchLagSeconds: config.stripeSearchLagSeconds, ratePerSecond: config.stripeRatePerSecond };
    if (!settings.stripe) missing.push(VENDOR_VARIABLES.stripe);
  } else if (choice.billing === 'chargebee') {
    settings.chargebee = config.chargebee ?? fallback.chargebee;
    if (!settings.chargebee) missing.push(VENDOR_VARIABLES.chargebee);
  } else unavailable.push(`CONCORD_BILLING=${choice.billing}`);
  if (choice.erp === 'netsuite') {
    const netsuite = config.netsuite ?? fallback.netsuite;
    if (netsuite) settings.netsuite = { ...netsuite, concurrency: config.orchestration.concurrency.ERP };
    else missing.push(VENDOR_VARIABLES.netsuite);
  } else if (choice.erp === 'businesscentral') {
    const bc = config.businesscentral ? businessCentralSettings(config.businesscentral) : fallback.businesscentral;
    if (bc) settings.businesscentral = { ...bc, concurrency: config.orchestration.concurrency.ERP };
    else missing.push(VENDOR_VARIABLES.businesscentral);
  } else unavailable.push(`CONCORD_ERP=${choice.erp}`);
  if (unavailable.length > 0) throw new ConfigError(`vendor modules not in this build yet: ${unavailable.join(', ')}`);
  if (missing.length > 0) throw new ConfigError(`vendors not configured: ${missing.join('; ')}`);
  return settings;
}

/** Business Central settings from its configuration group (an empty company id: the only company). */
function businessCentralSettings(config: NonNullable<ConcordConfig['businesscentral']>): BusinessCentralSettings {
  const { companyId, ...rest } = config;
  return { ...rest, ...(companyId ? { companyId } : {}) };
}
