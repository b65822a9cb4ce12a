/** Start the whole system on ephemeral ports for a test, and talk to it as a client would. */
import { loadConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import type { VendorCall } from '../../core/vendor-call';
import { SCOPES, mintToken } from '../../gateway/token';
import type { Seed } from '../../simulators/common/seed';
import { startSystem, type RunningSystem, type SystemOptions } from '../../system';

export const TEST_JWT_SECRET = 'concord-test-secret-0123456789abcdef';

export interface TestSystem extends RunningSystem {
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
  /** Metrics, tracing, a logger of the test's own (test/ops). Default: the system's defaults, silent logs. */
  system?: Pick<SystemOptions, 'metrics' | 'tracing' | 'logger'>;
}

export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  // Tests poll hard from one subject (100 runs at 10 polls a second): the per-subject rate limit is
  // raised, not off, so every request still goes through it. test/security sets its own.
  const config = loadConfig({ CONCORD_JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'test', CONCORD_RATE_LIMIT_RPS: '100000', CONCORD_RATE_LIMIT_BURST: '100000', ...options.env });
  const vendorCalls: VendorCall[] = [];
  const system = await startSystem({
    config,
    logger: createLogger({ level: 'silent' }),
    ...options.system,
    ports: 'ephemeral',
    seed: options.seed,
    batch: options.batch,
    onVendorCall: (call) => vendorCalls.push(call),
  });
  const token = await mintToken({ secret: TEST_JWT_SECRET, subject: 'test-admin', scopes: SCOPES, issuer: config.security.jwtIssuer, audience: config.security.jwtAudience });
  return {
    ...system,
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

/** Simulator control API helpers (the simulators' `/__sim/` control API). */
export async function simCall<T = any>(baseUrl: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}/__sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`/__sim/${path} -> ${response.status}`);
  return (await response.json()) as T;
}
