/**
 * Staging: Concord deployed as separate processes, exactly as docs/deploy.md "Scaling out" runs it.
 * `npm run simulators -- --require-credentials` stands in for the remote vendors (only the printed
 * credentials pass); a redis-server of the test's own; one API process (`npm start`) with
 * NODE_ENV=production and CONCORD_WORKERS=0, configured with real-vendor variables pointing at the
 * simulators; two `npm run worker` processes. A client holds a token minted with the JWT secret,
 * as an identity provider would issue it: the production API prints none.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SCOPES, mintToken } from '../../gateway/token';
import { RUN_FIELDS } from '../helpers/order-to-cash';
import { JWT_PATTERN, ROOT, freePort, freeRange, npmRun, until, type Proc } from '../helpers/processes';
import { startOwnRedis, type OwnRedis } from '../helpers/redis';
import { simCall } from '../helpers/system';

const JWT_SECRET = 'staging-jwt-secret-0123456789abcdefghijkl';
const SUBGRAPH_SECRET = 'staging-subgraph-secret-0123456789abcdefgh';
const RUNS = 10;

/** TCP ports listened on by any process of this process group (npm and the node it starts). */
function listeningPortsOf(group: number): number[] {
  const pids = new Set<number>();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,pgid='], { encoding: 'utf8' }).trim().split('\n')) {
    const [pid, pgid] = line.trim().split(/\s+/).map(Number);
    if (pgid === group) pids.add(pid);
  }
  const ports: number[] = [];
  for (const line of execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }).split('\n')) {
    const pid = Number(/pid=(\d+)/.exec(line)?.[1]);
    const port = Number(/:(\d+)\s/.exec(line)?.[1]);
    if (pids.has(pid) && port) ports.push(port);
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

describe('staging: separate processes in production mode', () => {
  let redis: OwnRedis;
  let simulators: Proc;
  let api: Proc;
  const workers: Proc[] = [];
  const processes = () => [simulators, api, ...workers].filter(Boolean);
  let vendorEnv: Record<string, string>;
  let apiPort: number;
  let simulatorBase: number;
  let token: string;

  const gql = async (query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(`http://127.0.0.1:${apiPort}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    redis = await startOwnRedis();
    simulatorBase = await freeRange(3, 101);
    simulators = npmRun('simulators', { PORT: String(simulatorBase) }, ['--require-credentials']);
    await simulators.waitFor(/simulators ready/);
    vendorEnv = Object.fromEntries([...simulators.stdout().matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));

    const production = {
      NODE_ENV: 'production',
      REDIS_URL: redis.url,
      CONCORD_JWT_SECRET: JWT_SECRET,
      CONCORD_JWT_ISSUER: 'https://idp.staging.example',
      CONCORD_JWT_AUDIENCE: 'concord-staging',
      CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET,
      ...vendorEnv,
    };
    apiPort = await freeRange(5);
    api = npmRun('start', { ...production, PORT: String(apiPort), CONCORD_WORKERS: '0' });
    for (let i = 0; i < 2; i++) workers.push(npmRun('worker', { ...production, CONCORD_WORKER_PORT: String(await freePort()) }));
    await Promise.all([api.waitFor(/concord API ready/, 90_000), ...workers.map((w) => w.waitFor(/worker ready/, 90_000))]);
    token = await mintToken({ secret: JWT_SECRET, subject: 'staging-client', scopes: SCOPES, ttl: '10m', issuer: 'https://idp.staging.example', audience: 'concord-staging' });
  }, 150_000);

  afterAll(async () => {
    await Promise.all(processes().map((p) => p.stop()));
    await redis?.stop();
  }, 60_000);

  it('stands in for vendors that accept only the printed credentials', async () => {
    const customers = (key: string) => fetch(`${vendorEnv.STRIPE_API_BASE}/v1/customers?limit=1`, { headers: { authorization: `Bearer ${key}` } });
    expect((await customers('sk_test_someone_else')).status).toBe(401);
    expect((await customers(vendorEnv.STRIPE_API_KEY)).status).toBe(200);
    const account = (token: string) => fetch(`${vendorEnv.SALESFORCE_INSTANCE_URL}/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account LIMIT 1')}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await account('not-the-session')).status).toBe(401);
    expect((await account(vendorEnv.SALESFORCE_ACCESS_TOKEN)).status).toBe(200);
  });

  it('is ready, and the API opened only its own ports (no simulator)', async () => {
    const ready = await until('the API ready', async () => {
      const response = await fetch(`http://127.0.0.1:${apiPort}/ready`);
      return response.ok ? ((await response.json()) as any) : undefined;
    });
    expect(ready).toMatchObject({ ready: true, checks: { redis: 'up', salesforce: 'up', stripe: 'up', netsuite: 'up' } });
    expect(Object.values(ready.subgraphs)).toEqual(['up', 'up', 'up', 'up']);
    const ports = listeningPortsOf(api.child.pid!);
    expect(ports).toEqual([apiPort, apiPort + 1, apiPort + 2, apiPort + 3, apiPort + 4]);
    for (const offset of [101, 102, 103]) expect(ports).not.toContain(apiPort + offset);
  });

  it('answers the 50-customer unified view', async () => {
    const query = readFileSync(path.join(ROOT, 'examples', 'unified-view.graphql'), 'utf8');
    const { status, body } = await gql(query, { first: 50 });
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data.customers.edges).toHaveLength(50);
    expect(body.data.customers.edges.every((e: any) => e.node.erp && e.node.balance)).toBe(true);
  }, 60_000);

  it(`completes ${RUNS} order-to-cash runs on the workers, each with exactly one subscription, one taxed Stripe invoice and one NetSuite invoice`, async () => {
    const salesforce = vendorEnv.SALESFORCE_INSTANCE_URL;
    const crm = await simCall(salesforce, 'state');
    const held = new Set(crm.Account.filter((a: any) => a.Concord_Status__c === 'Credit Hold').map((a: any) => a.Id));
    const ready = crm.Opportunity.filter((o: any) => o.IsWon && !o.Billing_Subscription_Id__c && !held.has(o.AccountId));
    expect(ready.length).toBeGreaterThanOrEqual(RUNS);
    const started = await Promise.all(
      ready.slice(0, RUNS).map((o: any) =>
        gql(`mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { ${RUN_FIELDS} } }`, { input: { opportunityId: o.Id, idempotencyKey: `staging-${o.Id}` } }),
      ),
    );
    for (const { body } of started) expect(body.errors).toBeUndefined();
    const ids: string[] = started.map(({ body }) => body.data.startOrderToCash.id);
    const runs = await until(
      'every run settled',
      async () => {
        const all = await Promise.all(ids.map(async (id) => (await gql(`query($id: ID!) { orderToCashRun(id: $id) { ${RUN_FIELDS} } }`, { id })).body.data?.orderToCashRun));
        return all.every((run) => run && ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'].includes(run.status)) ? all : undefined;
      },
      120_000,
      500,
    );
    expect(runs.map((run: any) => run.status)).toEqual(Array(RUNS).fill('COMPLETED'));

    const [stripe, netsuite] = await Promise.all([simCall(vendorEnv.STRIPE_API_BASE, 'state'), simCall(vendorEnv.NETSUITE_BASE_URL, 'state')]);
    for (const run of runs) {
      const subscriptions = stripe.subscriptions.filter((s: any) => s.metadata?.concord_opportunity_id === run.opportunityId);
      expect(subscriptions).toHaveLength(1);
      const invoices = stripe.invoices.filter((i: any) => i.parent?.subscription_details?.subscription === subscriptions[0].id);
      expect(invoices).toHaveLength(1);
      expect(invoices[0].total_taxes.reduce((sum: number, t: any) => sum + t.amount, 0)).toBeGreaterThan(0);
      expect(netsuite.invoice.filter((i: any) => i.externalId === invoices[0].id)).toHaveLength(1);
    }
  }, 180_000);

  it('wrote no token to any stdout or stderr', () => {
    for (const proc of processes()) {
      expect(proc.stdout()).not.toMatch(JWT_PATTERN);
      expect(proc.stderr()).not.toMatch(JWT_PATTERN);
    }
    // The API and workers did write: the check above read real output.
    expect(api.stdout()).toMatch(/concord API ready/);
    for (const worker of workers) expect(worker.stdout()).toMatch(/worker ready/);
  });
});
