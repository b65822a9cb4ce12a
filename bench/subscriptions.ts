/**
 * `npm run bench:subscriptions`: many concurrent subscribers on one gateway process.
 *
 * The gateway (the whole system: simulators, subgraphs, gateway; no workers, no polling) runs in a
 * child process of its own, on Redis, so that its memory is measured alone. This process opens N
 * WebSocket connections (graphql-transport-ws, one subscription each, all
 * `businessEvents(types: [INVOICE_PAID]) { id occurredAt detail customer { name } }`: the customer's
 * name is a CRM field, resolved per event through the federation), then appends events straight to
 * the shared Redis event log, as an ingesting replica would:
 *
 *   latency phase     events at a steady rate for `--seconds` s, the rate chosen so that the gateway
 *                     sends `--load` messages/s whatever N is (5000 msg/s: 5 events/s to 1,000
 *                     subscribers, 1 event/s to 5,000); event-to-delivery latency = time from just
 *                     before the append to the subscriber's receipt (one clock: this process)
 *   throughput phase  `--burst` events appended back to back; delivery rate = deliveries / time
 *                     from the first append to the last delivery
 *   memory            the gateway's heap and RSS after GC, before and after the N connections
 *
 * Prints one line of figures per N. Bounded in time: every phase has a deadline, and a phase that
 * misses it prints what was delivered.
 *
 * Then the same runs against a bare graphql-ws server (`serveBaseline`: graphql-ws's useServer,
 * graphql-js, the same log and subscription, nothing of Concord), and a last line per N:
 * `N subscribers: concord p50/p99 ... ms, bare graphql-ws p50/p99 ... ms; delivery rate ...`.
 *
 * Options: --subscribers 1000,5000 (list), --load 5000, --seconds 5, --burst 20, --no-baseline,
 *          --profile <dir> (a V8 CPU profile of the gateway process, written there on exit)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { loadConfig } from '../core/config';
import { createRedisEventLog } from '../core/events/redis-log';
import type { EventLog } from '../core/events/event-log';
import { createLogger } from '../core/log';
import { SCOPES, mintToken } from '../gateway/token';
import { startSystem } from '../system';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

const SECRET = 'concord-bench-secret-0123456789abcdef';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUERY = 'subscription Bench { businessEvents(types: [INVOICE_PAID]) { id occurredAt detail customer { name } } }';
const CUSTOMER = '001Dn0000000001IAA';

type Memory = { rss: number; heapUsed: number };
type ChildMessage = { ready: string } | { memory: Memory };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------------------- gateway process

async function serve(prefix: string): Promise<void> {
  const config = loadConfig({
    ...process.env,
    // Not production: production now requires real vendors and secrets (core/config.ts), and the
    // bench runs on the bundled simulators.
    NODE_ENV: 'test',
    CONCORD_JWT_SECRET: SECRET,
    CONCORD_JWT_ISSUER: 'concord-bench',
    CONCORD_JWT_AUDIENCE: 'concord',
    REDIS_URL,
    CONCORD_REDIS_PREFIX: prefix,
    CONCORD_WORKERS: '0',
    CONCORD_POLL_INTERVAL_MS: '0',
    CONCORD_RATE_LIMIT_RPS: '0',
    // The bench's clients are one subject on one address: the per-caller caps do not apply to it.
    CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT: '100000',
    CONCORD_WS_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    LOG_LEVEL: 'error',
  });
  const system = await startSystem({ config, logger: createLogger({ level: 'error' }), ports: 'ephemeral' });
  const measure = (): Memory => {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  };
  process.on('message', (message: { memory?: boolean; stop?: boolean }) => {
    if (message.memory) process.send!({ memory: measure() } satisfies ChildMessage);
    if (message.stop) void system.close().then(() => process.exit(0));
  });
  process.send!({ ready: system.gateway.url } satisfies ChildMessage);
}

// ------------------------------------------------------------------------------ baseline process

/**
 * The baseline: a bare graphql-ws server (graphql-ws's useServer over `ws` on node:http, graphql-js
 * `subscribe`) serving the same subscription over the same Redis event log, with nothing of
 * Concord: no authentication, admission, federation or sharing. Every subscriber's payload is
 * executed and serialised for it alone, as graphql-ws does by default; the customer's name is a
 * local lookup instead of a CRM fetch.
 */
const BASELINE_SDL = `
  type Query { ok: Boolean }
  type Customer { name: String! }
  type BusinessEvent { id: ID! occurredAt: String! detail: String customer: Customer }
  enum EventType { INVOICE_PAID }
  type Subscription { businessEvents(types: [EventType!]): BusinessEvent }
`;

async function serveBaseline(prefix: string): Promise<void> {
  const log = createRedisEventLog({ url: REDIS_URL, prefix });
  const schema: GraphQLSchema = buildSchema(BASELINE_SDL);
  const rootValue = {
    businessEvents: async function* (args: { types?: string[] }) {
      const controller = new AbortController();
      try {
        for await (const event of log.follow(null, controller.signal, (e) => !args.types || args.types.includes(e.type))) {
          yield {
            businessEvents: {
              id: event.id,
              occurredAt: event.occurredAt,
              detail: event.data ? JSON.stringify(event.data) : null,
              customer: event.customerId ? { name: `Customer ${event.customerId}` } : null,
            },
          };
        }
      } finally {
        controller.abort();
      }
    },
  };
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/graphql', perMessageDeflate: false });
  useServer({ schema, roots: { subscription: rootValue } }, wss);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const measure = (): Memory => {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  };
  process.on('message', (message: { memory?: boolean; stop?: boolean }) => {
    if (message.memory) process.send!({ memory: measure() } satisfies ChildMessage);
    if (message.stop) void log.close().finally(() => process.exit(0));
  });
  process.send!({ ready: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } satisfies ChildMessage);
}

// ------------------------------------------------------------------------------------- clients

interface Subscriber {
  socket: WebSocket;
  received: number;
}

/** One graphql-transport-ws connection with one subscription; `onNext` gets each payload's seq. */
function connect(url: string, token: string, onNext: (seq: number) => void): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    const subscriber: Subscriber = { socket, received: 0 };
    const timer = setTimeout(() => reject(new Error('subscribe timed out')), 30_000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (raw) => {
      const text = String(raw);
      // Payloads are read with a regex, not parsed: the driver shares the machine with the gateway.
      if (text.includes('"type":"next"')) {
        subscriber.received += 1;
        const seq = /seq\\":(\d+)/.exec(text);
        onNext(seq ? Number(seq[1]) : -1);
        return;
      }
      const message = JSON.parse(text) as { type: string; payload?: any };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY } }));
        clearTimeout(timer);
        resolve(subscriber);
      } else if (message.type === 'error') {
        reject(new Error(JSON.stringify(message.payload)));
      }
    });
    socket.on('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function phase(log: EventLog, sent: Map<number, number>, count: number, intervalMs: number, seqStart: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const seq = seqStart + i;
    sent.set(seq, performance.now());
    await log.append({
      type: 'INVOICE_PAID',
      occurredAt: new Date().toISOString(),
      correlationId: null,
      source: 'BILLING',
      customerId: CUSTOMER,
      contractId: null,
      invoiceId: `in_bench_${seq}`,
      runId: null,
      data: { seq },
    });
    if (intervalMs > 0) await sleep(intervalMs);
  }
}

async function run(n: number, options: { rate: number; seconds: number; burst: number }, child: ChildProcess, gatewayUrl: string, log: EventLog) {
  const ask = <T extends ChildMessage>(message: object, key: keyof T): Promise<T> =>
    new Promise((resolve) => {
      const listener = (reply: ChildMessage) => {
        if (key in reply) {
          child.off('message', listener);
          resolve(reply as T);
        }
      };
      child.on('message', listener);
      child.send(message);
    });
  const token = await mintToken({ secret: SECRET, subject: 'bench', scopes: SCOPES, ttl: '1h', issuer: 'concord-bench', audience: 'concord' });
  const before = (await ask<{ memory: Memory }>({ memory: true }, 'memory')).memory;

  const sent = new Map<number, number>();
  const latencies: number[] = [];
  let deliveries = 0;
  let lastDelivery = 0;
  const onNext = (seq: number) => {
    const at = performance.now();
    const start = sent.get(seq);
    if (start !== undefined) latencies.push(at - start);
    deliveries += 1;
    lastDelivery = at;
  };

  const url = `${gatewayUrl.replace(/^http/, 'ws')}/graphql`;
  const subscribers: Subscriber[] = [];
  const opening = performance.now();
  for (let i = 0; i < n; i += 200) {
    subscribers.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => connect(url, token, onNext)))));
  }
  const openSeconds = (performance.now() - opening) / 1000;
  await sleep(1000); // every subscription has joined the gateway's tail
  const after = (await ask<{ memory: Memory }>({ memory: true }, 'memory')).memory;

  // Latency phase: a steady rate.
  const latencyEvents = Math.max(1, Math.round(options.rate * options.seconds));
  await phase(log, sent, latencyEvents, 1000 / options.rate, 0);
  const latencyDeadline = performance.now() + 30_000;
  while (deliveries < latencyEvents * n && performance.now() < latencyDeadline) await sleep(20);
  const steady = [...latencies].sort((a, b) => a - b);
  const steadyDelivered = deliveries;

  // Throughput phase: a burst.
  latencies.length = 0;
  deliveries = 0;
  const burstStart = performance.now();
  await phase(log, sent, options.burst, 0, latencyEvents);
  const burstDeadline = performance.now() + 60_000;
  while (deliveries < options.burst * n && performance.now() < burstDeadline) await sleep(20);
  const burstSeconds = (lastDelivery - burstStart) / 1000;
  const burst = [...latencies].sort((a, b) => a - b);

  for (const s of subscribers) s.socket.terminate();
  await sleep(1500);
  const figures = {
    subscribers: n,
    connect: `${(n / openSeconds).toFixed(0)} conn/s`,
    steadyEvents: `${latencyEvents} @ ${+options.rate.toFixed(2)}/s`,
    steadyDelivered: `${steadyDelivered}/${latencyEvents * n}`,
    'latency p50/p99 (ms)': `${percentile(steady, 50).toFixed(1)} / ${percentile(steady, 99).toFixed(1)}`,
    burstEvents: options.burst,
    burstDelivered: `${deliveries}/${options.burst * n}`,
    'delivery rate (msg/s)': (deliveries / burstSeconds).toFixed(0),
    'burst latency p50/p99 (ms)': `${percentile(burst, 50).toFixed(1)} / ${percentile(burst, 99).toFixed(1)}`,
    'heap per connection (KB)': ((after.heapUsed - before.heapUsed) / n / 1024).toFixed(1),
    'RSS per connection (KB)': ((after.rss - before.rss) / n / 1024).toFixed(1),
  };
  console.log(JSON.stringify(figures));
  return figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      'serve-baseline': { type: 'string' },
      'no-baseline': { type: 'boolean', default: false },
      subscribers: { type: 'string', default: '1000,5000' },
      load: { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '5' },
      burst: { type: 'string', default: '20' },
      profile: { type: 'string' },
    },
  });
  if (values.serve) return serve(values.serve);
  if (values['serve-baseline']) return serveBaseline(values['serve-baseline']);

  const prefix = `concord-bench:subscriptions:${randomUUID().slice(0, 8)}`;
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
  const start = (mode: '--serve' | '--serve-baseline') => {
    const child = fork(__filename, [mode, prefix], {
      execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=4096', ...(mode === '--serve' ? profile : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const url = new Promise<string>((resolve, reject) => {
      child.once('message', (message: ChildMessage) => ('ready' in message ? resolve(message.ready) : reject(new Error('unexpected message'))));
      child.once('exit', (code) => reject(new Error(`${mode} process exited with ${code}`)));
    });
    return { child, url };
  };
  const stop = async (child: ChildProcess) => {
    child.send({ stop: true });
    await new Promise((resolve) => child.once('exit', resolve));
  };
  // Concord first, then the baseline, each alone on the machine while measured.
  const concord = start('--serve');
  const gatewayUrl = await concord.url;
  const log = createRedisEventLog({ url: REDIS_URL, prefix });
  const counts = values.subscribers!.split(',').map(Number);
  const results: Record<string, string | number>[] = [];
  const baselineResults: Record<string, string | number>[] = [];
  try {
    console.log(`gateway ${gatewayUrl} (pid ${concord.child.pid}), Redis ${REDIS_URL}, subscription: ${QUERY}`);
    for (const n of counts) {
      const rate = Number(values.load) / n;
      results.push({ server: 'concord', ...(await run(n, { rate, seconds: Number(values.seconds), burst: Number(values.burst) }, concord.child, gatewayUrl, log)) });
    }
    await stop(concord.child);
    if (!values['no-baseline']) {
      const baseline = start('--serve-baseline');
      const baselineUrl = await baseline.url;
      console.log(`baseline: bare graphql-ws ${baselineUrl} (pid ${baseline.child.pid}), same log and subscription`);
      for (const n of counts) {
        const rate = Number(values.load) / n;
        baselineResults.push({ server: 'graphql-ws', ...(await run(n, { rate, seconds: Number(values.seconds), burst: Number(values.burst) }, baseline.child, baselineUrl, log)) });
      }
      await stop(baseline.child);
    }
    console.table([...results, ...baselineResults]);
    for (const [i, n] of counts.entries()) {
      const key = 'latency p50/p99 (ms)';
      const other = baselineResults[i];
      console.log(`${n} subscribers: concord p50/p99 ${results[i][key]} ms` + (other ? `, bare graphql-ws p50/p99 ${other[key]} ms` : '') +
        `; delivery rate concord ${results[i]['delivery rate (msg/s)']}` + (other ? `, graphql-ws ${other['delivery rate (msg/s)']}` : '') + ' msg/s');
    }
  } finally {
    await log.close();
    if (concord.child.exitCode === null) await stop(concord.child);
    const redis = new Redis(REDIS_URL);
    for (const pattern of [`{${prefix}*`, `${prefix}*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
