/**
 * `npm run bench:unified-view`: the unified customer view (examples/unified-view.graphql) for 50 and
 * 200 customers. Prints vendor calls per system per request and gateway latency p50/p95, for
 * Concord's batched loaders and for a per-customer baseline (the same system with batching off,
 * one vendor read per entity) measured in the same run, and the ratio of their vendor calls. Both
 * with the entity cache off: they measure what one read costs the vendors.
 *
 * Then the entity cache (bench/cache-figures.ts): vendor calls of the 50-customer view cold, warm,
 * and right after a change made behind Concord's back in each vendor, with the staleness measured.
 * The vendors are the ones CONCORD_CRM / CONCORD_BILLING / CONCORD_ERP choose, simulated.
 *
 * Options: --rounds N (requests per configuration, default 20), --sizes 50,200, --cache-only,
 * --poll-ms N (change polling interval for the cache figures, default Concord's 5000)
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import { SCOPES, mintToken } from '../gateway/token';
import { buildSeed } from '../simulators/common/seed';
import { startSystem } from '../system';
import { cacheFigures } from './cache-figures';

const SECRET = 'concord-bench-secret-0123456789abcdef';
const QUERY = readFileSync(path.join(__dirname, '..', 'examples', 'unified-view.graphql'), 'utf8');

interface Result {
  callsPerRequest: Record<string, number>;
  total: number;
  p50: number;
  p95: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(customers: number, batch: boolean, rounds: number): Promise<Result> {
  // The vendors chosen in the environment (CONCORD_CRM, CONCORD_BILLING, CONCORD_ERP), simulated.
  const choice = Object.fromEntries(['CONCORD_CRM', 'CONCORD_BILLING', 'CONCORD_ERP'].filter((name) => process.env[name]).map((name) => [name, process.env[name]!]));
  const config = loadConfig({ CONCORD_JWT_SECRET: SECRET, NODE_ENV: 'test', CONCORD_ENTITY_CACHE_TTL_S: '0', ...choice });
  const system = await startSystem({
    config,
    logger: createLogger({ level: 'silent' }),
    ports: 'ephemeral',
    seed: buildSeed({ customers }),
    batch,
  });
  try {
    const token = await mintToken({ secret: SECRET, subject: 'bench', scopes: SCOPES });
    const run = async () => {
      const started = performance.now();
      const response = await fetch(`${system.gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: QUERY, variables: { first: customers } }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      const elapsed = performance.now() - started;
      if (body.errors || body.data?.customers.edges.length !== customers) {
        throw new Error(`bad response: ${JSON.stringify(body.errors ?? 'wrong count').slice(0, 300)}`);
      }
      return elapsed;
    };
    await run(); // warm-up: plans and connections
    const sims = system.simulators;
    await Promise.all(Object.values(sims).map((sim) => sim!.reset()));
    const latencies: number[] = [];
    for (let i = 0; i < rounds; i++) latencies.push(await run());
    latencies.sort((a, b) => a - b);
    const callsPerRequest: Record<string, number> = {};
    for (const [name, sim] of Object.entries(sims)) callsPerRequest[name] = sim!.stats().requests / rounds;
    const total = Object.values(callsPerRequest).reduce((a, b) => a + b, 0);
    return { callsPerRequest, total, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
  } finally {
    await system.close();
  }
}

function row(label: string, r: Result): string {
  const calls = Object.entries(r.callsPerRequest).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(' ');
  return `  ${label.padEnd(22)} calls/request ${r.total.toFixed(1).padStart(6)} (${calls})  latency p50 ${r.p50.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '20' },
      sizes: { type: 'string', default: '50,200' },
      'cache-only': { type: 'boolean', default: false },
      'poll-ms': { type: 'string', default: '5000' },
    },
  });
  const rounds = Number(values.rounds);
  const sizes = values['cache-only'] ? [] : values.sizes!.split(',').map(Number);
  console.log(`unified customer view, ${rounds} requests per configuration, simulators without added latency; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const customers of sizes) {
    const batched = await measure(customers, true, rounds);
    const baseline = await measure(customers, false, Math.max(3, Math.floor(rounds / 4)));
    console.log(`${customers} customers`);
    console.log(row('concord (batched)', batched));
    console.log(row('per-customer baseline', baseline));
    console.log(
      `  vendor calls concord/baseline = ${(batched.total / baseline.total).toFixed(3)}  ` +
        `(baseline makes ${(baseline.total / batched.total).toFixed(1)}x the calls); ` +
        `latency p50 concord/baseline = ${(batched.p50 / baseline.p50).toFixed(2)}`,
    );
  }
  await cacheFigures({ secret: SECRET, query: QUERY, customers: 50, rounds, pollMs: Number(values['poll-ms']) });
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
