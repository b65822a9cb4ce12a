/**
 * The dev composition root: starts the bundled vendor simulators for the vendors that are not
 * configured, hands their URLs and credentials to the production composition root (concord.ts) as
 * vendor settings, and points the Stripe simulator's webhooks at the gateway. `npm start`, the
 * integration tests and the benchmarks start Concord through here; nothing outside the dev entry
 * points imports simulators/ (test/architecture/imports.test.ts holds that).
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, type ConcordConfig } from './core/config';
import type { VendorCallListener } from './core/vendor-call';
import { startConcord, type ConcordOptions, type RunningConcord } from './concord';
import type { SimServer } from './simulators/common/sim-server';
import { STRIPE_TAX_RATE_ID, buildSeed, type Seed } from './simulators/common/seed';
import { businessCentralSeed } from './simulators/businesscentral/seed';
import { createBusinessCentralSimulator } from './simulators/businesscentral/server';
import { createNetSuiteSimulator } from './simulators/netsuite/server';
import { createSalesforceSimulator } from './simulators/salesforce/server';
import { createStripeSimulator } from './simulators/stripe/server';
import { createChargebeeSimulator } from './simulators/chargebee/server';
import { hubspotSeed } from './simulators/hubspot/seed';
import { createHubSpotSimulator } from './simulators/hubspot/server';
import type { Ports } from './subgraphs/orchestration/steps';
import { createVendorModules, vendorSettingsFromConfig, type VendorSettings } from './vendors';

/** Credentials the bundled simulators accept (they accept any of the right form). */
export const SIMULATOR_CREDENTIALS = {
  salesforceToken: 'concord-simulator-session',
  // The simulator enforces HubSpot's Professional/Enterprise limits (190 requests / 10 s, search 5/s): the governor keeps to them.
  hubspot: { accessToken: 'pat-na1-concord-simulator-token', requestsPerTenSeconds: 190, searchPerSecond: 5 },
  stripeKey: 'sk_test_concord_simulator',
  // The simulator enforces no per-minute limit unless told to (POST /__sim/limits): the governor's budget is a high one.
  chargebee: { site: 'concord-test', apiKey: 'test_concord_simulator_key', requestsPerMinute: 6000 },
  netsuite: {
    accountId: 'TSTDRV1234567',
    consumerKey: 'concord-sim-consumer',
    consumerSecret: 'concord-sim-consumer-secret',
    tokenId: 'concord-sim-token',
    tokenSecret: 'concord-sim-token-secret',
  },
  businesscentral: {
    tenant: 'concord-sim-tenant',
    environment: 'production',
    clientId: 'concord-sim-client',
    clientSecret: 'concord-sim-client-secret',
  },
};

export interface SystemOptions extends Omit<ConcordOptions, 'vendors' | 'stripeWebhookSecret'> {
  /** Seed data of the bundled simulators. Default buildSeed({ customers: config.seedCustomers }). */
  seed?: Seed;
  /** How far the Stripe simulator's search trails writes, in ms (as Stripe's does). Default 0. */
  stripeSearchLagMs?: number;
}

export interface RunningSystem extends RunningConcord {
  /** The Stripe webhook signing secret in use (null: Stripe webhooks refused). */
  stripeWebhookSecret: string | null;
  /** The bundled simulators that were started (absent for a vendor configured for real). */
  simulators: { salesforce?: SimServer; hubspot?: SimServer; stripe?: SimServer; chargebee?: SimServer; netsuite?: SimServer; businesscentral?: SimServer };
  /** The Chargebee webhook endpoint's Basic-auth credentials (`user:password`) in use (null: refused). */
  chargebeeWebhookCredentials: string | null;
}

type SimulatorUrls = { salesforce?: { url: string }; hubspot?: { url: string }; stripe?: { url: string }; chargebee?: { url: string }; netsuite?: { url: string }; businesscentral?: { url: string } };

/** Vendor settings: the configured vendors, and the bundled simulators (with their credentials) for the others. */
export function simulatedVendorSettings(config: ConcordConfig, simulators: SimulatorUrls): VendorSettings {
  const { salesforce, hubspot, stripe, chargebee, netsuite, businesscentral } = simulators;
  const bc = SIMULATOR_CREDENTIALS.businesscentral;
  return vendorSettingsFromConfig(config, {
    ...(salesforce ? { salesforce: { instanceUrl: salesforce.url, accessToken: SIMULATOR_CREDENTIALS.salesforceToken } } : {}),
    ...(hubspot ? { hubspot: { ...SIMULATOR_CREDENTIALS.hubspot, baseUrl: hubspot.url } } : {}),
    // The simulator seeds an 8% sales-tax rate; a real account configures its own (CONCORD_STRIPE_TAX_RATE_ID).
    ...(stripe ? { stripe: { apiKey: SIMULATOR_CREDENTIALS.stripeKey, baseUrl: stripe.url, taxRateId: config.stripeTaxRateId ?? STRIPE_TAX_RATE_ID } } : {}),
    ...(chargebee ? { chargebee: { ...SIMULATOR_CREDENTIALS.chargebee, baseUrl: chargebee.url } } : {}),
    ...(netsuite ? { netsuite: { ...SIMULATOR_CREDENTIALS.netsuite, baseUrl: netsuite.url } } : {}),
    ...(businesscentral ? { businesscentral: { ...bc, baseUrl: businesscentral.url, tokenUrl: `${businesscentral.url}/${bc.tenant}/oauth2/v2.0/token` } } : {}),
  });
}

/** One adapter per vendor: the configured vendor, or the bundled simulator at its URL (tests, benchmarks). */
export function createVendorPorts(config: ConcordConfig, simulators: SimulatorUrls, onCall?: VendorCallListener): Ports {
  return createVendorModules(simulatedVendorSettings(config, simulators), { onCall }).ports;
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const { config, ports = 'fixed' } = options;
  const at = (offset: number) => (ports === 'fixed' ? config.port + offset : 0);
  const host = config.host;
  const simulators: RunningSystem['simulators'] = {};
  const closeSimulators = async () => {
    for (const sim of Object.values(simulators)) await sim.close().catch(() => undefined);
  };

  let concord: RunningConcord;
  let stripeWebhookSecret: string | null;
  let chargebeeWebhookCredentials: string | null;
  try {
    // Production never stands a simulator in for a vendor (core/config.ts refuses the start first).
    // The chosen vendor of each system (CONCORD_CRM, CONCORD_BILLING, CONCORD_ERP) that is not configured is simulated.
    const chosen = config.vendors;
    const simulate = {
      salesforce: chosen.crm === 'salesforce' && !config.salesforce,
      hubspot: chosen.crm === 'hubspot' && !config.hubspot,
      stripe: chosen.billing === 'stripe' && !config.stripe,
      chargebee: chosen.billing === 'chargebee' && !config.chargebee,
      netsuite: chosen.erp === 'netsuite' && !config.netsuite,
      businesscentral: chosen.erp === 'businesscentral' && !config.businesscentral,
    };
    const unconfigured = Object.entries(simulate).filter(([, simulated]) => simulated).map(([vendor]) => vendor);
    if (config.production && unconfigured.length > 0) throw new ConfigError(`NODE_ENV=production: ${unconfigured.join(', ')} not configured; no simulator is started in production`);
    const baseSeed = options.seed ?? buildSeed({ customers: config.seedCustomers });
    // With Business Central as the ERP every simulator holds BC's ids (GUIDs) as the ERP's.
    // With HubSpot as the CRM every simulator holds HubSpot's ids (numbers) as the CRM's.
    const crmSeed = chosen.crm === 'hubspot' ? hubspotSeed(baseSeed) : baseSeed;
    const seed = chosen.erp === 'businesscentral' ? businessCentralSeed(crmSeed) : crmSeed;
    if (simulate.salesforce) simulators.salesforce = await createSalesforceSimulator({ seed }).listen(at(101), host);
    if (simulate.hubspot) simulators.hubspot = await createHubSpotSimulator({ seed }).listen(at(104), host);
    if (simulate.stripe) simulators.stripe = await createStripeSimulator({ seed, searchLagMs: options.stripeSearchLagMs }).listen(at(102), host);
    if (simulate.chargebee) simulators.chargebee = await createChargebeeSimulator({ seed }).listen(at(107), host);
    if (simulate.netsuite) simulators.netsuite = await createNetSuiteSimulator({ seed }).listen(at(103), host);
    if (simulate.businesscentral) {
      const { tenant, environment } = SIMULATOR_CREDENTIALS.businesscentral;
      simulators.businesscentral = await createBusinessCentralSimulator({ seed, tenant, environment }).listen(at(106), host);
    }
    // A real Stripe account's endpoint secret must be configured; the simulator gets one of ours.
    stripeWebhookSecret = config.events.stripeWebhookSecret ?? (simulators.stripe ? `whsec_${randomBytes(24).toString('base64url')}` : null);
    // Likewise Chargebee's webhook credentials: configured for a real site, made up for the simulator.
    chargebeeWebhookCredentials = config.events.chargebeeWebhookCredentials ?? (simulators.chargebee ? `concord:${randomBytes(24).toString('base64url')}` : null);
    concord = await startConcord({
      ...options,
      vendors: simulatedVendorSettings(config, simulators),
      stripeWebhookSecret,
      webhookSecrets: { chargebee: chargebeeWebhookCredentials },
    });
  } catch (error) {
    await closeSimulators();
    throw error;
  }
  const close = async () => {
    // Concord first, simulators last: nothing is left calling a closed server.
    await concord.close();
    await closeSimulators();
  };
  try {
    // With real Stripe the endpoint is configured in Stripe's dashboard; the simulator is told here.
    if (simulators.stripe && stripeWebhookSecret) {
      const response = await fetch(`${simulators.stripe.url}/__sim/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${concord.gateway.url}/webhooks/stripe`, secret: stripeWebhookSecret }),
      });
      if (!response.ok) throw new Error(`the Stripe simulator refused the webhook endpoint (${response.status})`);
    }
    if (simulators.chargebee && chargebeeWebhookCredentials) {
      const at = chargebeeWebhookCredentials.indexOf(':');
      const response = await fetch(`${simulators.chargebee.url}/__sim/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${concord.gateway.url}/webhooks/chargebee`, username: chargebeeWebhookCredentials.slice(0, at), password: chargebeeWebhookCredentials.slice(at + 1) }),
      });
      if (!response.ok) throw new Error(`the Chargebee simulator refused the webhook endpoint (${response.status})`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { ...concord, stripeWebhookSecret, chargebeeWebhookCredentials, simulators, close };
}
