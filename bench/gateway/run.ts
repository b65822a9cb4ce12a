/**
 * `npm run bench:gateway`: Concord's gateway side by side with bare @apollo/gateway and Hive Gateway,
 * on one machine, on the same work (bench/README.md has the method and the figures).
 *
 *   subgraphs   one process (bench/gateway/subgraphs.ts): accounts, products, inventory, reviews
 *   gateways    one process each (bench/gateway/gateway-process.ts), all over the same supergraph:
 *               (a) concord         createGateway, auth required + limits + rate limit + signing
 *               (b) apollo-gateway  @apollo/gateway on @apollo/server, startStandaloneServer defaults
 *               (c) hive-gateway    @graphql-hive/gateway's createGatewayRuntime on node:http
 *   load        autocannon in its own process (bench/gateway/load.ts), every answer checked
 *
 * With two or more CPUs and taskset, each gateway is pinned to the same one CPU (the last) and the
 * subgraphs and load to the others, so every gateway has the same CPU budget: one core. The
 * gateways' CPU use during a round is printed, to show that the gateway was the bottleneck.
 *
 * Order: every gateway answers the query once and must give the expected answer (else the run
 * stops); then a warm-up per gateway; then `--rounds` rounds, each running a, b, c in turn
 * (a short warm-up, then `--seconds` measured). Figures per gateway: the median of the rounds, with
 * the min-max spread. The last line is `concord/apollo-gateway=R1 concord/hive-gateway=R2`, the
 * ratios of the median requests/s.
 *
 * Every gateway's subgraph fetches per request are printed (`fetches/req`): Concord and Hive
 * Gateway share identical fetches in flight, @apollo/gateway does not. --no-dedup turns it off
 * in Concord (CONCORD_FETCH_DEDUP=off).
 *
 * --overload: instead of the rounds, Concord with its default bound on executions in flight
 * (gateway/overload.ts) and Concord without one, each at 10 and then 100 connections for
 * `--seconds`: served requests/s, p99 of the served answers, and the 503s shed (and how fast).
 * The last line is `overload: concord p99@10=... p99@100=... shed@100=... | concord-unbounded ...`.
 *
 * Options: --rounds 5, --seconds 10, --warmup 15 (first warm-up, s), --round-warmup 2,
 *          --connections 32, --gateways concord,apollo-gateway,hive-gateway, --no-pin,
 *          --no-memo (subgraphs execute every request), --no-dedup, --overload,
 *          --overload-connections 10,100,
 *          --profile <dir> (V8 CPU profiles of the gateways named by --profile-gateways,
 *          default concord), --json <file>
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken } from '../../gateway/token';
import type { LoadJob, LoadResult } from './load';
import { ensurePeersInstalled } from './peers';
import { canPin, cpuSeconds, listening, nextMessage, peakRss, startChild, stopChild } from './processes';
import { fixed, formatReport, ratioLine, summarise, type RoundFigures } from './report';
import { BENCH_QUERY, composeBenchSupergraph, expectedResult } from './schema';
import { GATEWAY_KINDS, type GatewayKind, type GatewayStartOptions } from './servers/types';

const SUBGRAPH_SECRET = 'bench-subgraph-secret-0123456789abcdef';
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '15' },
    'round-warmup': { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    gateways: { type: 'string', default: GATEWAY_KINDS.join(',') },
    tokens: { type: 'string', default: '1000' },
    'no-pin': { type: 'boolean', default: false },
    'no-memo': { type: 'boolean', default: false },
    'no-dedup': { type: 'boolean', default: false },
    overload: { type: 'boolean', default: false },
    'overload-connections': { type: 'string', default: '10,100' },
    profile: { type: 'string' },
    'profile-gateways': { type: 'string', default: 'concord' },
    json: { type: 'string' },
  },
});

const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const roundWarmup = Number(values['round-warmup']);
const connections = Number(values.connections);
const overload = values.overload!;
const kinds = (overload ? ['concord'] : values.gateways!.split(',')) as GatewayKind[];
for (const kind of kinds) if (!GATEWAY_KINDS.includes(kind)) throw new Error(`unknown gateway ${kind}`);
/** The gateways run: one per kind, or for --overload Concord with its bound and without. */
interface Variant {
  label: string;
  kind: GatewayKind;
  env: Record<string, string>;
}
const dedupEnv: Record<string, string> = values['no-dedup'] ? { BENCH_CONCORD_FETCH_DEDUP: 'off' } : {};
/** Each row's own environment: Concord's variants differ from (a) only in it (and in the load's tokens). */
function envOf(kind: GatewayKind): Record<string, string> {
  if (kind === 'concord' || kind === 'concord-many-tokens') return dedupEnv;
  if (kind === 'concord-redis') {
    // Its own key prefix, so a run never shares buckets with another (or with tests).
    return { ...dedupEnv, BENCH_CONCORD_REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', BENCH_CONCORD_REDIS_PREFIX: `bench-gateway:${process.pid}:` };
  }
  return {};
}
const tokenCount = Number(values.tokens);
const variants: Variant[] = overload
  ? [
      { label: 'concord', kind: 'concord', env: dedupEnv },
      { label: 'concord-unbounded', kind: 'concord', env: { ...dedupEnv, BENCH_CONCORD_MAX_IN_FLIGHT: '0' } },
    ]
  : kinds.map((kind) => ({ label: kind, kind, env: envOf(kind) }));
const OVERLOAD_CONNECTIONS = values['overload-connections']!.split(',').map(Number);
if (OVERLOAD_CONNECTIONS.length !== 2 || OVERLOAD_CONNECTIONS.some((c) => !(c > 0))) throw new Error('--overload-connections takes two counts, e.g. 10,100');

const cpuCount = os.cpus().length;
const pin = !values['no-pin'] && cpuCount >= 2 && canPin();
const gatewayCpus = pin ? String(cpuCount - 1) : undefined;
const otherCpus = pin ? (cpuCount === 2 ? '0' : `0-${cpuCount - 2}`) : undefined;

interface Gateway {
  kind: string;
  child: ChildProcess;
  /** The process whose CPU and memory are the gateway's (Grafbase: its binary, a child of `child`). */
  pid: number;
  url: string;
  rounds: RoundFigures[];
  warmupErrors: number;
}

async function main(): Promise<void> {
  const started = Date.now();
  if (kinds.some((kind) => kind === 'hive-gateway' || kind.startsWith('grafbase'))) ensurePeersInstalled();
  const children: ChildProcess[] = [];
  try {
    const estimate = overload
      ? variants.length * (warmup + OVERLOAD_CONNECTIONS.length * (roundWarmup + seconds)) + 30
      : kinds.length * (warmup + rounds * (roundWarmup + seconds)) + 30;
    console.log(
      `gateway benchmark: ${variants.map((v) => v.label).join(', ')}; ` +
        `${overload ? `overload at ${OVERLOAD_CONNECTIONS.join(' and ')} connections x ${seconds} s` : `${rounds} rounds x ${seconds} s, ${connections} connections`}; ` +
        `${pin ? `gateways pinned to CPU ${gatewayCpus}, subgraphs and load to CPU ${otherCpus}` : 'not pinned'}; ` +
        `subgraph answers ${values['no-memo'] ? 'executed every time' : 'memoised'}; about ${Math.round(estimate / 60)} min`,
    );

    const subgraphs = startChild('subgraphs.ts', [], {
      cpus: otherCpus,
      env: { BENCH_SUBGRAPH_SECRET: SUBGRAPH_SECRET, BENCH_SUBGRAPH_MEMO: values['no-memo'] ? '0' : '1' },
    });
    children.push(subgraphs);
    const subgraphPort = await nextMessage(subgraphs, (m) => m?.ready as number | undefined, 60_000, 'subgraphs');
    const subgraphBaseUrl = `http://127.0.0.1:${subgraphPort}`;
    const supergraphSdl = composeBenchSupergraph((name) => `${subgraphBaseUrl}/${name}`);
    const startOptions: GatewayStartOptions = { supergraphSdl, subgraphBaseUrl, subgraphSecret: SUBGRAPH_SECRET, jwtSecret: JWT_SECRET };

    const profiled = new Set(values['profile-gateways']!.split(','));
    const gateways: Gateway[] = await Promise.all(
      variants.map(async ({ label, kind, env }) => {
        // One directory per gateway: tsx's loader thread writes a (near idle) profile of its own next to the main thread's.
        const nodeArgs = values.profile && profiled.has(label) ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile, label)}`] : [];
        const child = startChild('gateway-process.ts', [kind], { cpus: gatewayCpus, nodeArgs, env: { NODE_ENV: 'production', ...env } });
        children.push(child);
        await listening(child, label);
        child.send({ start: startOptions });
        const { ready: port, pid } = await nextMessage(child, (m) => (m?.ready ? (m as { ready: number; pid?: number }) : undefined), 120_000, label);
        return { kind: label, child, pid: pid ?? child.pid!, url: `http://127.0.0.1:${port}/graphql`, rounds: [], warmupErrors: 0 };
      }),
    );

    // One token for the whole run (Concord verifies it on every request; the peers ignore it).
    const token = await mintToken({ secret: JWT_SECRET, subject: 'bench', scopes: ['customers:read'], ttl: '1h' });
    // The many-tokens row: as many callers, each with its own token (and so its own principal).
    const manyTokens = kinds.includes('concord-many-tokens')
      ? await Promise.all(Array.from({ length: tokenCount }, (_, i) => mintToken({ secret: JWT_SECRET, subject: `bench-${i}`, scopes: ['customers:read'], ttl: '1h' })))
      : [];
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const body = JSON.stringify({ query: BENCH_QUERY, operationName: 'Bench' });
    const expected = JSON.stringify(expectedResult());

    // Correctness first: each gateway's answer must be the expected one before any load.
    for (const gateway of gateways) {
      const response = await fetch(gateway.url, { method: 'POST', headers, body });
      const text = await response.text();
      let same = false;
      try {
        same = JSON.stringify(JSON.parse(text)) === expected;
      } catch {
        same = false;
      }
      if (!response.ok || !same) {
        throw new Error(`${gateway.kind} answered ${response.status} with a wrong answer:\n${text.slice(0, 1000)}`);
      }
    }
    console.log(`every gateway gave the expected answer (${expected.length} bytes); warming up`);

    const load = startChild('load.ts', [], { cpus: otherCpus });
    children.push(load);
    await listening(load, 'load');
    const runLoad = async (gateway: Gateway, runSeconds: number, atConnections = connections): Promise<{ result: LoadResult; cpu: number }> => {
      const pid = gateway.pid;
      const before = cpuSeconds(pid);
      const tokens = gateway.kind === 'concord-many-tokens' ? manyTokens : undefined;
      const job: LoadJob = { url: gateway.url, body, headers, expected, seconds: runSeconds, connections: atConnections, acceptShed: overload, tokens };
      load.send(job);
      const result = await nextMessage(load, (m) => m?.result as LoadResult | undefined, (runSeconds + 60) * 1000, `load on ${gateway.kind}`);
      return { result, cpu: (cpuSeconds(pid) - before) / result.seconds };
    };

    for (const gateway of gateways) gateway.warmupErrors += (await runLoad(gateway, warmup)).result.errors.total;
    if (overload) {
      const figures: string[] = [];
      let errors = 0;
      for (const gateway of gateways) {
        const at = new Map<number, LoadResult>();
        for (const atConnections of OVERLOAD_CONNECTIONS) {
          errors += (await runLoad(gateway, roundWarmup, atConnections)).result.errors.total;
          const { result, cpu } = await runLoad(gateway, seconds, atConnections);
          errors += result.errors.total;
          at.set(atConnections, result);
          console.log(
            `${gateway.kind.padEnd(18)} ${String(atConnections).padStart(3)} connections: ${fixed(result.rps)} served/s, ` +
              `p50 ${fixed(result.servedLatencyMs.p50)} ms, p99 ${fixed(result.servedLatencyMs.p99)} ms (served); ` +
              `503s shed ${result.shed} (${fixed(result.shed / result.seconds)}/s, p99 ${result.shed ? fixed(result.shedLatencyMs.p99) : '-'} ms); ` +
              `errors ${result.errors.total}; gw CPU ${fixed(cpu * 100)}%`,
          );
        }
        const [low, high] = OVERLOAD_CONNECTIONS.map((c) => at.get(c)!);
        figures.push(
          `${gateway.kind} p99@${OVERLOAD_CONNECTIONS[0]}=${fixed(low.servedLatencyMs.p99)}ms p99@${OVERLOAD_CONNECTIONS[1]}=${fixed(high.servedLatencyMs.p99)}ms ` +
            `x${fixed(high.servedLatencyMs.p99 / low.servedLatencyMs.p99, 1)} shed@${OVERLOAD_CONNECTIONS[1]}=${high.shed}`,
        );
      }
      if (errors + gateways.reduce((sum, g) => sum + g.warmupErrors, 0) > 0) process.exitCode = 1;
      console.log(`overload: ${figures.join(' | ')}`);
      return;
    }
    const subgraphStats = () => {
      subgraphs.send('stats');
      return nextMessage(subgraphs, (m) => m?.stats as { requests: number } | undefined, 10_000, 'subgraph stats');
    };

    for (let round = 1; round <= rounds; round += 1) {
      const line: string[] = [];
      for (const gateway of gateways) {
        gateway.warmupErrors += (await runLoad(gateway, roundWarmup)).result.errors.total;
        const subgraphsBefore = (await subgraphStats()).requests;
        const subgraphCpuBefore = cpuSeconds(subgraphs.pid!);
        const loadCpuBefore = cpuSeconds(load.pid!);
        const { result, cpu } = await runLoad(gateway, seconds);
        const subgraphRequests = (await subgraphStats()).requests - subgraphsBefore;
        const subgraphCpu = (cpuSeconds(subgraphs.pid!) - subgraphCpuBefore) / result.seconds;
        const loadCpu = (cpuSeconds(load.pid!) - loadCpuBefore) / result.seconds;
        gateway.rounds.push({ ...result, gatewayCpu: cpu, subgraphCpu, loadCpu, subgraphFetchesPerRequest: subgraphRequests / Math.max(1, result.requests) });
        if (result.sample) console.log(`  ${gateway.kind}: wrong answer, for example: ${result.sample}`);
        line.push(`${gateway.kind} ${fixed(result.rps)} req/s (cpu ${fixed(cpu * 100)}%, errors ${result.errors.total})`);
      }
      console.log(`round ${round}/${rounds}: ${line.join(', ')}`);
    }

    const peaks = new Map(gateways.map((g) => [g.kind, peakRss(g.pid)]));
    const summaries = gateways.map((g) => summarise(g.kind, g.rounds, g.warmupErrors, peaks.get(g.kind)!));
    console.log('');
    console.log(formatReport(summaries, { pinned: pin, gatewayCpus, elapsedSeconds: (Date.now() - started) / 1000 }));
    if (values.json) writeFileSync(values.json, JSON.stringify({ summaries, rounds: Object.fromEntries(gateways.map((g) => [g.kind, g.rounds])) }, null, 2));
    // A wrong answer or a failed request fails the run (the figures are still printed).
    if (summaries.some((s) => s.errors > 0)) process.exitCode = 1;
    const last = ratioLine(summaries);
    if (last) console.log(last);
  } finally {
    await Promise.all(children.map((child) => stopChild(child)));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
