/**
 * `npm run bench:order-to-cash`: order-to-cash throughput against NetSuite's concurrency limit.
 *
 * The simulators get the latencies of the issue (Salesforce 80 ms, Stripe 60 ms, NetSuite 150 ms
 * with NetSuite's account limit of 5 requests in flight). Phase 1 runs one order-to-cash run alone
 * and counts the NetSuite calls it makes; NetSuite busy time per run = calls x 150 ms, so NetSuite's
 * limit bounds throughput at 5 / busy time runs per second. Phase 2 starts N runs at once through
 * the gateway and measures runs/s from the first start to the last COMPLETED. Prints figures, with
 * the ratio runs/s / bound last (the target is >= 0.8), and where the ERP lane's time went.
 *
 * Runs on Redis by default (REDIS_URL or redis://127.0.0.1:6379, under a unique prefix whose keys
 * are deleted at the end); --embedded uses the in-memory engine. CONCORD_*_CONCURRENCY,
 * CONCORD_O2C_* and CONCORD_QUEUE_LOCK_MS from the environment are passed on, to try lane settings.
 *
 * The analysis lines take the wall time apart (before the first ERP step, NetSuite calls at their
 * nominal 150 ms, the calls' time beyond that, NetSuite slots left idle while the ERP lane works
 * between calls, after the last posting) and count the engine's store and queue calls per run.
 *
 * Options: --runs N (default 80), --customers N (seeded, default 400), --embedded
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import type { VendorCall } from '../core/vendor-call';
import { SCOPES, mintToken } from '../gateway/token';
import { buildSeed } from '../simulators/common/seed';
import { startSystem, type RunningSystem } from '../system';

const SECRET = 'concord-bench-secret-0123456789abcdef';
const LATENCY = { salesforce: 80, stripe: 60, netsuite: 150 };
const NETSUITE_LIMIT = 5;
const SETTLED = ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'];
const RUN_FIELDS = `id status createdAt updatedAt steps { name system status attempts startedAt finishedAt lastError { code message } }`;

interface RunView {
  id: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  steps: { name: string; system: string; status: string; attempts: number; startedAt: string | null; finishedAt: string | null; lastError: { code: string; message: string } | null }[];
}

interface SimStats {
  requests: number;
  byRoute: Record<string, number>;
  concurrencyRejections: number;
  maxInFlight: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const f3 = (n: number) => n.toFixed(3);
const ms = (iso: string | null) => (iso ? Date.parse(iso) : NaN);

async function sim<T = any>(baseUrl: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}/__sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`/__sim/${path} -> ${response.status}`);
  return (await response.json()) as T;
}

function client(system: RunningSystem, token: string) {
  return async function gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string }[] }> {
    const response = await fetch(`${system.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as any;
  };
}

/** Closed Won deals not yet billed, of accounts not on credit hold; one per account first. */
async function readyOpportunities(salesforceUrl: string): Promise<string[]> {
  const state = await sim(salesforceUrl, 'state');
  const held = new Set(state.Account.filter((a: any) => a.Concord_Status__c === 'Credit Hold').map((a: any) => a.Id));
  const ready = state.Opportunity.filter((o: any) => o.IsWon && !o.Billing_Subscription_Id__c && !held.has(o.AccountId));
  const seen = new Set<string>();
  const first: string[] = [];
  const rest: string[] = [];
  for (const o of ready) {
    (seen.has(o.AccountId) ? rest : first).push(o.Id);
    seen.add(o.AccountId);
  }
  return [...first, ...rest];
}

/** Sum of the lengths of the union of intervals (time during which at least one was open). */
function covered(intervals: [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [start, end] = [-Infinity, -Infinity];
  for (const [s, e] of sorted) {
    if (s > end) {
      if (end > start) total += end - start;
      [start, end] = [s, e];
    } else end = Math.max(end, e);
  }
  if (end > start) total += end - start;
  return total;
}

/** Time-weighted in-flight counts of intervals within [from, to]: ms spent at each level. */
function levels(intervals: [number, number][], from: number, to: number): Map<number, number> {
  const events: [number, number][] = [];
  for (const [s, e] of intervals) {
    events.push([Math.max(s, from), 1], [Math.min(e, to), -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = new Map<number, number>();
  let level = 0;
  let at = from;
  for (const [t, d] of events) {
    out.set(level, (out.get(level) ?? 0) + Math.max(0, t - at));
    at = Math.max(at, t);
    level += d;
  }
  out.set(level, (out.get(level) ?? 0) + Math.max(0, to - at));
  return out;
}

/**
 * Counts and times the engine's store and queue calls, by wrapping the methods of the objects the
 * engine was given (a measurement aid only: nothing the engine does changes).
 */
function instrument(system: RunningSystem) {
  const ops = new Map<string, { n: number; ms: number }>();
  const note = (name: string, t: number) => {
    const o = ops.get(name) ?? { n: 0, ms: 0 };
    o.n += 1;
    o.ms += performance.now() - t;
    ops.set(name, o);
  };
  const store = system.orchestration.store as any;
  for (const name of ['get', 'save', 'lease', 'release', 'list', 'create']) {
    const original = store[name].bind(store);
    store[name] = async (...args: unknown[]) => {
      const t = performance.now();
      const result = await original(...args);
      note(`store.${name}`, t);
      if (name === 'lease' && result === false) note('store.lease refused', t);
      if (name === 'save' && result === null) note('store.save conflict', t);
      return result;
    };
  }
  const queues = system.orchestration.queues as any;
  const enqueue = queues.enqueue.bind(queues);
  queues.enqueue = async (lane: string, job: { reason: string }, delayMs = 0) => {
    const t = performance.now();
    await enqueue(lane, job, delayMs);
    note(`enqueue ${lane} ${job.reason.replace(/-.*$/, '')}${delayMs > 0 ? ' (delayed)' : ''}`, t);
  };
  return {
    reset: () => ops.clear(),
    report(runs: number): string {
      return [...ops]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([name, o]) => `${name} ${f1(o.n / runs)}/run avg ${f1(o.ms / o.n)} ms`)
        .join(', ');
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '80' },
      customers: { type: 'string', default: '400' },
      embedded: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const embedded = values.embedded!;
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = `concord-bench:${randomUUID()}`;

  const passed = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => v !== undefined && /^CONCORD_(CRM|BILLING|ERP)_CONCURRENCY$|^CONCORD_O2C_|^CONCORD_QUEUE_LOCK_MS$/.test(k)),
  ) as Record<string, string>;
  const config = loadConfig({
    CONCORD_JWT_SECRET: SECRET,
    NODE_ENV: 'test',
    ...passed,
    ...(embedded ? {} : { REDIS_URL: redisUrl, CONCORD_REDIS_PREFIX: prefix }),
  });
  const lanes = config.orchestration.concurrency;

  const netsuiteCalls: { end: number; durationMs: number; operation: string; status: number }[] = [];
  const allCalls: { end: number; call: VendorCall }[] = [];
  const system = await startSystem({
    config,
    logger: createLogger({ level: 'silent' }),
    ports: 'ephemeral',
    seed: buildSeed({ customers: Number(values.customers) }),
    onVendorCall: (call: VendorCall) => {
      allCalls.push({ end: Date.now(), call });
      if (call.vendor === 'netsuite') netsuiteCalls.push({ end: performance.now(), durationMs: call.durationMs, operation: call.operation, status: call.status });
    },
  });
  const probe = instrument(system);
  const redis = embedded ? null : new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  try {
    const token = await mintToken({ secret: SECRET, subject: 'bench', scopes: SCOPES });
    const gql = client(system, token);
    const sims = system.simulators;
    const ns = sims.netsuite!.url;
    await sim(sims.salesforce!.url, 'faults', { latencyMs: LATENCY.salesforce });
    await sim(sims.stripe!.url, 'faults', { latencyMs: LATENCY.stripe });
    await sim(ns, 'faults', { latencyMs: LATENCY.netsuite, concurrency: NETSUITE_LIMIT });

    const opportunities = await readyOpportunities(sims.salesforce!.url);
    if (opportunities.length < runs + 1) throw new Error(`only ${opportunities.length} ready deals; seed more --customers for --runs ${runs}`);

    console.log(
      `order-to-cash throughput, ${embedded ? 'embedded (in-memory engine)' : `Redis ${redisUrl} (prefix ${prefix})`}; ` +
        `lanes CRM ${lanes.CRM} BILLING ${lanes.BILLING} ERP ${lanes.ERP}`,
    );
    console.log(
      `simulator latency: Salesforce ${LATENCY.salesforce} ms, Stripe ${LATENCY.stripe} ms, ` +
        `NetSuite ${LATENCY.netsuite} ms with concurrency ${NETSUITE_LIMIT}`,
    );

    const start = (opportunityId: string, idempotencyKey: string) =>
      gql<{ startOrderToCash: RunView }>(
        `mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { ${RUN_FIELDS} } }`,
        { input: { opportunityId, idempotencyKey } },
      );
    const bench = randomUUID().slice(0, 8);

    // ---------------------------------------------------------------- phase 1: one run alone
    const before1 = await sim<SimStats>(ns, 'stats');
    const t1 = Date.now();
    const started1 = await start(opportunities[0], `bench-${bench}-calibration`);
    const id1 = started1.data?.startOrderToCash?.id;
    if (!id1) throw new Error(`calibration run did not start: ${JSON.stringify(started1.errors)}`);
    let alone: RunView | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
      alone = (await gql<{ orderToCashRun: RunView }>(`query($id: ID!) { orderToCashRun(id: $id) { ${RUN_FIELDS} } }`, { id: id1 })).data?.orderToCashRun;
      if (alone && SETTLED.includes(alone.status)) break;
    }
    if (!alone || alone.status !== 'COMPLETED') throw new Error(`calibration run ended ${alone?.status}: ${JSON.stringify(alone)}`);
    const after1 = await sim<SimStats>(ns, 'stats');
    const callsPerRun = after1.requests - before1.requests;
    const busyMs = callsPerRun * LATENCY.netsuite;
    const bound = NETSUITE_LIMIT / (busyMs / 1000);
    const wall1 = ms(alone.updatedAt) - t1;
    const routes = Object.entries(after1.byRoute)
      .map(([route, n]) => [route, n - (before1.byRoute[route] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([route, n]) => `${route} x${n}`)
      .join(', ');
    console.log('phase 1: one run alone');
    console.log(`  wall time ${wall1} ms (startOrderToCash sent -> COMPLETED)`);
    console.log(
      '  steps: ' +
        alone.steps.map((s) => `${s.name}(${s.system}) ${ms(s.finishedAt) - ms(s.startedAt)} ms`).join(', ') +
        '  [readOpportunity runs inside the mutation]',
    );
    const calls1 = allCalls.filter((c) => c.end >= t1 && c.end <= ms(alone!.updatedAt) + 5);
    console.log(
      '  vendor calls (client side, ms after start): ' +
        calls1.map(({ end, call }) => `${call.vendor}.${call.operation} @${Math.round(end - call.durationMs - t1)}+${Math.round(call.durationMs)}`).join(', '),
    );
    console.log(`  NetSuite calls per run ${callsPerRun} (${routes})`);
    console.log(`  NetSuite busy time per run ${callsPerRun} x ${LATENCY.netsuite} ms = ${busyMs} ms`);
    console.log(`  bound from NetSuite's concurrency ${NETSUITE_LIMIT} / ${f3(busyMs / 1000)} s = ${f2(bound)} runs/s`);

    // ---------------------------------------------------------------- phase 2: N runs at once
    const deals = opportunities.slice(1, runs + 1);
    const before2 = await sim<SimStats>(ns, 'stats');
    const redisBefore = redis ? Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]) : 0;
    const callsBefore = netsuiteCalls.length;
    const backlog: { t: number; erp: { waiting: number; active: number; delayed: number }; billing: { waiting: number; active: number }; crm: { waiting: number; active: number } }[] = [];
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const perf0 = performance.now();

    probe.reset();
    const t2 = Date.now();
    const results = await Promise.all(deals.map((deal, i) => start(deal, `bench-${bench}-${i}`)));
    const mutationsDone = Date.now() - t2;
    const ids = new Set<string>();
    const startErrors: string[] = [];
    results.forEach((r, i) => {
      const id = r.data?.startOrderToCash?.id;
      if (id) ids.add(id);
      else startErrors.push(`${deals[i]}: ${JSON.stringify(r.errors).slice(0, 200)}`);
    });

    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const b = await system.orchestration.queues.backlog().catch(() => null);
        if (b) backlog.push({ t: performance.now(), erp: b.ERP, billing: b.BILLING, crm: b.CRM });
        await sleep(100);
      }
    })();

    let views = new Map<string, RunView>();
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(250)) {
      const seen = new Map<string, RunView>();
      let after: string | null = null;
      for (;;) {
        const page: any = await gql(
          `query($after: String) { orderToCashRuns(first: 200, after: $after) { edges { node { id status updatedAt } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
        const conn = page.data?.orderToCashRuns;
        if (!conn) break;
        for (const { node } of conn.edges) if (ids.has(node.id)) seen.set(node.id, node);
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      views = seen;
      if (views.size === ids.size && [...views.values()].every((v) => SETTLED.includes(v.status))) break;
    }
    const perf1 = performance.now();
    sampling = false;
    await sampler;
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    loopDelay.disable();
    const after2 = await sim<SimStats>(ns, 'stats');
    const redisAfter = redis ? Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]) : 0;

    // Full detail of every run, once, for the analysis.
    const detail: RunView[] = [];
    for (const id of ids) {
      const r = await gql<{ orderToCashRun: RunView }>(`query($id: ID!) { orderToCashRun(id: $id) { ${RUN_FIELDS} } }`, { id });
      if (r.data?.orderToCashRun) detail.push(r.data.orderToCashRun);
    }
    const completed = detail.filter((r) => r.status === 'COMPLETED');
    const notCompleted = detail.filter((r) => r.status !== 'COMPLETED');
    const unsettled = detail.filter((r) => !SETTLED.includes(r.status)).length;
    if (completed.length === 0) throw new Error(`no run COMPLETED: ${JSON.stringify(notCompleted.slice(0, 3))}`);
    const lastDone = Math.max(...completed.map((r) => ms(r.updatedAt)));
    const wall2 = (lastDone - t2) / 1000;
    const rate = runs / wall2;
    const calls2 = after2.requests - before2.requests;

    console.log(`phase 2: ${runs} runs started at once`);
    console.log(`  startOrderToCash: ${ids.size} accepted in ${mutationsDone} ms${startErrors.length ? `, ${startErrors.length} refused: ${startErrors.slice(0, 3).join('; ')}` : ''}`);
    console.log(`  settled: ${completed.length} COMPLETED${unsettled ? `, ${unsettled} STILL RUNNING after 120 s` : ''}${notCompleted.length ? `, NOT COMPLETED: ${notCompleted.map((r) => `${r.id} ${r.status} ${JSON.stringify(r.steps.find((s) => s.lastError)?.lastError ?? null)}`).join('; ')}` : ''}`);
    console.log(`  wall time ${f2(wall2)} s (first start -> last COMPLETED), ${f2(rate)} runs/s`);
    console.log(
      `  NetSuite: ${calls2} calls (${f2(calls2 / runs)} per run), concurrencyRejections ${after2.concurrencyRejections - before2.concurrencyRejections}` +
        ` (total since start ${after2.concurrencyRejections}), maxInFlight ${after2.maxInFlight}`,
    );

    // ------------------------------------------------------------- where the ERP lane's time went
    const from = perf0;
    const span = lastDone - t2; // the measured wall, on the performance clock from perf0
    const nsIntervals = netsuiteCalls.slice(callsBefore).map((c) => [c.end - c.durationMs, c.end] as [number, number]);
    const nsCallMs = nsIntervals.reduce((a, [s, e]) => a + (e - s), 0);
    const lvl = levels(nsIntervals, from, from + span);
    const inFlightAvg = [...lvl].reduce((a, [level, t]) => a + level * t, 0) / span;
    const atLimit = (lvl.get(NETSUITE_LIMIT) ?? 0) / span;
    console.log('analysis (phase 2)');
    console.log(
      `  NetSuite slots: ${f1(calls2 * LATENCY.netsuite / 1000)} s simulated busy of ${f1((NETSUITE_LIMIT * span) / 1000)} s available ` +
        `(${f1((100 * calls2 * LATENCY.netsuite) / (NETSUITE_LIMIT * span))}%); client-side call time ${f1(nsCallMs / 1000)} s, ` +
        `avg ${f1(nsCallMs / Math.max(1, nsIntervals.length))} ms per call; avg in flight ${f2(inFlightAvg)} of ${NETSUITE_LIMIT}, ` +
        `all ${NETSUITE_LIMIT} busy ${f1(100 * atLimit)}% of the time, none busy ${f1((100 * (lvl.get(0) ?? 0)) / span)}%`,
    );
    const byOp = new Map<string, number[]>();
    for (const c of netsuiteCalls.slice(callsBefore)) byOp.set(c.operation, [...(byOp.get(c.operation) ?? []), c.durationMs]);
    console.log(`  NetSuite call time by operation (client side, avg ms): ${[...byOp].map(([op, d]) => `${op} ${f1(d.reduce((a, b) => a + b, 0) / d.length)}`).join(', ')}`);
    const stepMs = (name: string) => completed.map((r) => r.steps.find((s) => s.name === name)!).map((s) => ms(s.finishedAt) - ms(s.startedAt));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const erpStepSum = [...stepMs('erpCustomer'), ...stepMs('erpPosting')].reduce((a, b) => a + b, 0);
    console.log(
      `  ERP steps: erpCustomer avg ${f1(avg(stepMs('erpCustomer')))} ms, erpPosting avg ${f1(avg(stepMs('erpPosting')))} ms ` +
        `(NetSuite alone: ${2 * LATENCY.netsuite} and ${3 * LATENCY.netsuite} ms); steps hold ${f1(erpStepSum / 1000)} s of ` +
        `${f1((lanes.ERP * span) / 1000)} s ERP lane slot time (${f1((100 * erpStepSum) / (lanes.ERP * span))}%)`,
    );
    console.log(`  other steps (avg): ${['billingCustomer', 'contract', 'invoice', 'crmWriteBack'].map((n) => `${n} ${f1(avg(stepMs(n)))} ms`).join(', ')}`);
    // Waiting between steps: from one step's end to the next one's start, per hand-over.
    const gaps = new Map<string, number[]>();
    for (const r of completed) {
      for (let i = 1; i < r.steps.length; i++) {
        const key = `${r.steps[i - 1].name}->${r.steps[i].name}`;
        gaps.set(key, [...(gaps.get(key) ?? []), ms(r.steps[i].startedAt) - ms(r.steps[i - 1].finishedAt)]);
      }
    }
    console.log(`  waits between steps (avg ms): ${[...gaps].map(([k, v]) => `${k} ${f1(avg(v))}`).join(', ')}`);
    const firstErp = Math.min(...completed.map((r) => ms(r.steps[1].startedAt)));
    const lastErp = Math.max(...completed.map((r) => ms(r.steps[5].finishedAt)));
    console.log(
      `  timeline (s from first start): all started ${f2(mutationsDone / 1000)}, first ERP step ${f2((firstErp - t2) / 1000)}, ` +
        `last erpCustomer done ${f2((Math.max(...completed.map((r) => ms(r.steps[1].finishedAt))) - t2) / 1000)}, ` +
        `last erpPosting done ${f2((lastErp - t2) / 1000)}, last COMPLETED ${f2(wall2)}`,
    );
    // The wall time, taken apart: before the first ERP step, the ERP window, after the last posting.
    // Inside the window, the NetSuite slots (5 x window) are either in a call (150 ms of simulated
    // latency, or the rest of the call's client-side time) or idle (the lane's work between calls).
    const window = lastErp - firstErp;
    const nominal = calls2 * LATENCY.netsuite;
    const overCalls = nsCallMs - nominal;
    const suiteqlOver = (byOp.get('suiteql') ?? []).reduce((a, d) => a + d - LATENCY.netsuite, 0);
    const idle = NETSUITE_LIMIT * window - nsCallMs;
    const w = (slotMs: number) => f2(slotMs / NETSUITE_LIMIT / 1000);
    console.log(
      `  wall ${f2(wall2)} s = ideal ${w(nominal)} s (${runs} x ${busyMs} ms / ${NETSUITE_LIMIT}) + before first ERP step ${f2((firstErp - t2) / 1000)} s ` +
        `+ after last posting ${f2((lastDone - lastErp) / 1000)} s + NetSuite calls over ${LATENCY.netsuite} ms ${w(overCalls)} s ` +
        `(suiteql ${w(suiteqlOver)} s) + NetSuite slots idle in the ERP window ${w(idle)} s` +
        (lanes.ERP === NETSUITE_LIMIT ? ` (inside ERP steps ${w(erpStepSum - nsCallMs)} s, between ERP steps ${w(idle - (erpStepSum - nsCallMs))} s)` : ''),
    );
    const starved = backlog.filter((b) => b.erp.waiting + b.erp.active < lanes.ERP).length;
    const erpAvg = avg(backlog.map((b) => b.erp.active));
    console.log(
      `  ERP lane samples (${backlog.length}, every 100 ms): avg active ${f2(erpAvg)} of ${lanes.ERP}, avg waiting ${f1(avg(backlog.map((b) => b.erp.waiting)))}, ` +
        `delayed max ${Math.max(0, ...backlog.map((b) => b.erp.delayed))}; fewer than ${lanes.ERP} ERP jobs queued+active in ${starved} samples; ` +
        `BILLING avg active ${f2(avg(backlog.map((b) => b.billing.active)))} waiting ${f1(avg(backlog.map((b) => b.billing.waiting)))}, ` +
        `CRM avg active ${f2(avg(backlog.map((b) => b.crm.active)))} waiting ${f1(avg(backlog.map((b) => b.crm.waiting)))}`,
    );
    const retried = completed.flatMap((r) => r.steps.filter((s) => s.attempts > 1).map((s) => `${s.name}:${s.lastError?.code}`));
    if (retried.length) console.log(`  steps retried: ${retried.length} (${[...new Set(retried)].join(', ')})`);
    console.log(`  engine store/queue calls: ${probe.report(runs)}`);
    const wallMs = perf1 - perf0;
    console.log(
      `  this process: event loop ${f1(100 * elu.utilization)}% busy, loop delay p50 ${f1(loopDelay.percentile(50) / 1e6)} ms ` +
        `p99 ${f1(loopDelay.percentile(99) / 1e6)} ms max ${f1(loopDelay.max / 1e6)} ms; CPU ${f1((cpu.user + cpu.system) / 1000 / wallMs * 100)}% of one core` +
        (redis ? `; Redis commands ${redisAfter - redisBefore} (${f1((redisAfter - redisBefore) / runs)} per run, incl. polling)` : ''),
    );

    console.log(`order-to-cash runs/s=${f2(rate)} bound=${f2(bound)} ratio=${f2(rate / bound)}`);
  } finally {
    await system.close();
    if (redis) {
      let deleted = 0;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) deleted += await redis.del(...keys);
      } while (cursor !== '0');
      console.log(`(deleted ${deleted} Redis keys of ${prefix})`);
      redis.disconnect();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
