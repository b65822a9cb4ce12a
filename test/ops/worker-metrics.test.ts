/**
 * Scaled out, the steps of a run happen in worker processes (npm run worker) while the API replicas
 * run CONCORD_WORKERS=0: a worker serves its own metrics on CONCORD_METRICS_PORT, so the vendor
 * calls and run outcomes it causes are scraped from it, and the API replica's /metrics counts the
 * starts and reads the shared queues and run store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { scrape, total, until } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'subgraphs', 'orchestration', 'worker-main.ts');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('metrics of a worker process', () => {
  let system: TestSystem;
  let worker: ChildProcess;
  let metricsUrl: string;
  const keys = testPrefix('ops-worker');

  beforeAll(async () => {
    const shared = { REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_POLL_INTERVAL_MS: '0' };
    system = await startTestSystem({ env: { ...shared, CONCORD_WORKERS: '0' } });
    const port = await freePort();
    const sims = system.simulators;
    const ns = SIMULATOR_CREDENTIALS.netsuite;
    worker = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        ...shared,
        LOG_LEVEL: 'silent',
        NODE_ENV: 'test',
        CONCORD_METRICS_PORT: String(port),
        CONCORD_METRICS_TOKEN: 'worker-scrape-token-0123456789',
        SALESFORCE_INSTANCE_URL: sims.salesforce!.url,
        SALESFORCE_ACCESS_TOKEN: SIMULATOR_CREDENTIALS.salesforceToken,
        STRIPE_API_KEY: SIMULATOR_CREDENTIALS.stripeKey,
        STRIPE_API_BASE: sims.stripe!.url,
        NETSUITE_ACCOUNT_ID: ns.accountId,
        NETSUITE_BASE_URL: sims.netsuite!.url,
        NETSUITE_CONSUMER_KEY: ns.consumerKey,
        NETSUITE_CONSUMER_SECRET: ns.consumerSecret,
        NETSUITE_TOKEN_ID: ns.tokenId,
        NETSUITE_TOKEN_SECRET: ns.tokenSecret,
      },
    });
    metricsUrl = `http://127.0.0.1:${port}`;
    await until('the worker metrics server', async () => (await fetch(`${metricsUrl}/health`)).ok, 30_000, 200);
  }, 45_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      await new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.kill('SIGTERM');
      });
    }
    await system?.close();
    await keys.cleanup();
  });

  it('serves the vendor calls and outcomes of the runs the worker advanced', async () => {
    const [opportunity] = await readyOpportunities(system.simulators.salesforce!.url);
    const started = await startRun(system, opportunity.id, `worker-metrics-${opportunity.id}`);
    expect((await waitForRun(system, started.body.data.startOrderToCash.id)).status).toBe('COMPLETED');

    expect((await fetch(`${metricsUrl}/metrics`)).status).toBe(401);
    const fromWorker = await scrape(metricsUrl, { authorization: 'Bearer worker-scrape-token-0123456789' });
    expect(fromWorker.status).toBe(200);
    const w = fromWorker.samples;
    expect(total(w, 'concord_vendor_api_calls_total', { vendor: 'stripe', status: '200' })).toBeGreaterThan(0);
    expect(total(w, 'concord_vendor_api_calls_total', { vendor: 'netsuite', status: '200' })).toBeGreaterThan(0);
    expect(total(w, 'concord_o2c_run_duration_seconds_count', { outcome: 'COMPLETED' })).toBe(1);
    expect(total(w, 'concord_o2c_runs', { status: 'COMPLETED' })).toBe(1);
    expect(total(w, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // The API replica started the run (it read the deal) and sees the shared store and queues.
    const api = (await scrape(system.gateway.url)).samples;
    expect(total(api, 'concord_o2c_runs_started_total')).toBe(1);
    expect(total(api, 'concord_vendor_api_calls_total', { vendor: 'salesforce' })).toBeGreaterThan(0);
    expect(total(api, 'concord_vendor_api_calls_total', { vendor: 'netsuite' })).toBe(0);
    expect(total(api, 'concord_o2c_runs', { status: 'COMPLETED' })).toBe(1);
  });
});
