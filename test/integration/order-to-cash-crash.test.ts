/**
 * Durability: order-to-cash workers are real child processes on a real Redis with AOF on. They are
 * SIGKILLed at random moments and restarted; every run still completes, with no duplicate effect.
 * A worker that dies for good has its work taken over by the other one, and the runs survive a
 * Redis restart from its AOF.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { getRun, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { startOwnRedis, type OwnRedis } from '../helpers/redis';
import { buildSeed } from '../../simulators/common/seed';
import { SIMULATOR_CREDENTIALS } from '../../system';

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'subgraphs', 'orchestration', 'worker-main.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('order-to-cash workers killed at random moments (real Redis with AOF)', () => {
  let redis: OwnRedis;
  let system: TestSystem;
  let workerEnv: Record<string, string>;
  const workers = new Set<ChildProcess>();

  function startWorker(): ChildProcess {
    // node --import tsx: one process, so SIGKILL kills the worker itself, not a wrapper.
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: ROOT,
      env: { ...process.env, ...workerEnv },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    return child;
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  beforeAll(async () => {
    redis = await startOwnRedis();
    const prefix = 'concord-crash';
    const shared = {
      REDIS_URL: redis.url,
      CONCORD_REDIS_PREFIX: prefix,
      // A dead worker's job and lease are free again within about a second.
      CONCORD_QUEUE_LOCK_MS: '1000',
      CONCORD_O2C_LEASE_MS: '1500',
    };
    // This process serves the API only; the child processes do the work.
    system = await startTestSystem({ seed: buildSeed({ customers: 120 }), env: { ...shared, CONCORD_WORKERS: '0' } });
    const sims = system.simulators;
    const ns = SIMULATOR_CREDENTIALS.netsuite;
    workerEnv = {
      ...shared,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
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
    };
    // Vendor latency keeps runs in flight long enough for kills to land mid-step.
    for (const sim of [sims.salesforce!, sims.stripe!, sims.netsuite!]) await simCall(sim.url, 'faults', { latencyMs: 250 });
  });

  afterAll(async () => {
    await Promise.all([...workers].map(kill));
    await system?.close();
    await redis?.stop();
  });

  it('completes 20 runs while workers are SIGKILLed and restarted, with zero duplicate effects', async () => {
    const opportunities = (await readyOpportunities(system.simulators.salesforce!.url)).slice(0, 20);
    expect(opportunities).toHaveLength(20);
    startWorker();
    startWorker();
    const runIds: string[] = [];
    for (const opp of opportunities) {
      const response = await startRun(system, opp.id, `crash-${opp.id}`);
      expect(response.body.errors).toBeUndefined();
      runIds.push(response.body.data.startOrderToCash.id);
    }

    // Kill a random worker every 0.3-1.2 s and start a new one, until the runs are done or 15 kills.
    let kills = 0;
    let seed = 11;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const settled = async () => (await Promise.all(runIds.map((id) => getRun(system, id)))).every((r) => r && r.status === 'COMPLETED');
    while (kills < 15 && !(await settled())) {
      await sleep(300 + Math.floor(random() * 900));
      const alive = [...workers];
      await kill(alive[Math.floor(random() * alive.length)]);
      kills += 1;
      startWorker();
    }
    expect(kills).toBeGreaterThanOrEqual(3);

    const runs = await Promise.all(runIds.map((id) => waitForRun(system, id, ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'], 120_000)));
    expect(runs.filter((r) => r.status !== 'COMPLETED')).toEqual([]);

    const [stripe, ns] = await Promise.all([simCall(system.simulators.stripe!.url, 'state'), simCall(system.simulators.netsuite!.url, 'state')]);
    const oppIds = new Set(opportunities.map((o) => o.id));
    const subs = stripe.subscriptions.filter((s: any) => oppIds.has(s.metadata?.concord_opportunity_id));
    expect(subs).toHaveLength(20);
    const subIds = new Set(subs.map((s: any) => s.id));
    const invoices = stripe.invoices.filter((i: any) => subIds.has(i.parent?.subscription_details?.subscription));
    expect(invoices).toHaveLength(20);
    const invoiceIds = new Set(invoices.map((i: any) => i.id));
    expect(ns.invoice.filter((i: any) => invoiceIds.has(i.externalId))).toHaveLength(20);
    const customerIds = ns.customer.map((c: any) => c.externalId).filter(Boolean);
    expect(new Set(customerIds).size).toBe(customerIds.length);

    // The runs are on disk: a Redis restart from its AOF keeps them.
    await redis.restart();
    // Read through the reconnect: waitForRun polls through retryable errors (SERVICE_UNAVAILABLE).
    const reread = await waitForRun(system, runIds[0], ['COMPLETED'], 60_000);
    expect(reread.status).toBe('COMPLETED');
  });

  it('lets the surviving worker take over the work of one that died for good', async () => {
    const opportunities = (await readyOpportunities(system.simulators.salesforce!.url)).slice(0, 6);
    await Promise.all([...workers].map(kill));
    // The doomed worker must die holding work, however fast or slow the machine: the ERP holds
    // every request (the `hold` fault), so the worker's first step (erpCustomer) waits there until
    // the test has seen it arrive, and the worker is killed mid-step.
    const netsuite = system.simulators.netsuite!.url;
    await simCall(netsuite, 'faults', { hold: true });
    try {
      const doomed = startWorker();
      const started = await Promise.all(opportunities.map((opp) => startRun(system, opp.id, `takeover-${opp.id}`)));
      const runIds = started.map((response) => response.body.data.startOrderToCash.id as string);
      const deadline = Date.now() + 120_000;
      while ((await simCall(netsuite, 'stats')).held < 1) {
        if (Date.now() > deadline) throw new Error('the doomed worker never took a run');
        await sleep(50);
      }
      await kill(doomed);
      const survivor = startWorker();
      // Released: the dead worker's held request may still take effect (an uncertain outcome the
      // survivor's retry of the step must converge with, not duplicate).
      await simCall(netsuite, 'faults', { hold: false });
      const runs = await Promise.all(runIds.map((id) => waitForRun(system, id, ['COMPLETED', 'DEAD_LETTERED'], 120_000)));
      expect(runs.map((r) => r.status)).toEqual(runIds.map(() => 'COMPLETED'));
      expect(survivor.exitCode).toBeNull();
      const ns = await simCall(netsuite, 'state');
      const customerIds = ns.customer.map((c: any) => c.externalId).filter(Boolean);
      expect(new Set(customerIds).size).toBe(customerIds.length);
    } finally {
      await simCall(netsuite, 'faults', { hold: false });
    }
  });
});
