/**
 * `npm run bench:noisy-neighbour`: does one caller within every limit stall the others? A benign
 * caller sends a small query (`{ customer(id) { id name } }`) one request after another, first
 * alone, then while an attacker sends the most expensive documents admission still admits (same
 * field repeated up to the overlap bound, nested repeats, the field-count bound, unique aliases of
 * paths across subgraphs up to the subgraph-fetch bound; each text unique, so no cache helps) at
 * its full rate limit. Prints first how long one request of each such document blocks the event
 * loop, then the benign caller's p50/p99 in both phases, the ratio of the p99s, the attacker's
 * admitted and refused counts, and the gateway process's longest event-loop stall in each phase.
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

/** A named attack document: `make(n)` is unique for each n (comments and aliases), so no cache helps. */
interface AttackDocument {
  name: string;
  make: (n: number) => string;
}

/**
 * Documents at the admission bounds (DEFAULT_LIMITS): the worst a caller can send and be served.
 * Two kinds of CPU: validation (same-named fields, bounded by the overlap count) and query planning
 * (paths into other subgraphs, bounded by the subgraph-fetch estimate; unique alias names defeat
 * Apollo's plan cache, which is keyed by the operation's text).
 */
function attackDocuments(customerId: string): AttackDocument[] {
  const nest = (k: number, levels: number): string => (levels === 0 ? 'id' : `parent { ${nest(k, levels - 1)} } `.repeat(k));
  const at = (body: string) => (n: number) => `# attacker ${n} ${Math.random()}\n{ customer(id: "${customerId}") { ${body} } }`;
  const aliased = (prefix: string, n: number, body: string, k: number) => Array.from({ length: k }, (_, i) => `${prefix}${n}_${i}: customer(id: "${customerId}") { ${body} }`).join(' ');
  // customer -> invoices (billing) -> erpPosting (ERP), and -> customer -> erp (ERP): 3 fetches an alias.
  const chain = 'invoices { id total { amount } erpPosting { status } customer { erp { creditHold } } }';
  const view =
    'id name domain contracts { id status items { productCode quantity unitPrice { amount currency } } } invoices { id number status total { amount currency } erpPosting { status documentNumber } } balance { amount currency }';
  return [
    { name: '31 same-named fields (930 pairs)', make: at(nest(31, 1)) },
    { name: 'repeats on three levels', make: at(nest(3, 3)) },
    { name: 'two repeats on four levels', make: at(nest(2, 4)) },
    {
      name: '20 aliases, 5 levels deep',
      make: at(Array.from({ length: 20 }, (_, i) => `a${i}: parent { id name domain parent { id name domain parent { id name domain parent { id name domain parent { id name } } } } }`).join(' ')),
    },
    // At the subgraph-fetch bound (8): 1 + 2 x 3 + 1.
    { name: 'unique aliases across subgraphs (8 fetches)', make: (n) => `{ ${aliased('c', n, chain, 2)} ${aliased('e', n, 'erp { creditHold }', 1)} }` },
    // Most of the unified view under a unique alias, and ERP records: 1 + 4 + 3 = 8.
    { name: 'unified view, unique aliases (8 fetches)', make: (n) => `{ ${aliased('v', n, view, 1)} ${aliased('e', n, 'erp { creditHold }', 3)} }` },
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
      const { status, body } = await post(attackerToken, doc.make(i));
      if (status !== 200 || body.errors) throw new Error(`attack document "${doc.name}" is not admitted: ${status} ${JSON.stringify(body.errors).slice(0, 300)}`);
    }

    // How long one request of each document blocks the gateway's event loop (nothing else runs):
    // the longest delay the loop saw while it was served, each text unique.
    console.log('event-loop blocking of one admitted request, each text unique (10 each)');
    let serial = 1_000_000;
    for (const doc of documents) {
      const stalls: number[] = [];
      for (let i = 0; i < 10; i++) {
        const probe = monitorEventLoopDelay({ resolution: 1 });
        probe.enable();
        const { status } = await post(attackerToken, doc.make(serial++));
        probe.disable();
        if (status !== 200) throw new Error(`attack document "${doc.name}" was refused while probing: ${status}`);
        stalls.push(probe.max / 1e6);
      }
      stalls.sort((a, b) => a - b);
      console.log(`  ${doc.name.padEnd(48)} p50 ${percentile(stalls, 50).toFixed(1).padStart(6)} ms  max ${stalls[stalls.length - 1].toFixed(1).padStart(6)} ms`);
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
        const doc = documents[n % documents.length].make(n);
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
