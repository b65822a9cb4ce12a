/**
 * `npm run bench:noisy-neighbour`: does one caller within every limit stall the others? A benign
 * caller sends a small query (`{ customer(id) { id name } }`) one request after another, first
 * alone, then while an attacker sends the most expensive documents admission still admits (same
 * field repeated up to the overlap bound, nested repeats, the field-count bound; each text unique,
 * so no cache helps) at its full rate limit. Prints the benign caller's p50/p99 in both phases,
 * the ratio of the p99s, the attacker's admitted and refused counts, and the gateway process's
 * longest event-loop stall in each phase.
 *
 * Options: --seconds N (per phase, default 10), --rps N (the attacker's rate; default: the rate limit)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import { SCOPES, mintToken } from '../gateway/token';
import { buildSeed } from '../simulators/common/seed';
import { startSystem } from '../system';

const SECRET = 'concord-bench-secret-0123456789abcdef';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Documents at the admission bounds (DEFAULT_LIMITS): the worst a caller can send and be served. */
function attackDocuments(customerId: string): ((n: number) => string)[] {
  const nest = (k: number, levels: number): string => (levels === 0 ? 'id' : `parent { ${nest(k, levels - 1)} } `.repeat(k));
  const at = (body: string) => (n: number) => `# attacker ${n} ${Math.random()}\n{ customer(id: "${customerId}") { ${body} } }`;
  return [
    at(nest(31, 1)), // 31 same-named fields: 930 pairs with their children, under the 1000 bound
    at(nest(3, 3)), // repeats on three levels
    at(nest(2, 4)), // two repeats on four levels
    at(Array.from({ length: 24 }, (_, i) => `a${i}: parent { id name domain parent { id name domain parent { id name domain parent { id name domain parent { id name } } } } }`).slice(0, 20).join(' ')), // aliases and fields near their bounds
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rps: { type: 'string' } } });
  const seconds = Number(values.seconds);
  const config = loadConfig({ CONCORD_JWT_SECRET: SECRET, NODE_ENV: 'test' });
  const attackerRps = values.rps ? Number(values.rps) : config.security.rateLimitPerSecond;
  const seed = buildSeed();
  const system = await startSystem({ config, logger: createLogger({ level: 'silent' }), ports: 'ephemeral', seed });
  const customerId = seed.customers[1].crmId;
  const benignToken = await mintToken({ secret: SECRET, subject: 'benign', scopes: SCOPES });
  const attackerToken = await mintToken({ secret: SECRET, subject: 'attacker', scopes: SCOPES });
  const post = async (token: string, query: string) => {
    const response = await fetch(`${system.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
  };
  const benignQuery = `{ customer(id: "${customerId}") { id name } }`;

  const benign = async (ms: number): Promise<number[]> => {
    const times: number[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const started = performance.now();
      const { body } = await post(benignToken, benignQuery);
      if (body.errors) throw new Error(`benign request failed: ${JSON.stringify(body.errors).slice(0, 300)}`);
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b);
  };

  try {
    // Warm-up: plans, connections, loaders.
    await benign(1000);
    const documents = attackDocuments(customerId);
    // Every attack document must be one admission serves, or it measures nothing.
    for (const [i, doc] of documents.entries()) {
      const { status, body } = await post(attackerToken, doc(i));
      if (status !== 200 || body.errors) throw new Error(`attack document ${i} is not admitted: ${status} ${JSON.stringify(body.errors).slice(0, 300)}`);
    }

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const alone = await benign(seconds * 1000);
    loop.disable();
    const aloneStall = loop.max / 1e6;
    loop.reset();

    let admitted = 0;
    let refused = 0;
    let n = 0;
    let attacking = true;
    const inFlight = new Set<Promise<void>>();
    const attacker = (async () => {
      const interval = 1000 / attackerRps;
      let next = performance.now();
      while (attacking) {
        const doc = documents[n % documents.length](n);
        n += 1;
        const request = post(attackerToken, doc)
          .then(({ status }) => void (status === 200 ? (admitted += 1) : (refused += 1)))
          .catch(() => void (refused += 1));
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
        next += interval;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
      }
    })();
    loop.enable();
    const attacked = await benign(seconds * 1000);
    loop.disable();
    attacking = false;
    await attacker;
    await Promise.all(inFlight);

    const row = (name: string, t: number[], stall: number) =>
      `${name.padEnd(26)} requests ${String(t.length).padStart(5)}  p50 ${percentile(t, 50).toFixed(1).padStart(6)} ms  p99 ${percentile(t, 99).toFixed(1).padStart(6)} ms  longest event-loop stall ${stall.toFixed(0)} ms`;
    console.log(`benign caller, ${seconds} s per phase; attacker at ${attackerRps} requests/s (its rate limit) with documents at the admission bounds`);
    console.log(row('alone', alone, aloneStall));
    console.log(row('with the attacker', attacked, loop.max / 1e6));
    console.log(`attacker: ${admitted} admitted, ${refused} refused (rate limit or bounds)`);
    console.log(`p99 ratio (with attacker / alone): ${(percentile(attacked, 99) / percentile(alone, 99)).toFixed(2)}`);
  } finally {
    await system.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
