/**
 * Every environment variable Concord reads, read once at start-up into one typed object
 * (docs/configuration.md lists every one; a test keeps the two in step). Nothing else reads process.env.
 */
import { randomBytes } from 'node:crypto';
import { RedisUrlError, parseRedisUrl } from './redis';

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
/** A Chargebee site and the API key Concord calls it with. */
export interface ChargebeeConfig {
  /** Site name: the `{site}` of https://{site}.chargebee.com (CHARGEBEE_SITE). */
  site: string;
  /** Full-access API key (CHARGEBEE_API_KEY). */
  apiKey: string;
  /** API base other than https://{site}.chargebee.com (CHARGEBEE_API_BASE); null: the site's own. */
  baseUrl: string | null;
  /** Requests per minute the site's plan allows (CHARGEBEE_REQUESTS_PER_MINUTE; default 150). */
  requestsPerMinute: number;
}
export interface HubSpotConfig {
  /** Private-app access token (HUBSPOT_ACCESS_TOKEN, `pat-...`). */
  accessToken: string;
  /** API base (HUBSPOT_BASE_URL); the simulator's URL in development. */
  baseUrl: string;
  /** Requests per rolling ten seconds the account allows a private app (HUBSPOT_REQUESTS_PER_10S; default 190). */
  requestsPerTenSeconds: number;
  /** CRM search requests a second (HUBSPOT_SEARCH_PER_SECOND; default 5). */
  searchPerSecond: number;
  /** The custom object holding Concord's CRM contracts (HUBSPOT_CONTRACT_OBJECT_TYPE; default p_concord_contracts). */
  contractObjectType: string;
}
export interface NetSuiteConfig {
  accountId: string;
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
}

/** A Business Central environment and the Entra ID app registration Concord signs in as (client credentials). */
export interface BusinessCentralConfig {
  /** Entra tenant id (or domain) of the BC environment. */
  tenant: string;
  /** BC environment name, e.g. 'production' or 'sandbox'. */
  environment: string;
  clientId: string;
  clientSecret: string;
  /** API host; the real one is https://api.businesscentral.dynamics.com */
  baseUrl: string;
  /** Token endpoint; the real one is https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token */
  tokenUrl: string;
  /** Company id (GUID); '' = the environment's only company. */
  companyId: string;
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
  /** How often one worker of the deployment looks for runs making no progress, in ms; 0 = never. */
  sweepIntervalMs: number;
  /** An unsettled run unchanged for this long (past any retry it waits for) is handed to its lane again, in ms. */
  staleMs: number;
  /** Steps running at once against each system, across all workers. */
  concurrency: { CRM: number; BILLING: number; ERP: number };
}

/** Customer master, amendments, reconciliation and repair (docs/consistency.md). */
export interface ConsistencyConfig {
  /** Minutes between scheduled reconciliations; 0 = no schedule (CONCORD_RECONCILIATION_INTERVAL_MINUTES; default 360, 0 under NODE_ENV=test). */
  reconciliationIntervalMinutes: number;
  /** Vendor requests per second a reconciliation may make (CONCORD_RECONCILIATION_{CRM,BILLING,ERP}_RPS). */
  reconciliationPace: { CRM: number; BILLING: number; ERP: number };
  /** Longest a mutation waits for its run to settle before answering, in ms (CONCORD_MUTATION_WAIT_MS). */
  mutationWaitMs: number;
}

/** Live events: the event log, webhooks and change polling (docs/events.md). */
export interface EventsConfig {
  /** Events the log keeps (CONCORD_EVENTS_RETENTION; Redis MAXLEN ~, so at least this many). */
  retention: number;
  /** How long a vendor event id is remembered to drop redeliveries, in seconds (CONCORD_EVENTS_DEDUPE_TTL_S). */
  dedupeTtlSeconds: number;
  /** Stripe webhook signing secret (STRIPE_WEBHOOK_SECRET). Null: generated for the bundled simulator; with real Stripe, webhooks are refused. */
  stripeWebhookSecret: string | null;
  /**
   * Basic-auth credentials of the Chargebee webhook endpoint as `user:password`
   * (CHARGEBEE_WEBHOOK_USERNAME, CHARGEBEE_WEBHOOK_PASSWORD). Null: generated for the bundled
   * simulator; with a real site, webhooks are refused.
   */
  chargebeeWebhookCredentials: string | null;
  /** How often Salesforce and NetSuite are polled for changes, in ms; 0 = no polling (CONCORD_POLL_INTERVAL_MS). */
  pollIntervalMs: number;
}

/** Authentication details and request limits of the gateway (docs/security.md). */
export interface SecurityConfig {
  /** Required token issuer (`iss`), when set (CONCORD_JWT_ISSUER). */
  jwtIssuer: string | null;
  /** Required token audience (`aud`), when set (CONCORD_JWT_AUDIENCE). */
  jwtAudience: string | null;
  /** Longest lifetime a token may have, in seconds (CONCORD_JWT_MAX_LIFETIME_S; default 86400). */
  jwtMaxLifetimeSeconds: number;
  /** Deepest field nesting of an operation (CONCORD_MAX_DEPTH). */
  maxDepth: number;
  /** Most aliased fields in an operation (CONCORD_MAX_ALIASES). */
  maxAliases: number;
  /** Highest estimated cost of an operation, from list sizes (CONCORD_MAX_COST). */
  maxCost: number;
  /** Items assumed for a list field without `first` (CONCORD_DEFAULT_LIST_SIZE). */
  defaultListSize: number;
  /** Most lexical tokens in a query document; the parser stops beyond (CONCORD_MAX_TOKENS). */
  maxTokens: number;
  /** Most fields in a query document, checked before validation (CONCORD_MAX_FIELDS; default 500). */
  maxFields: number;
  /** Most fields in one selection set, fragments included, checked before validation (CONCORD_MAX_SELECTION_FIELDS; default 100). */
  maxSelectionFields: number;
  /** Most pairs of same-named fields validation would compare, checked before validation (CONCORD_MAX_FIELD_OVERLAPS; default 1000). */
  maxFieldOverlaps: number;
  /** Most subgraph fetches an operation's plan may need, estimated before planning (CONCORD_MAX_SUBGRAPH_FETCHES; default 8). */
  maxSubgraphFetches: number;
  /** Estimated memory the admission caches may hold, in MiB (CONCORD_ADMISSION_CACHE_MB; default 64). */
  admissionCacheMb: number;
  /** Largest request body in bytes (CONCORD_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Longest a GraphQL request may take before the gateway answers 504, in ms (CONCORD_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** Longest the gateway waits for one subgraph fetch before VENDOR_UNAVAILABLE, in ms (CONCORD_SUBGRAPH_TIMEOUT_MS; default 15000). */
  subgraphTimeoutMs: number;
  /** WebSocket connections one token subject may hold open (CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT; default 20). */
  wsMaxConnectionsPerSubject: number;
  /** WebSocket connections one client address may hold open (CONCORD_WS_MAX_CONNECTIONS_PER_ADDRESS; default 50). */
  wsMaxConnectionsPerAddress: number;
  /** Failed authentications a client address may make per minute before it gets 429 (CONCORD_AUTH_FAILURES_PER_MINUTE; default 50). */
  authFailuresPerMinute: number;
  /** Longest string a request may carry in any argument or variable, in characters (CONCORD_MAX_STRING_LENGTH; default 10000). */
  maxStringLength: number;
  /** Sustained requests per second per token subject; 0 turns rate limiting off (CONCORD_RATE_LIMIT_RPS). */
  rateLimitPerSecond: number;
  /** Requests a subject may make at once above the sustained rate (CONCORD_RATE_LIMIT_BURST). */
  rateLimitBurst: number;
  /** Directory of .graphql operations: when set, only these operations run (CONCORD_SAFELIST_DIR). */
  safelistDir: string | null;
  /** Automatic persisted queries (CONCORD_APQ=0 turns them off). */
  apq: boolean;
}

/** How much work the gateway takes on at once (gateway/overload.ts, gateway/fetch-dedup.ts; docs/deploy.md). */
export interface GatewayLoadConfig {
  /** GraphQL executions in flight at once; 0 = no bound (CONCORD_MAX_IN_FLIGHT; default 32). */
  maxInFlight: number;
  /** Requests waiting for an execution slot, first come first served; beyond it 503 (CONCORD_QUEUE_LENGTH; default 16). */
  queueLength: number;
  /** Longest a request waits in that queue before 503, in ms (CONCORD_QUEUE_WAIT_MS; default 500). */
  queueWaitMs: number;
  /** Identical query fetches to a subgraph in flight are sent once (CONCORD_FETCH_DEDUP=off turns it off; default on). */
  dedupFetches: boolean;
}

/** The entity cache of vendor reads (core/entity-cache.ts; README "How fresh is the unified view"). */
export interface EntityCacheConfig {
  /** Longest a cached entity is served without an event dropping it, in s; 0 turns the cache off (CONCORD_ENTITY_CACHE_TTL_S; default 300). */
  ttlSeconds: number;
  /** Most memory the embedded-mode cache holds, in MiB (CONCORD_ENTITY_CACHE_MB; default 64). With REDIS_URL the cache is in Redis. */
  maxMb: number;
}

/** Metrics, tracing and the ops console (docs/operations.md). */
export interface ObservabilityConfig {
  /** Where spans go: none (ids still propagated and logged), log (one JSON line per span), otlp (OTEL_TRACES_EXPORTER; 'console' = log). */
  traceExporter: 'none' | 'log' | 'otlp';
  /** OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  otlpEndpoint: string | null;
  /** Headers for the collector, `key=value,key2=value2` (OTEL_EXPORTER_OTLP_HEADERS). */
  otlpHeaders: Record<string, string>;
  /** `service.name` of exported spans (OTEL_SERVICE_NAME). */
  serviceName: string;
  /** Share of new traces recorded, 0..1 (OTEL_TRACES_SAMPLER_ARG); a sampled caller's trace is always followed. */
  traceSampleRatio: number;
  /** Bearer token that GET /metrics requires (CONCORD_METRICS_TOKEN); null = open (keep it on a private network). */
  metricsToken: string | null;
  /** How often the ops console's history is sampled, in ms (CONCORD_OPS_SAMPLE_MS). */
  opsSampleMs: number;
  /**
   * Port a worker process (npm run worker) serves /health, /ready and /metrics on (CONCORD_WORKER_PORT,
   * or the older CONCORD_METRICS_PORT); null = none. The gateway serves them on PORT.
   */
  metricsPort: number | null;
}

/** Who may call the gateway: a verified token always (required), when sent (optional), or nobody checked (off). */
export type AuthMode = 'required' | 'optional' | 'off';
export const AUTH_MODES: readonly AuthMode[] = ['required', 'optional', 'off'];

/** The gateway on its own over a supergraph file (`npm run gateway`, docs/standalone-gateway.md). */
export interface StandaloneConfig {
  /** Supergraph SDL file (CONCORD_SUPERGRAPH; `--supergraph` wins). Null = not given. */
  supergraphPath: string | null;
  /** CONCORD_AUTH: required (default), optional, or off (local development; refused in production). */
  authMode: AuthMode;
  /** Sign subgraph requests with CONCORD_SUBGRAPH_SECRET; CONCORD_SUBGRAPH_SIGNING=off for subgraphs that do not verify it. */
  signSubgraphRequests: boolean;
  /** Watch the supergraph file and swap valid changes in; CONCORD_SUPERGRAPH_WATCH=0 turns it off. */
  watch: boolean;
  /**
   * Hide subgraph error messages from clients ("Internal error", code INTERNAL) instead of passing
   * them on with code DOWNSTREAM_SERVICE_ERROR and the subgraph's name (CONCORD_MASK_SUBGRAPH_ERRORS=1).
   * Default false, as a plain federation gateway does.
   */
  maskSubgraphErrors: boolean;
  /**
   * Gateway processes sharing the port (node:cluster; gateway/cluster.ts), CONCORD_GATEWAY_PROCESSES;
   * `--processes` wins. Default 1: one process, no cluster.
   */
  processes: number;
}

/** Which vendor serves each system (CONCORD_CRM, CONCORD_BILLING, CONCORD_ERP). */
export interface VendorChoice {
  crm: CrmVendor;
  billing: BillingVendor;
  erp: ErpVendor;
}
export const CRM_VENDORS = ['salesforce', 'hubspot'] as const;
export const BILLING_VENDORS = ['stripe', 'chargebee'] as const;
export const ERP_VENDORS = ['netsuite', 'businesscentral'] as const;
export type CrmVendor = (typeof CRM_VENDORS)[number];
export type BillingVendor = (typeof BILLING_VENDORS)[number];
export type ErpVendor = (typeof ERP_VENDORS)[number];

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  const raw = (value ?? '').trim().toLowerCase();
  if (raw === '') return allowed[0];
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be ${allowed.join(' or ')}, got "${value}"`);
  return raw as T;
}

/** The vendor chosen for each system; the first of each list is the default. */
export function vendorChoice(env: NodeJS.ProcessEnv): VendorChoice {
  return {
    crm: choice('CONCORD_CRM', env.CONCORD_CRM, CRM_VENDORS),
    billing: choice('CONCORD_BILLING', env.CONCORD_BILLING, BILLING_VENDORS),
    erp: choice('CONCORD_ERP', env.CONCORD_ERP, ERP_VENDORS),
  };
}

export interface ConcordConfig {
  production: boolean;
  /** Which vendor serves the CRM, billing and ERP systems. */
  vendors: VendorChoice;
  /** Serve the GraphQL IDE to browsers at /graphql (CONCORD_GRAPHIQL=on|off); default on, off under NODE_ENV=production. */
  graphiql: boolean;
  /** Gateway port; subgraphs at port+1..+4, simulators at port+101..+103. */
  port: number;
  host: string;
  /** REDIS_URL: one server (redis://, rediss://) or a Redis Cluster (redis+cluster://host:port,host:port); null = embedded mode. */
  redisUrl: string | null;
  jwtSecret: string;
  /** True when the fixed dev secret is in use. */
  jwtSecretIsDev: boolean;
  jwksUrl: string | null;
  subgraphSecret: string;
  /** True when CONCORD_SUBGRAPH_SECRET is unset and `subgraphSecret` was generated for this start. */
  subgraphSecretIsGenerated: boolean;
  security: SecurityConfig;
  gatewayLoad: GatewayLoadConfig;
  entityCache: EntityCacheConfig;
  standalone: StandaloneConfig;
  logLevel: string;
  /** CONCORD_LOG_FORMAT: json, pretty, or auto (unset: pretty on a terminal outside production). */
  logFormat: 'json' | 'pretty' | 'auto';
  /** Customers the bundled simulators seed. */
  seedCustomers: number;
  /** Key prefix of everything Concord keeps in Redis (one per tenant or environment). */
  redisPrefix: string;
  /**
   * Longest a run-store or key-value command waits for Redis (reconnecting included) before the
   * request fails with SERVICE_UNAVAILABLE, in ms (CONCORD_REDIS_COMMAND_TIMEOUT_MS, default 2000).
   */
  redisCommandTimeoutMs: number;
  orchestration: OrchestrationConfig;
  consistency: ConsistencyConfig;
  events: EventsConfig;
  observability: ObservabilityConfig;
  /** Null = start and use the bundled simulator. */
  salesforce: SalesforceConfig | null;
  stripe: StripeConfig | null;
  /**
   * Tax rate (`txr_...`) put on new subscriptions as default_tax_rates (CONCORD_STRIPE_TAX_RATE_ID);
   * null: none (the dev composition root uses the Stripe simulator's seeded rate).
   */
  stripeTaxRateId: string | null;
  /**
   * How far Stripe's search may trail writes, in seconds (CONCORD_STRIPE_SEARCH_LAG_S, default 300):
   * reads through search also list what was created this recently, so it is seen at once.
   */
  stripeSearchLagSeconds: number;
  /**
   * Stripe calls a second across all processes (CONCORD_STRIPE_RATE_PER_SECOND); null: Stripe's
   * documented limit for the key's mode (100 live, 25 test).
   */
  stripeRatePerSecond: number | null;
  /** The shared capacity governor (core/capacity.ts). */
  capacity: CapacityConfig;
  netsuite: NetSuiteConfig | null;
  businesscentral: BusinessCentralConfig | null;
  chargebee: ChargebeeConfig | null;
  hubspot: HubSpotConfig | null;
}

export interface CapacityConfig {
  /** Longest a vendor call waits for room in its account's budget before VENDOR_RATE_LIMITED, ms (CONCORD_CAPACITY_WAIT_MS, default 10000). */
  waitMs: number;
  /** Lease of a concurrency slot, renewed while the call runs; a crashed holder's slot returns after it, ms (CONCORD_CAPACITY_LEASE_MS, default 30000). */
  leaseMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** REDIS_URL, checked here so a typo stops the start naming the variable (core/redis.ts reads it). */
function redisUrl(env: NodeJS.ProcessEnv): string | null {
  const url = env.REDIS_URL || null;
  if (url === null) return null;
  try {
    parseRedisUrl(url);
  } catch (error) {
    if (error instanceof RedisUrlError) throw new ConfigError(error.message);
    throw error;
  }
  return url;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/**
 * An integer setting with a floor: a value below it stops the start naming the variable and the
 * floor, rather than being raised silently (an operator who set CONCORD_JWT_MAX_LIFETIME_S=30
 * believes tokens live 30 s; quietly serving 60 s tokens would betray that).
 */
function integerAtLeast(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const value = integer(env, name, fallback);
  if (value < min) throw new ConfigError(`${name} must be at least ${min}, got "${env[name]}"`);
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

/** OTEL_EXPORTER_OTLP_HEADERS: `key=value,key2=value2`, values URL-encoded as the OpenTelemetry spec says. */
function otlpHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) headers[pair.slice(0, at).trim().toLowerCase()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

function observability(env: NodeJS.ProcessEnv): ObservabilityConfig {
  const kind = (env.OTEL_TRACES_EXPORTER || 'none').toLowerCase();
  const traceExporter = kind === 'console' ? 'log' : kind;
  if (traceExporter !== 'none' && traceExporter !== 'log' && traceExporter !== 'otlp') {
    throw new ConfigError(`OTEL_TRACES_EXPORTER must be none, console, log or otlp, got "${kind}"`);
  }
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : null;
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || base;
  if (traceExporter === 'otlp' && !otlpEndpoint) throw new ConfigError('OTEL_TRACES_EXPORTER=otlp needs OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)');
  if (otlpEndpoint && !/^https?:\/\//.test(otlpEndpoint)) throw new ConfigError('the OTLP endpoint must be an http(s) URL');
  const ratio = env.OTEL_TRACES_SAMPLER_ARG === undefined || env.OTEL_TRACES_SAMPLER_ARG === '' ? 1 : Number(env.OTEL_TRACES_SAMPLER_ARG);
  if (!(ratio >= 0 && ratio <= 1)) throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got "${env.OTEL_TRACES_SAMPLER_ARG}"`);
  return {
    traceExporter,
    otlpEndpoint,
    otlpHeaders: otlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS),
    serviceName: env.OTEL_SERVICE_NAME || 'concord',
    traceSampleRatio: ratio,
    metricsToken: env.CONCORD_METRICS_TOKEN || null,
    opsSampleMs: Math.max(100, integer(env, 'CONCORD_OPS_SAMPLE_MS', 5000)),
    metricsPort: env.CONCORD_WORKER_PORT ? integer(env, 'CONCORD_WORKER_PORT', 0) : env.CONCORD_METRICS_PORT ? integer(env, 'CONCORD_METRICS_PORT', 0) : null,
  };
}

function logFormat(raw: string | undefined): 'json' | 'pretty' | 'auto' {
  const value = (raw || 'auto').trim().toLowerCase();
  if (value !== 'json' && value !== 'pretty' && value !== 'auto') throw new ConfigError(`CONCORD_LOG_FORMAT must be json, pretty or auto, got "${raw}"`);
  return value;
}

const isOff = (value: string | undefined) => ['0', 'false', 'no', 'off'].includes((value ?? '').trim().toLowerCase());

function standalone(env: NodeJS.ProcessEnv, production: boolean): StandaloneConfig {
  const authMode = (env.CONCORD_AUTH || 'required').trim().toLowerCase() as AuthMode;
  if (!AUTH_MODES.includes(authMode)) throw new ConfigError(`CONCORD_AUTH must be required, optional or off, got "${env.CONCORD_AUTH}"`);
  if (authMode === 'off' && production) throw new ConfigError('CONCORD_AUTH=off is for local development only; refusing to start with NODE_ENV=production');
  return {
    supergraphPath: env.CONCORD_SUPERGRAPH || null,
    authMode,
    signSubgraphRequests: !isOff(env.CONCORD_SUBGRAPH_SIGNING),
    watch: !isOff(env.CONCORD_SUPERGRAPH_WATCH),
    maskSubgraphErrors: ['1', 'true', 'yes', 'on'].includes((env.CONCORD_MASK_SUBGRAPH_ERRORS ?? '').trim().toLowerCase()),
    processes: Math.max(1, integer(env, 'CONCORD_GATEWAY_PROCESSES', 1)),
  };
}

/**
 * Which entry point is starting. What it needs in production differs: the API (main.ts) serves
 * tokens, signs subgraph requests and calls vendors; a worker (npm run worker) calls vendors only;
 * the standalone gateway (npm run gateway) verifies tokens and calls no vendor.
 */
export type ProcessRole = 'api' | 'worker' | 'gateway';

/** The variables a vendor needs when nothing else supplies them (the rest have defaults). */
export const VENDOR_VARIABLES = {
  Salesforce: ['SALESFORCE_INSTANCE_URL', 'SALESFORCE_ACCESS_TOKEN'],
  HubSpot: ['HUBSPOT_ACCESS_TOKEN'],
  Stripe: ['STRIPE_API_KEY'],
  Chargebee: ['CHARGEBEE_SITE', 'CHARGEBEE_API_KEY', 'CHARGEBEE_WEBHOOK_USERNAME', 'CHARGEBEE_WEBHOOK_PASSWORD'],
  NetSuite: ['NETSUITE_ACCOUNT_ID', 'NETSUITE_CONSUMER_KEY', 'NETSUITE_CONSUMER_SECRET', 'NETSUITE_TOKEN_ID', 'NETSUITE_TOKEN_SECRET'],
  'Business Central': ['BUSINESSCENTRAL_TENANT_ID', 'BUSINESSCENTRAL_CLIENT_ID', 'BUSINESSCENTRAL_CLIENT_SECRET'],
} as const;

/** Whether a vendor of VENDOR_VARIABLES is the one chosen for its system: production asks only for the chosen ones. */
const VENDOR_CHOSEN: Record<keyof typeof VENDOR_VARIABLES, (choice: VendorChoice) => boolean> = {
  Salesforce: (choice) => choice.crm === 'salesforce',
  HubSpot: (choice) => choice.crm === 'hubspot',
  Stripe: (choice) => choice.billing === 'stripe',
  Chargebee: (choice) => choice.billing === 'chargebee',
  NetSuite: (choice) => choice.erp === 'netsuite',
  'Business Central': (choice) => choice.erp === 'businesscentral',
};

/**
 * What NODE_ENV=production lacks for this role, one line per missing thing. Production never falls
 * back to a bundled simulator, a generated subgraph secret or the public dev JWT secret, so each of
 * them is a refusal to start rather than a default.
 */
function productionGaps(env: NodeJS.ProcessEnv, role: ProcessRole): string[] {
  const gaps: string[] = [];
  if (role !== 'worker' && !env.CONCORD_JWT_SECRET && !env.CONCORD_JWKS_URL) {
    gaps.push('CONCORD_JWT_SECRET or CONCORD_JWKS_URL (how tokens are verified)');
  }
  // A token minted for another service of the same identity provider must not work here.
  if (role !== 'worker') {
    const missing = (['CONCORD_JWT_ISSUER', 'CONCORD_JWT_AUDIENCE'] as const).filter((name) => !env[name]);
    if (missing.length > 0) gaps.push(`${missing.join(', ')} (the iss and aud every token must carry)`);
  }
  // The standalone gateway may sign with it or not (--no-signing): gateway/cli.ts decides.
  if (role === 'api' && !env.CONCORD_SUBGRAPH_SECRET) {
    gaps.push('CONCORD_SUBGRAPH_SECRET (the gateway-to-subgraph signing secret every replica shares)');
  }
  if (role !== 'gateway') {
    const choice = vendorChoice(env);
    for (const [vendor, names] of Object.entries(VENDOR_VARIABLES)) {
      if (!VENDOR_CHOSEN[vendor as keyof typeof VENDOR_VARIABLES](choice)) continue;
      const missing = names.filter((name) => !env[name]);
      if (missing.length > 0) gaps.push(`${missing.join(', ')} (${vendor})`);
    }
  }
  return gaps;
}

/**
 * Read the configuration of one process. `role` (default 'api') says what it must have under
 * NODE_ENV=production; everything missing is named in one ConfigError.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role: ProcessRole = 'api'): ConcordConfig {
  const production = env.NODE_ENV === 'production';
  const jwksUrl = env.CONCORD_JWKS_URL || null;
  if (production) {
    const gaps = productionGaps(env, role);
    if (gaps.length > 0) {
      throw new ConfigError(
        `NODE_ENV=production and this ${role} process is not fully configured (production never uses the bundled simulators or generated secrets). Set:\n${gaps.map((gap) => `  - ${gap}`).join('\n')}`,
      );
    }
  }
  if (env.CONCORD_JWT_SECRET && env.CONCORD_JWT_SECRET.length < 32) {
    throw new ConfigError('CONCORD_JWT_SECRET must be at least 32 characters');
  }
  if (production && env.CONCORD_JWT_SECRET === DEV_JWT_SECRET) {
    throw new ConfigError('CONCORD_JWT_SECRET is the public dev secret; refusing to start in production');
  }
  if (jwksUrl && !/^https?:\/\//.test(jwksUrl)) throw new ConfigError('CONCORD_JWKS_URL must be an http(s) URL');
  if (production && jwksUrl && !jwksUrl.startsWith('https://')) {
    throw new ConfigError('CONCORD_JWKS_URL must be https in production (keys fetched in clear text can be swapped)');
  }
  if (env.CONCORD_SUBGRAPH_SECRET && env.CONCORD_SUBGRAPH_SECRET.length < 32) {
    throw new ConfigError('CONCORD_SUBGRAPH_SECRET must be at least 32 characters');
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
  const businesscentral = group<BusinessCentralConfig>(env, 'Business Central', {
    tenant: 'BUSINESSCENTRAL_TENANT_ID',
    environment: 'BUSINESSCENTRAL_ENVIRONMENT',
    clientId: 'BUSINESSCENTRAL_CLIENT_ID',
    clientSecret: 'BUSINESSCENTRAL_CLIENT_SECRET',
    baseUrl: 'BUSINESSCENTRAL_BASE_URL',
    tokenUrl: 'BUSINESSCENTRAL_TOKEN_URL',
    companyId: 'BUSINESSCENTRAL_COMPANY_ID',
  }, { environment: 'production', baseUrl: 'https://api.businesscentral.dynamics.com', tokenUrl: '', companyId: '' });
  if (businesscentral && !businesscentral.tokenUrl) {
    businesscentral.tokenUrl = `https://login.microsoftonline.com/${encodeURIComponent(businesscentral.tenant)}/oauth2/v2.0/token`;
  }
  const chargebeeGroup = group<{ site: string; apiKey: string; baseUrl: string }>(env, 'Chargebee', {
    site: 'CHARGEBEE_SITE',
    apiKey: 'CHARGEBEE_API_KEY',
    baseUrl: 'CHARGEBEE_API_BASE',
  }, { baseUrl: '' });
  if (chargebeeGroup && !/^[a-z0-9][a-z0-9-]*$/i.test(chargebeeGroup.site)) {
    throw new ConfigError(`CHARGEBEE_SITE must be the site name (the {site} of https://{site}.chargebee.com), got "${chargebeeGroup.site}"`);
  }
  if (chargebeeGroup?.baseUrl && !/^https?:\/\//.test(chargebeeGroup.baseUrl)) throw new ConfigError('CHARGEBEE_API_BASE must be an http(s) URL');
  const chargebee: ChargebeeConfig | null = chargebeeGroup
    ? { site: chargebeeGroup.site, apiKey: chargebeeGroup.apiKey, baseUrl: chargebeeGroup.baseUrl || null, requestsPerMinute: Math.max(1, integer(env, 'CHARGEBEE_REQUESTS_PER_MINUTE', 150)) }
    : null;
  const hubspotGroup = group<{ accessToken: string; baseUrl: string }>(env, 'HubSpot', {
    accessToken: 'HUBSPOT_ACCESS_TOKEN',
    baseUrl: 'HUBSPOT_BASE_URL',
  }, { baseUrl: 'https://api.hubapi.com' });
  if (hubspotGroup && !/^https?:\/\//.test(hubspotGroup.baseUrl)) throw new ConfigError('HUBSPOT_BASE_URL must be an http(s) URL');
  const hubspot: HubSpotConfig | null = hubspotGroup
    ? {
        ...hubspotGroup,
        requestsPerTenSeconds: Math.max(1, integer(env, 'HUBSPOT_REQUESTS_PER_10S', 190)),
        searchPerSecond: Math.max(1, integer(env, 'HUBSPOT_SEARCH_PER_SECOND', 5)),
        contractObjectType: env.HUBSPOT_CONTRACT_OBJECT_TYPE || 'p_concord_contracts',
      }
    : null;
  const webhookUser = env.CHARGEBEE_WEBHOOK_USERNAME || '';
  const webhookPassword = env.CHARGEBEE_WEBHOOK_PASSWORD || '';
  if (Boolean(webhookUser) !== Boolean(webhookPassword)) {
    throw new ConfigError(`Chargebee webhooks are partly configured; also set ${webhookUser ? 'CHARGEBEE_WEBHOOK_PASSWORD' : 'CHARGEBEE_WEBHOOK_USERNAME'}`);
  }
  if (webhookUser.includes(':')) throw new ConfigError('CHARGEBEE_WEBHOOK_USERNAME must not contain ":" (HTTP Basic auth)');
  return {
    production,
    vendors: vendorChoice(env),
    graphiql: env.CONCORD_GRAPHIQL === undefined || env.CONCORD_GRAPHIQL === '' ? !production : !isOff(env.CONCORD_GRAPHIQL),
    port: integer(env, 'PORT', 4000),
    host: env.HOST || '127.0.0.1',
    redisUrl: redisUrl(env),
    jwtSecret: env.CONCORD_JWT_SECRET || DEV_JWT_SECRET,
    jwtSecretIsDev: !env.CONCORD_JWT_SECRET,
    jwksUrl,
    subgraphSecret: env.CONCORD_SUBGRAPH_SECRET || randomBytes(32).toString('hex'),
    subgraphSecretIsGenerated: !env.CONCORD_SUBGRAPH_SECRET,
    standalone: standalone(env, production),
    security: {
      jwtIssuer: env.CONCORD_JWT_ISSUER || null,
      jwtAudience: env.CONCORD_JWT_AUDIENCE || null,
      jwtMaxLifetimeSeconds: integerAtLeast(env, 'CONCORD_JWT_MAX_LIFETIME_S', 86_400, 60),
      maxDepth: integer(env, 'CONCORD_MAX_DEPTH', 12),
      maxAliases: integer(env, 'CONCORD_MAX_ALIASES', 30),
      maxCost: integer(env, 'CONCORD_MAX_COST', 300_000),
      defaultListSize: integer(env, 'CONCORD_DEFAULT_LIST_SIZE', 10),
      maxTokens: integer(env, 'CONCORD_MAX_TOKENS', 5000),
      maxFields: integerAtLeast(env, 'CONCORD_MAX_FIELDS', 500, 1),
      maxSelectionFields: integerAtLeast(env, 'CONCORD_MAX_SELECTION_FIELDS', 100, 1),
      maxFieldOverlaps: integerAtLeast(env, 'CONCORD_MAX_FIELD_OVERLAPS', 1000, 0),
      maxSubgraphFetches: integerAtLeast(env, 'CONCORD_MAX_SUBGRAPH_FETCHES', 8, 1),
      admissionCacheMb: integerAtLeast(env, 'CONCORD_ADMISSION_CACHE_MB', 64, 1),
      maxBodyBytes: integer(env, 'CONCORD_MAX_BODY_BYTES', 1024 * 1024),
      requestTimeoutMs: integer(env, 'CONCORD_REQUEST_TIMEOUT_MS', 30_000),
      subgraphTimeoutMs: integerAtLeast(env, 'CONCORD_SUBGRAPH_TIMEOUT_MS', 15_000, 100),
      maxStringLength: integerAtLeast(env, 'CONCORD_MAX_STRING_LENGTH', 10_000, 100),
      wsMaxConnectionsPerSubject: integerAtLeast(env, 'CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT', 20, 1),
      wsMaxConnectionsPerAddress: integerAtLeast(env, 'CONCORD_WS_MAX_CONNECTIONS_PER_ADDRESS', 50, 1),
      authFailuresPerMinute: integerAtLeast(env, 'CONCORD_AUTH_FAILURES_PER_MINUTE', 50, 1),
      rateLimitPerSecond: integer(env, 'CONCORD_RATE_LIMIT_RPS', 50),
      rateLimitBurst: integer(env, 'CONCORD_RATE_LIMIT_BURST', 100),
      safelistDir: env.CONCORD_SAFELIST_DIR || null,
      apq: !['0', 'false', 'no'].includes((env.CONCORD_APQ ?? '').toLowerCase()),
    },
    gatewayLoad: {
      maxInFlight: integer(env, 'CONCORD_MAX_IN_FLIGHT', 32),
      queueLength: integer(env, 'CONCORD_QUEUE_LENGTH', 16),
      queueWaitMs: Math.max(1, integer(env, 'CONCORD_QUEUE_WAIT_MS', 500)),
      dedupFetches: !isOff(env.CONCORD_FETCH_DEDUP),
    },
    entityCache: {
      ttlSeconds: integer(env, 'CONCORD_ENTITY_CACHE_TTL_S', 300),
      maxMb: Math.max(1, integer(env, 'CONCORD_ENTITY_CACHE_MB', 64)),
    },
    logLevel: env.LOG_LEVEL || (production ? 'info' : env.NODE_ENV === 'test' ? 'silent' : 'info'),
    logFormat: logFormat(env.CONCORD_LOG_FORMAT),
    seedCustomers: integer(env, 'CONCORD_SEED_CUSTOMERS', 50),
    redisPrefix: env.CONCORD_REDIS_PREFIX || 'concord',
    redisCommandTimeoutMs: Math.max(100, integer(env, 'CONCORD_REDIS_COMMAND_TIMEOUT_MS', 2000)),
    observability: observability(env),
    events: {
      retention: Math.max(1, integer(env, 'CONCORD_EVENTS_RETENTION', 100_000)),
      // Stripe retries a webhook for up to 3 days: remember ids for longer than that.
      dedupeTtlSeconds: Math.max(1, integer(env, 'CONCORD_EVENTS_DEDUPE_TTL_S', 7 * 86_400)),
      stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET || null,
      chargebeeWebhookCredentials: webhookUser ? `${webhookUser}:${webhookPassword}` : null,
      pollIntervalMs: integer(env, 'CONCORD_POLL_INTERVAL_MS', 5_000),
    },
    orchestration: {
      workers: !['0', 'false', 'no'].includes((env.CONCORD_WORKERS ?? '').toLowerCase()),
      maxAttempts: integer(env, 'CONCORD_O2C_MAX_ATTEMPTS', 10),
      leaseMs: integer(env, 'CONCORD_O2C_LEASE_MS', 15_000),
      queueLockMs: integer(env, 'CONCORD_QUEUE_LOCK_MS', 30_000),
      sweepIntervalMs: integer(env, 'CONCORD_O2C_SWEEP_INTERVAL_MS', 30_000),
      staleMs: Math.max(1000, integer(env, 'CONCORD_O2C_STALE_MS', 120_000)),
      concurrency: {
        CRM: integer(env, 'CONCORD_CRM_CONCURRENCY', 10),
        BILLING: integer(env, 'CONCORD_BILLING_CONCURRENCY', 10),
        // NetSuite's default account concurrency limit.
        ERP: integer(env, 'CONCORD_ERP_CONCURRENCY', 5),
      },
    },
    consistency: {
      // Off by default under test: a scheduled run landing mid-test would change vendor call counts.
      reconciliationIntervalMinutes: integer(env, 'CONCORD_RECONCILIATION_INTERVAL_MINUTES', env.NODE_ENV === 'test' ? 0 : 360),
      reconciliationPace: {
        CRM: integer(env, 'CONCORD_RECONCILIATION_CRM_RPS', 10),
        // Stripe's test-mode read limit; live mode allows 100/s, shared with everything else. Chargebee
        // limits per minute by plan: half of it, so that sagas and the unified view keep the rest.
        BILLING: integer(env, 'CONCORD_RECONCILIATION_BILLING_RPS', vendorChoice(env).billing === 'chargebee' ? Math.max(1, Math.floor(integer(env, 'CHARGEBEE_REQUESTS_PER_MINUTE', 150) / 120)) : 25),
        ERP: integer(env, 'CONCORD_RECONCILIATION_ERP_RPS', 10),
      },
      mutationWaitMs: integer(env, 'CONCORD_MUTATION_WAIT_MS', 8000),
    },
    salesforce: group<SalesforceConfig>(env, 'Salesforce', {
      instanceUrl: 'SALESFORCE_INSTANCE_URL',
      accessToken: 'SALESFORCE_ACCESS_TOKEN',
    }),
    stripe: group<Omit<StripeConfig, 'taxRateId'>>(env, 'Stripe', { apiKey: 'STRIPE_API_KEY', baseUrl: 'STRIPE_API_BASE' }, {
      baseUrl: 'https://api.stripe.com',
    }),
    stripeTaxRateId: env.CONCORD_STRIPE_TAX_RATE_ID || null,
    stripeSearchLagSeconds: integer(env, 'CONCORD_STRIPE_SEARCH_LAG_S', 300),
    stripeRatePerSecond: env.CONCORD_STRIPE_RATE_PER_SECOND ? Math.max(1, integer(env, 'CONCORD_STRIPE_RATE_PER_SECOND', 25)) : null,
    capacity: {
      waitMs: Math.max(1, integer(env, 'CONCORD_CAPACITY_WAIT_MS', 10_000)),
      leaseMs: Math.max(1000, integer(env, 'CONCORD_CAPACITY_LEASE_MS', 30_000)),
    },
    netsuite,
    businesscentral,
    chargebee,
    hubspot,
  };
}
