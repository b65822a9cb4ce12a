/**
 * `npm run simulators`: the three vendor simulators on their own, as stand-ins for remote vendors,
 * for the separate-process topology (docs/deploy.md "Scaling out"). It prints their URLs and the
 * variables Concord's processes take to reach them, as `export` lines a shell (or a test) can use.
 *
 * With --require-credentials every simulator accepts only the credentials printed (freshly
 * generated at each start), as a vendor accepts only its account's: Salesforce answers any other
 * session 401 INVALID_SESSION_ID, Stripe 401 "Invalid API Key", NetSuite 401 INVALID_LOGIN (its
 * TBA signatures are verified). Without it they accept any credential of the right form.
 *
 * A development tool: it refuses to run under NODE_ENV=production.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../core/config';
import { STRIPE_TAX_RATE_ID, buildSeed } from './common/seed';
import type { SimServer } from './common/sim-server';
import { businessCentralSeed } from './businesscentral/seed';
import { createBusinessCentralSimulator } from './businesscentral/server';
import { createNetSuiteSimulator } from './netsuite/server';
import { createSalesforceSimulator } from './salesforce/server';
import { createStripeSimulator } from './stripe/server';
import { createChargebeeSimulator } from './chargebee/server';
import { hubspotSeed } from './hubspot/seed';
import { createHubSpotSimulator } from './hubspot/server';

const USAGE = `Usage: npm run simulators -- [options]

Starts the chosen vendors' simulators alone (CONCORD_CRM, CONCORD_BILLING, CONCORD_ERP; default
Salesforce, Stripe and NetSuite) and prints the variables that point Concord at them.

Options:
  --port-base <n>          ports <n>+101, <n>+102, <n>+103 (default: PORT, or 4000)
  --salesforce-port <n>    Salesforce's port (0 = any free port)
  --stripe-port <n>        Stripe's port
  --netsuite-port <n>      NetSuite's port
  --businesscentral-port <n>  Business Central's port (started with CONCORD_ERP=businesscentral; default <base>+106)
  --chargebee-port <n>     Chargebee's port (started with CONCORD_BILLING=chargebee; default <base>+107)
  --hubspot-port <n>       HubSpot's port (started with CONCORD_CRM=hubspot; default <base>+104)
  --host <host>            interface to listen on (default: HOST, or 127.0.0.1)
  --customers <n>          customers to seed (default: CONCORD_SEED_CUSTOMERS, or 50)
  --netsuite-concurrency <n>  NetSuite's account concurrency limit (default 5)
  --require-credentials    accept only the credentials printed, as real vendors do
  -h, --help               this text`;

export class UsageError extends Error {
  override name = 'UsageError';
}

function portOption(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--${name} must be a port number, got "${value}"`);
  return port;
}

function countOption(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return count;
}

const secret = (prefix = '') => `${prefix}${randomBytes(18).toString('hex')}`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        'port-base': { type: 'string' },
        'salesforce-port': { type: 'string' },
        'stripe-port': { type: 'string' },
        'netsuite-port': { type: 'string' },
        'businesscentral-port': { type: 'string' },
        'chargebee-port': { type: 'string' },
        'hubspot-port': { type: 'string' },
        host: { type: 'string' },
        customers: { type: 'string' },
        'netsuite-concurrency': { type: 'string' },
        'require-credentials': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (process.env.NODE_ENV === 'production') throw new ConfigError('the simulators are for development and tests; refusing to run with NODE_ENV=production');
  const config = loadConfig(process.env, 'gateway');
  const base = portOption(parsed['port-base'], 'port-base') ?? config.port;
  const host = parsed.host ?? config.host;
  const withBusinessCentral = config.vendors.erp === 'businesscentral';
  const baseSeed = buildSeed({ customers: countOption(parsed.customers, 'customers') ?? config.seedCustomers });
  // With Business Central as the ERP every simulator holds BC's ids as the ERP's (as system.ts does).
  // With HubSpot as the CRM every simulator holds HubSpot's company ids as the CRM's.
  const withHubSpot = config.vendors.crm === 'hubspot';
  const crmSeed = withHubSpot ? hubspotSeed(baseSeed) : baseSeed;
  const seed = withBusinessCentral ? businessCentralSeed(crmSeed) : crmSeed;
  const concurrency = countOption(parsed['netsuite-concurrency'], 'netsuite-concurrency') ?? 5;
  const required = parsed['require-credentials'] ?? false;

  const credentials = {
    salesforceToken: required ? secret('00D') : 'concord-simulator-session',
    stripeKey: required ? secret('sk_test_') : 'sk_test_concord_simulator',
    netsuite: {
      accountId: 'TSTDRV1234567',
      consumerKey: required ? secret() : 'concord-sim-consumer',
      consumerSecret: required ? secret() : 'concord-sim-consumer-secret',
      tokenId: required ? secret() : 'concord-sim-token',
      tokenSecret: required ? secret() : 'concord-sim-token-secret',
    },
    businesscentral: {
      tenant: 'concord-sim-tenant',
      environment: 'production',
      clientId: required ? secret() : 'concord-sim-client',
      clientSecret: required ? secret() : 'concord-sim-client-secret',
    },
  };
  const { accountId, ...tba } = credentials.netsuite;
  const servers: SimServer[] = [];
  const close = async () => {
    for (const server of servers) await server.close().catch(() => undefined);
  };
  // Only the chosen vendors' simulators (CONCORD_CRM / CONCORD_BILLING / CONCORD_ERP), as npm start does.
  const withStripe = config.vendors.billing === 'stripe';
  const withNetSuite = config.vendors.erp === 'netsuite';
  const withSalesforce = config.vendors.crm === 'salesforce';
  let salesforce: SimServer | undefined;
  let hubspot: SimServer | undefined;
  const hubspotToken = required ? `pat-na1-${secret()}` : 'pat-na1-concord-simulator-token';
  let stripe: SimServer | undefined;
  let netsuite: SimServer | undefined;
  let businesscentral: SimServer | undefined;
  let chargebee: SimServer | undefined;
  const started = async (server: Promise<SimServer>) => {
    const running = await server;
    servers.push(running);
    return running;
  };
  try {
    if (withSalesforce) salesforce = await started(createSalesforceSimulator({ seed, ...(required ? { requiredToken: credentials.salesforceToken } : {}) }).listen(portOption(parsed['salesforce-port'], 'salesforce-port') ?? base + 101, host));
    if (withStripe) stripe = await started(createStripeSimulator({ seed, ...(required ? { requiredApiKey: credentials.stripeKey } : {}) }).listen(portOption(parsed['stripe-port'], 'stripe-port') ?? base + 102, host));
    if (withNetSuite) netsuite = await started(createNetSuiteSimulator({ seed, accountId, concurrency, ...(required ? { credentials: tba } : {}) }).listen(portOption(parsed['netsuite-port'], 'netsuite-port') ?? base + 103, host));
    if (withBusinessCentral) {
      const { tenant, environment, clientId, clientSecret } = credentials.businesscentral;
      businesscentral = await started(
        createBusinessCentralSimulator({ seed, tenant, environment, ...(required ? { clientId, clientSecret } : {}) }).listen(portOption(parsed['businesscentral-port'], 'businesscentral-port') ?? base + 106, host),
      );
    }
    if (withHubSpot) hubspot = await started(createHubSpotSimulator({ seed, ...(required ? { requiredToken: hubspotToken } : {}) }).listen(portOption(parsed['hubspot-port'], 'hubspot-port') ?? base + 104, host));
    if (config.vendors.billing === 'chargebee') chargebee = await started(createChargebeeSimulator({ seed }).listen(portOption(parsed['chargebee-port'], 'chargebee-port') ?? base + 107, host));
  } catch (error) {
    await close();
    throw error;
  }
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say('Vendor simulators are running (stand-ins for remote vendors; control API at <url>/__sim/).');
  if (salesforce) say(`  salesforce  ${salesforce.url}`);
  if (hubspot) say(`  hubspot     ${hubspot.url}   (Bearer pat-... private-app token, 190 requests / 10 s, search 5 / s)`);
  if (stripe) say(`  stripe      ${stripe.url}`);
  if (netsuite) say(`  netsuite    ${netsuite.url}   (account ${accountId}, ${concurrency} concurrent requests)`);
  if (chargebee) say(`  chargebee   ${chargebee.url}   (site concord-test, Basic auth with any test_... key)`);
  if (businesscentral) say(`  businesscentral ${businesscentral.url}   (tenant ${credentials.businesscentral.tenant}, 6000 requests / 5 min, 100 at once)`);
  say();
  say(required ? 'Credentials are required: only these are accepted. Point Concord at them with:' : 'Any credential of the right form is accepted. Point Concord at them with:');
  const exports: Record<string, string> = {
    ...(salesforce ? { SALESFORCE_INSTANCE_URL: salesforce.url, SALESFORCE_ACCESS_TOKEN: credentials.salesforceToken } : {}),
    ...(hubspot ? { HUBSPOT_BASE_URL: hubspot.url, HUBSPOT_ACCESS_TOKEN: hubspotToken } : {}),
    ...(stripe
      ? {
          STRIPE_API_BASE: stripe.url,
          STRIPE_API_KEY: credentials.stripeKey,
          // The simulator's seeded 8% sales-tax rate: what a real account configures as its own.
          CONCORD_STRIPE_TAX_RATE_ID: STRIPE_TAX_RATE_ID,
        }
      : {}),
    ...(netsuite
      ? {
          NETSUITE_BASE_URL: netsuite.url,
          NETSUITE_ACCOUNT_ID: accountId,
          NETSUITE_CONSUMER_KEY: tba.consumerKey,
          NETSUITE_CONSUMER_SECRET: tba.consumerSecret,
          NETSUITE_TOKEN_ID: tba.tokenId,
          NETSUITE_TOKEN_SECRET: tba.tokenSecret,
        }
      : {}),
    ...(chargebee ? { CHARGEBEE_API_BASE: chargebee.url, CHARGEBEE_SITE: 'concord-test', CHARGEBEE_API_KEY: 'test_concord_simulator_key' } : {}),
    ...(businesscentral
      ? {
          BUSINESSCENTRAL_BASE_URL: businesscentral.url,
          BUSINESSCENTRAL_TOKEN_URL: `${businesscentral.url}/${credentials.businesscentral.tenant}/oauth2/v2.0/token`,
          BUSINESSCENTRAL_TENANT_ID: credentials.businesscentral.tenant,
          BUSINESSCENTRAL_ENVIRONMENT: credentials.businesscentral.environment,
          BUSINESSCENTRAL_CLIENT_ID: credentials.businesscentral.clientId,
          BUSINESSCENTRAL_CLIENT_SECRET: credentials.businesscentral.clientSecret,
        }
      : {}),
  };
  for (const [name, value] of Object.entries(exports)) say(`export ${name}=${value}`);
  say();
  say('simulators ready');

  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: Error) => {
  if (error instanceof UsageError) {
    process.stderr.write(`simulators: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`simulators: ${error instanceof ConfigError ? error.message : (error.stack ?? error.message)}\n`);
  process.exit(1);
});
