/**
 * Every environment variable Concord reads, read once at start-up into one typed object
 * (shared/API.md lists the public ones). Nothing else reads process.env.
 */
import { randomBytes } from 'node:crypto';

/** The fixed secret used in development when CONCORD_JWT_SECRET is unset (printed, with a warning). */
export const DEV_JWT_SECRET = 'concord-dev-secret-do-not-use-in-production';

export interface SalesforceConfig {
  instanceUrl: string;
  accessToken: string;
}
export interface StripeConfig {
  apiKey: string;
  /** API base URL; the real one is https://api.stripe.com */
  baseUrl: string;
}
export interface NetSuiteConfig {
  accountId: string;
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
}

export interface OrchestrationConfig {
  /** Run order-to-cash workers in this process (CONCORD_WORKERS=0 for API-only replicas). */
  workers: boolean;
  /** Attempts of a step before its run is dead-lettered. */
  maxAttempts: number;
  /** How long a worker holds a run before another may take over, in ms. */
  leaseMs: number;
  /** BullMQ job lock: how soon a dead worker's job is picked up again, in ms. */
  queueLockMs: number;
  /** Steps running at once against each system, across all workers. */
  concurrency: { CRM: number; BILLING: number; ERP: number };
}

export interface ConcordConfig {
  production: boolean;
  /** Gateway port; subgraphs at port+1..+4, simulators at port+101..+103. */
  port: number;
  host: string;
  redisUrl: string | null;
  jwtSecret: string;
  /** True when the fixed dev secret is in use. */
  jwtSecretIsDev: boolean;
  jwksUrl: string | null;
  subgraphSecret: string;
  logLevel: string;
  /** Customers the bundled simulators seed. */
  seedCustomers: number;
  /** Key prefix of everything Concord keeps in Redis (one per tenant or environment). */
  redisPrefix: string;
  orchestration: OrchestrationConfig;
  /** Null = start and use the bundled simulator. */
  salesforce: SalesforceConfig | null;
  stripe: StripeConfig | null;
  netsuite: NetSuiteConfig | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** All of a vendor's variables, or none of them: a half-configured vendor is an error, not a fallback. */
function group<T>(env: NodeJS.ProcessEnv, vendor: string, names: Record<keyof T, string>, defaults: Partial<T> = {}): T | null {
  const entries = Object.entries(names) as [keyof T, string][];
  const present = entries.filter(([, variable]) => env[variable]);
  if (present.length === 0) return null;
  const missing = entries.filter(([key, variable]) => !env[variable] && defaults[key] === undefined).map(([, v]) => v);
  if (missing.length > 0) throw new ConfigError(`${vendor} is partly configured; also set ${missing.join(', ')}`);
  return Object.fromEntries(entries.map(([key, variable]) => [key, env[variable] || defaults[key]])) as T;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConcordConfig {
  const production = env.NODE_ENV === 'production';
  const jwksUrl = env.CONCORD_JWKS_URL || null;
  if (production && !env.CONCORD_JWT_SECRET && !jwksUrl) {
    throw new ConfigError('NODE_ENV=production needs CONCORD_JWT_SECRET or CONCORD_JWKS_URL; refusing to start with the dev secret');
  }
  if (env.CONCORD_JWT_SECRET && env.CONCORD_JWT_SECRET.length < 32) {
    throw new ConfigError('CONCORD_JWT_SECRET must be at least 32 characters');
  }
  const netsuite = group<NetSuiteConfig>(env, 'NetSuite', {
    accountId: 'NETSUITE_ACCOUNT_ID',
    baseUrl: 'NETSUITE_BASE_URL',
    consumerKey: 'NETSUITE_CONSUMER_KEY',
    consumerSecret: 'NETSUITE_CONSUMER_SECRET',
    tokenId: 'NETSUITE_TOKEN_ID',
    tokenSecret: 'NETSUITE_TOKEN_SECRET',
  }, { baseUrl: '' });
  if (netsuite && !netsuite.baseUrl) {
    netsuite.baseUrl = `https://${netsuite.accountId.toLowerCase().replace(/_/g, '-')}.suitetalk.api.netsuite.com`;
  }
  return {
    production,
    port: integer(env, 'PORT', 4000),
    host: env.HOST || '127.0.0.1',
    redisUrl: env.REDIS_URL || null,
    jwtSecret: env.CONCORD_JWT_SECRET || DEV_JWT_SECRET,
    jwtSecretIsDev: !env.CONCORD_JWT_SECRET,
    jwksUrl,
    subgraphSecret: env.CONCORD_SUBGRAPH_SECRET || randomBytes(32).toString('hex'),
    logLevel: env.LOG_LEVEL || (production ? 'info' : env.NODE_ENV === 'test' ? 'silent' : 'info'),
    seedCustomers: integer(env, 'CONCORD_SEED_CUSTOMERS', 50),
    redisPrefix: env.CONCORD_REDIS_PREFIX || 'concord',
    orchestration: {
      workers: !['0', 'false', 'no'].includes((env.CONCORD_WORKERS ?? '').toLowerCase()),
      maxAttempts: integer(env, 'CONCORD_O2C_MAX_ATTEMPTS', 10),
      leaseMs: integer(env, 'CONCORD_O2C_LEASE_MS', 15_000),
      queueLockMs: integer(env, 'CONCORD_QUEUE_LOCK_MS', 30_000),
      concurrency: {
        CRM: integer(env, 'CONCORD_CRM_CONCURRENCY', 10),
        BILLING: integer(env, 'CONCORD_BILLING_CONCURRENCY', 10),
        // NetSuite's default account concurrency limit.
        ERP: integer(env, 'CONCORD_ERP_CONCURRENCY', 5),
      },
    },
    salesforce: group<SalesforceConfig>(env, 'Salesforce', {
      instanceUrl: 'SALESFORCE_INSTANCE_URL',
      accessToken: 'SALESFORCE_ACCESS_TOKEN',
    }),
    stripe: group<StripeConfig>(env, 'Stripe', { apiKey: 'STRIPE_API_KEY', baseUrl: 'STRIPE_API_BASE' }, {
      baseUrl: 'https://api.stripe.com',
    }),
    netsuite,
  };
}
