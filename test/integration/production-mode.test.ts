/**
 * NODE_ENV=production as an operator meets it: each entry point refuses to start while anything it
 * needs is missing, naming every missing variable at once (exit code 1, no stack trace), and never
 * falls back to a simulator or a generated secret. In development the fallbacks stay, announced.
 */
import { JWT_PATTERN, freePort, freeRange, npmRun, tsxRun, until } from '../helpers/processes';
import { REDIS_URL, testPrefix } from '../helpers/redis';

const JWT_SECRET = 'concord-production-test-jwt-secret-0123456789';
const SUBGRAPH_SECRET = 'concord-production-test-subgraph-secret-0123';
const VENDORS = {
  SALESFORCE_INSTANCE_URL: 'http://127.0.0.1:9/salesforce',
  SALESFORCE_ACCESS_TOKEN: 'sf-session',
  STRIPE_API_KEY: 'sk_test_production_mode',
  STRIPE_API_BASE: 'http://127.0.0.1:9/stripe',
  NETSUITE_ACCOUNT_ID: 'TSTDRV1',
  NETSUITE_BASE_URL: 'http://127.0.0.1:9/netsuite',
  NETSUITE_CONSUMER_KEY: 'ck',
  NETSUITE_CONSUMER_SECRET: 'cs',
  NETSUITE_TOKEN_ID: 'ti',
  NETSUITE_TOKEN_SECRET: 'ts',
};
const ALL_VENDOR_VARIABLES = Object.keys(VENDORS).filter((name) => !['STRIPE_API_BASE', 'NETSUITE_BASE_URL'].includes(name));
const STACK_LINE = /^\s+at .+\(.*:\d+:\d+\)$/m;

async function refusal(run: ReturnType<typeof tsxRun>): Promise<{ code: number | string; stderr: string; stdout: string }> {
  const code = await run.exited;
  return { code, stderr: run.stderr(), stdout: run.stdout() };
}

describe('NODE_ENV=production refuses to start incomplete', () => {
  it('npm start with nothing configured names every missing variable in one message', async () => {
    const { code, stderr, stdout } = await refusal(npmRun('start', { NODE_ENV: 'production', PORT: String(await freePort()) }));
    expect(code).toBe(1);
    for (const name of ['CONCORD_SUBGRAPH_SECRET', 'CONCORD_JWT_SECRET or CONCORD_JWKS_URL', ...ALL_VENDOR_VARIABLES]) expect(stderr).toContain(name);
    expect(stderr.match(/^concord: /gm)).toHaveLength(1);
    expect(stderr).not.toMatch(STACK_LINE);
    expect(stdout + stderr).not.toMatch(JWT_PATTERN);
  }, 60_000);

  it('names only what is missing: one vendor, or the subgraph secret', async () => {
    const { STRIPE_API_KEY: _stripe, STRIPE_API_BASE: _base, ...withoutStripe } = VENDORS;
    const oneVendor = await refusal(tsxRun('main.ts', { NODE_ENV: 'production', CONCORD_JWT_SECRET: JWT_SECRET, CONCORD_JWT_ISSUER: 'https://idp.example', CONCORD_JWT_AUDIENCE: 'concord', CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET, ...withoutStripe }));
    expect(oneVendor.code).toBe(1);
    expect(oneVendor.stderr).toMatch(/STRIPE_API_KEY \(Stripe\)/);
    expect(oneVendor.stderr).not.toMatch(/SALESFORCE_|NETSUITE_|CONCORD_SUBGRAPH_SECRET|CONCORD_JWT_SECRET/);

    const noSecret = await refusal(tsxRun('main.ts', { NODE_ENV: 'production', CONCORD_JWT_SECRET: JWT_SECRET, CONCORD_JWT_ISSUER: 'https://idp.example', CONCORD_JWT_AUDIENCE: 'concord', ...VENDORS }));
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toMatch(/CONCORD_SUBGRAPH_SECRET/);
    expect(noSecret.stderr).not.toMatch(/STRIPE_|SALESFORCE_|NETSUITE_|CONCORD_JWT_SECRET/);
    expect(noSecret.stderr).not.toMatch(STACK_LINE);
  }, 60_000);

  it('an unknown vendor choice is refused, naming the choices', async () => {
    const { code, stderr } = await refusal(tsxRun('main.ts', { CONCORD_CRM: 'pipedrive', PORT: String(await freePort()) }));
    expect(code).toBe(1);
    expect(stderr).toContain('CONCORD_CRM must be salesforce or hubspot, got "pipedrive"');
    expect(stderr).not.toMatch(STACK_LINE);
  }, 60_000);

  it('npm run worker names the vendors it lacks (it verifies no token and signs nothing)', async () => {
    const { code, stderr } = await refusal(npmRun('worker', { NODE_ENV: 'production', REDIS_URL }));
    expect(code).toBe(1);
    for (const name of ALL_VENDOR_VARIABLES) expect(stderr).toContain(name);
    expect(stderr).not.toMatch(/CONCORD_SUBGRAPH_SECRET|CONCORD_JWT_SECRET/);
    expect(stderr).not.toMatch(STACK_LINE);
  }, 60_000);

  it('npm run gateway names the token verification it lacks', async () => {
    const { code, stderr } = await refusal(npmRun('gateway', { NODE_ENV: 'production' }, ['--supergraph', 'schema/supergraph.graphql']));
    expect(code).toBe(1);
    expect(stderr).toMatch(/CONCORD_JWT_SECRET or CONCORD_JWKS_URL/);
    expect(stderr).not.toMatch(/STRIPE_|SALESFORCE_|NETSUITE_/);
    expect(stderr).not.toMatch(STACK_LINE);
  }, 60_000);
});

describe('development keeps its fallbacks, and says so', () => {
  const keys = testPrefix('dev-worker');
  afterAll(() => keys.cleanup());

  it('npm start announces a generated CONCORD_SUBGRAPH_SECRET, which replicas must share', async () => {
    // The whole dev system: gateway and subgraphs at PORT..PORT+4, simulators at PORT+101..103.
    const port = await freeRange(104);
    const api = npmRun('start', { NODE_ENV: 'development', PORT: String(port), CONCORD_POLL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' });
    try {
      await api.waitFor(/Concord is running/, 90_000);
      expect(api.stdout()).toMatch(/CONCORD_SUBGRAPH_SECRET is not set: generated one for this start\. Replicas .* must share one/);
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  }, 120_000);

  it('a worker without vendor settings starts against the simulators at PORT+101..103 and reports them on /ready', async () => {
    const workerPort = await freePort();
    const port = await freePort();
    const worker = tsxRun('subgraphs/orchestration/worker-main.ts', {
      NODE_ENV: 'development',
      REDIS_URL,
      CONCORD_REDIS_PREFIX: keys.prefix,
      CONCORD_POLL_INTERVAL_MS: '0',
      CONCORD_WORKER_PORT: String(workerPort),
      PORT: String(port),
    });
    try {
      await worker.waitFor(/worker ready/);
      expect(worker.stdout()).toMatch(/using the bundled simulator there/);
      expect((await fetch(`http://127.0.0.1:${workerPort}/health`)).status).toBe(200);
      // Nothing serves PORT+101..103 here: the worker is up, and its /ready says which vendor is not.
      const ready = await until('a /ready answer', async () => {
        const response = await fetch(`http://127.0.0.1:${workerPort}/ready`);
        return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
      });
      expect(ready.status).toBe(503);
      expect(ready.body.checks).toMatchObject({ redis: 'up', salesforce: expect.stringMatching(/^down/), stripe: expect.stringMatching(/^down/), netsuite: expect.stringMatching(/^down/) });
    } finally {
      await worker.stop();
    }
  }, 60_000);
});
