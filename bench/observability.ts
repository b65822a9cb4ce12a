/**
 * `npm run bench:observability`: what metrics and tracing cost. Prints
 *
 *   - the unified view of 50 customers, gateway p50/p95, with spans not recorded (the default,
 *     OTEL_TRACES_EXPORTER=none: ids still propagated) and with every span recorded (an in-memory
 *     exporter: the SDK's whole cost, without the network), and the spans one request makes;
 *   - the cost of one span and of one metric observation, in microseconds;
 *   - /metrics after that traffic and some order-to-cash runs: size, series, scrape time.
 *
 * Options: --rounds N (requests per configuration, default 40)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import { createTracing, type Tracing } from '../core/tracing';
import { createMetrics } from '../observability/metrics';
import { SCOPES, mintToken } from '../gateway/token';
import { startSystem, type RunningSystem } from '../system';

const SECRET = 'concord-bench-secret-0123456789abcdef';
const QUERY = readFileSync(path.join(__dirname, '..', 'examples', 'unified-view.graphql'), 'utf8');
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const f1 = (n: number) => n.toFixed(1);

async function withSystem<T>(tracing: Tracing, work: (system: RunningSystem, token: string) => Promise<T>): Promise<T> {
  const config = loadConfig({ CONCORD_JWT_SECRET: SECRET, NODE_ENV: 'test', CONCORD_RATE_LIMIT_RPS: '0', CONCORD_POLL_INTERVAL_MS: '0' });
  const system = await startSystem({ config, logger: createLogger({ level: 'silent' }), ports: 'ephemeral', tracing });
  try {
    return await work(system, await mintToken({ secret: SECRET, subject: 'bench', scopes: SCOPES }));
  } finally {
    await system.close();
  }
}

async function post(system: RunningSystem, token: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const response = await fetch(`${system.gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 300));
  return body.data;
}

async function latencies(system: RunningSystem, token: string, rounds: number): Promise<number[]> {
  await post(system, token, QUERY, { first: 50 });
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await post(system, token, QUERY, { first: 50 });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

function micro(): { spanUs: number; observationUs: number } {
  const tracing = createTracing({ exporter: 'memory' });
  const n = 50_000;
  let started = performance.now();
  const root = tracing.startSpan('root');
  tracing.run(root, () => {
    for (let i = 0; i < n; i++) tracing.startSpan('child', { attributes: { 'concord.vendor': 'stripe', 'http.response.status_code': 200 } }).end();
  });
  const spanUs = ((performance.now() - started) * 1000) / n;
  const metrics = createMetrics({ processMetrics: false });
  started = performance.now();
  for (let i = 0; i < n; i++) metrics.vendorCall({ system: 'BILLING', vendor: 'stripe', operation: 'customers.search', status: 200, durationMs: 12 });
  const observationUs = ((performance.now() - started) * 1000) / n;
  return { spanUs, observationUs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '40' } } });
  const rounds = Number(values.rounds);
  const out = (line = '') => process.stdout.write(`${line}\n`);

  const quiet = await withSystem(createTracing({ exporter: 'none' }), (system, token) => latencies(system, token, rounds));
  const recordingTracing = createTracing({ exporter: 'memory' });
  const { recorded, spansPerRequest, scrape } = await withSystem(recordingTracing, async (system, token) => {
    const recorded = await latencies(system, token, rounds);
    recordingTracing.memory!.reset();
    await post(system, token, QUERY, { first: 50 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const spansPerRequest = recordingTracing.memory!.getFinishedSpans().length;
    // Some order-to-cash runs, so that run, step and queue families have series.
    const state = (await (await fetch(`${system.simulators.salesforce!.url}/__sim/state`)).json()) as { Opportunity: { Id: string; IsWon: boolean; Billing_Subscription_Id__c?: string }[] };
    const deals = state.Opportunity.filter((o) => o.IsWon && !o.Billing_Subscription_Id__c).slice(0, 5);
    const runs = await Promise.all(deals.map((d) => post(system, token, 'mutation($i: StartOrderToCashInput!) { startOrderToCash(input: $i) { id } }', { i: { opportunityId: d.Id, idempotencyKey: `bench-${d.Id}` } })));
    for (const run of runs) {
      for (let i = 0; i < 100; i++) {
        const { orderToCashRun } = await post(system, token, 'query($id: ID!) { orderToCashRun(id: $id) { status } }', { id: run.startOrderToCash.id });
        if (['COMPLETED', 'DEAD_LETTERED'].includes(orderToCashRun.status)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const times: number[] = [];
    let text = '';
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      text = await (await fetch(`${system.gateway.url}/metrics`)).text();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const series = text.split('\n').filter((l) => l && !l.startsWith('#'));
    return {
      recorded,
      spansPerRequest,
      scrape: { bytes: Buffer.byteLength(text), series: series.length, concord: series.filter((l) => l.startsWith('concord_')).length, p50: percentile(times, 50), p95: percentile(times, 95) },
    };
  });
  await recordingTracing.shutdown();
  const { spanUs, observationUs } = micro();

  out(`unified view of 50 customers, ${rounds} requests each (2-core machine; gateway, subgraphs and simulators in one process):`);
  out(`  spans not recorded (default)   p50 ${f1(percentile(quiet, 50))} ms   p95 ${f1(percentile(quiet, 95))} ms`);
  out(`  every span recorded            p50 ${f1(percentile(recorded, 50))} ms   p95 ${f1(percentile(recorded, 95))} ms   (${spansPerRequest} spans per request)`);
  out(`one span (start + end, recorded): ${f1(spanUs)} us; one vendor-call observation (counter + histogram + window): ${f1(observationUs)} us`);
  out(`/metrics after that traffic and 5 runs: ${(scrape.bytes / 1024).toFixed(1)} KiB, ${scrape.series} series (${scrape.concord} concord_*), scrape p50 ${f1(scrape.p50)} ms p95 ${f1(scrape.p95)} ms`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
