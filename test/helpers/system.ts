/** Start the whole system on ephemeral ports for a test, and talk to it as a client would. */
import { loadConfig, type ConcordConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import type { VendorCall } from '../../core/vendor-call';
import { SCOPES, mintToken } from '../../gateway/token';
import { STRIPE_TAX_RATE_ID, buildSeed, type Seed } from '../../simulators/common/seed';
import { businessCentralSeed } from '../../simulators/businesscentral/seed';
import { createBusinessCentralSimulator } from '../../simulators/businesscentral/server';
import { createNetSuiteSimulator } from '../../simulators/netsuite/server';
import { createSalesforceSimulator } from '../../simulators/salesforce/server';
import { createStripeSimulator } from '../../simulators/stripe/server';
import { createChargebeeSimulator } from '../../simulators/chargebee/server';
import { SIMULATOR_CREDENTIALS, startSystem, type RunningSystem, type SystemOptions } from '../../system';

/** Stripe search lag of the test systems' simulator (ms). */
export const DEFAULT_STRIPE_SEARCH_LAG_MS = 3000;

export const TEST_JWT_SECRET = 'concord-test-secret-0123456789abcdef';

export interface TestSystem extends RunningSystem {
  /** The configuration the system runs on (its vendor choice: config.vendors). */
  config: ConcordConfig;
  token: string;
  vendorCalls: VendorCall[];
  /** POST a GraphQL request to the gateway. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
}

export interface GqlResult<T> {
  status: number;
  headers: Headers;
  body: { data?: T; errors?: { message: string; path?: (string | number)[]; extensions: Record<string, any> }[] };
}

export interface TestSystemOptions {
  seed?: Seed;
  batch?: boolean;
  /** Extra environment for loadConfig (REDIS_URL, CONCORD_REDIS_PREFIX, CONCORD_O2C_*, ...). */
  env?: Record<string, string>;
  /**
   * How far the Stripe simulator's search trails writes, in ms. Default 3000: tests run against a
   * search that lags as Stripe's does, so Concord's reads must not depend on search being fresh.
   */
  stripeSearchLagMs?: number;
  /** Metrics, tracing, a logger of the test's own (test/ops). Default: the system's defaults, silent logs. */
  system?: Partial<Pick<SystemOptions, 'metrics' | 'tracing' | 'logger' | 'orchestration' | 'onCacheInvalidated'>>;
}

/**
 * Production never starts a simulator: for NODE_ENV=production the test starts them itself, as
 * stand-ins for remote vendors, and configures them as real vendors.
 */
async function remoteVendors(seed: Seed | undefined, chosen: Record<string, string> = {}): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
  const bcErp = chosen.CONCORD_ERP === 'businesscentral';
  const erpSeed = bcErp ? businessCentralSeed(seed ?? buildSeed()) : seed;
  const bc = SIMULATOR_CREDENTIALS.businesscentral;
  const sims = [
    await createSalesforceSimulator({ seed: erpSeed }).listen(0, '127.0.0.1'),
    await createStripeSimulator({ seed: erpSeed, searchLagMs: DEFAULT_STRIPE_SEARCH_LAG_MS }).listen(0, '127.0.0.1'),
    bcErp
      ? await createBusinessCentralSimulator({ seed: erpSeed, tenant: bc.tenant, environment: bc.environment, clientId: bc.clientId, clientSecret: bc.clientSecret }).listen(0, '127.0.0.1')
      : await createNetSuiteSimulator({ seed }).listen(0, '127.0.0.1'),
  ];
  const [salesforce, stripe, erp] = sims;
  const chargebee = chosen.CONCORD_BILLING === 'chargebee' ? await createChargebeeSimulator({ seed: erpSeed ?? buildSeed() }).listen(0, '127.0.0.1') : null;
  if (chargebee) sims.push(chargebee);
  const billingEnv: Record<string, string> = chargebee
    ? {
        CHARGEBEE_SITE: SIMULATOR_CREDENTIALS.chargebee.site,
        CHARGEBEE_API_KEY: SIMULATOR_CREDENTIALS.chargebee.apiKey,
        CHARGEBEE_API_BASE: chargebee.url,
        CHARGEBEE_WEBHOOK_USERNAME: 'concord-test',
        CHARGEBEE_WEBHOOK_PASSWORD: 'concord-test-webhook-password',
      }
    : {};
  const ns = SIMULATOR_CREDENTIALS.netsuite;
  const erpEnv: Record<string, string> = bcErp
    ? {
        BUSINESSCENTRAL_TENANT_ID: bc.tenant,
        BUSINESSCENTRAL_ENVIRONMENT: bc.environment,
        BUSINESSCENTRAL_CLIENT_ID: bc.clientId,
        BUSINESSCENTRAL_CLIENT_SECRET: bc.clientSecret,
        BUSINESSCENTRAL_BASE_URL: erp.url,
        BUSINESSCENTRAL_TOKEN_URL: `${erp.url}/${bc.tenant}/oauth2/v2.0/token`,
      }
    : {
        NETSUITE_ACCOUNT_ID: ns.accountId,
        NETSUITE_BASE_URL: erp.url,
        NETSUITE_CONSUMER_KEY: ns.consumerKey,
        NETSUITE_CONSUMER_SECRET: ns.consumerSecret,
        NETSUITE_TOKEN_ID: ns.tokenId,
        NETSUITE_TOKEN_SECRET: ns.tokenSecret,
      };
  return {
    env: {
      SALESFORCE_INSTANCE_URL: salesforce.url,
      SALESFORCE_ACCESS_TOKEN: SIMULATOR_CREDENTIALS.salesforceToken,
      STRIPE_API_KEY: SIMULATOR_CREDENTIALS.stripeKey,
      STRIPE_API_BASE: stripe.url,
      CONCORD_STRIPE_TAX_RATE_ID: STRIPE_TAX_RATE_ID,
      ...erpEnv,
      ...billingEnv,
      CONCORD_SUBGRAPH_SECRET: 'concord-test-subgraph-secret-0123456789',
      CONCORD_JWT_ISSUER: 'https://idp.test.example',
      CONCORD_JWT_AUDIENCE: 'concord-test',
    },
    close: async () => {
      for (const sim of sims) await sim.close();
    },
  };
}

export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  const remote = options.env?.NODE_ENV === 'production' ? await remoteVendors(options.seed, options.env) : null;
  // Tests poll hard from one subject (100 runs at 10 polls a second): the per-subject rate limit is
  // raised, not off, so every request still goes through it. test/security sets its own.
  // The entity cache is off unless a test turns it on (CONCORD_ENTITY_CACHE_TTL_S): most tests
  // assert what the vendors answer and how often they are called, read after read
  // (test/integration/entity-cache.test.ts and stripe-search-lag.test.ts run with it on).
  // TEST_ENTITY_CACHE_TTL_S=300 runs every test system with it on.
  const config = loadConfig({
    CONCORD_JWT_SECRET: TEST_JWT_SECRET,
    NODE_ENV: 'test',
    CONCORD_RATE_LIMIT_RPS: '100000',
    CONCORD_RATE_LIMIT_BURST: '100000',
    CONCORD_ENTITY_CACHE_TTL_S: process.env.TEST_ENTITY_CACHE_TTL_S ?? '0',
    ...remote?.env,
    ...options.env,
  });
  const vendorCalls: VendorCall[] = [];
  const system = await startSystem({
    config,
    logger: createLogger({ level: 'silent' }),
    ...options.system,
    ports: 'ephemeral',
    seed: options.seed,
    batch: options.batch,
    stripeSearchLagMs: options.stripeSearchLagMs ?? DEFAULT_STRIPE_SEARCH_LAG_MS,
    onVendorCall: (call) => vendorCalls.push(call),
  });
  const token = await mintToken({ secret: TEST_JWT_SECRET, subject: 'test-admin', scopes: SCOPES, issuer: config.security.jwtIssuer, audience: config.security.jwtAudience });
  return {
    ...system,
    config,
    close: async () => {
      await system.close();
      await remote?.close();
    },
    token,
    vendorCalls,
    async gql(query, variables, headers = {}) {
      const response = await fetch(`${system.gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, headers: response.headers, body: (await response.json()) as any };
    },
  };
}

/** Simulator control API helpers (docs/simulators.md). */
export async function simCall<T = any>(baseUrl: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}/__sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`/__sim/${path} -> ${response.status}`);
  return (await response.json()) as T;
}
