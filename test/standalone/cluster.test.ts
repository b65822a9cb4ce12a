/**
 * `concord-gateway --processes 2` (gateway/cluster.ts): two gateway processes on one port, both
 * serving (each answer names its process in `x-concord-process`), one rate limit across them
 * through Redis, refused without Redis when a rate limit is set, and a clean stop on SIGTERM
 * (exit 0, every worker gone).
 */
import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { testPrefix, REDIS_URL } from '../helpers/redis';
import { startGatewayProcess, tempDir, type GatewayProcess } from './helpers';
import { startTestSubgraphs, type TestSubgraphs } from './subgraphs';

interface Answer {
  status: number;
  process: string | undefined;
  body: any;
}

/** One POST on a connection of its own (no keep-alive), so that the cluster hands each to a process in turn. */
function post(url: string, query: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/graphql`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, process: res.headers['x-concord-process'] as string | undefined, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const workerPids = (gateway: GatewayProcess) => (/pids ([\d, ]+)\)/.exec(gateway.output())?.[1] ?? '').split(',').map((p) => Number(p.trim())).filter(Boolean);

describe('concord-gateway --processes 2', () => {
  let subgraphs: TestSubgraphs;
  let file: string;

  beforeAll(async () => {
    subgraphs = await startTestSubgraphs();
    file = path.join(tempDir(), 'supergraph.graphql');
    writeFileSync(file, subgraphs.compose(1));
  });
  afterAll(async () => {
    await subgraphs?.close();
  });

  it('serves from both processes on one port, and stops them all on SIGTERM', async () => {
    const gateway = await startGatewayProcess(['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing', '--processes', '2'], {}, 180_000);
    try {
      const pids = workerPids(gateway);
      expect(pids).toHaveLength(2);
      const seen = new Set<string>();
      const deadline = Date.now() + 60_000;
      while (seen.size < 2 && Date.now() < deadline) {
        const answer = await post(gateway.url, '{ topProducts(first: 1) { upc name } }');
        expect(answer.status).toBe(200);
        expect(answer.body.errors).toBeUndefined();
        expect(answer.body.data.topProducts).toHaveLength(1);
        if (answer.process) seen.add(answer.process);
      }
      expect([...seen].sort()).toEqual(['1', '2']);

      expect(await gateway.stop()).toBe(0);
      expect(gateway.output()).toMatch(/every process stopped/);
      await until(() => pids.every((pid) => !alive(pid)), 'the worker processes to exit');
    } finally {
      await gateway.stop();
    }
  }, 300_000);

  it('shares one rate limit across the processes through Redis', async () => {
    const { prefix, cleanup } = testPrefix('cluster-rate-limit');
    const gateway = await startGatewayProcess(
      ['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing', '--processes', '2'],
      { REDIS_URL, CONCORD_REDIS_PREFIX: prefix, CONCORD_RATE_LIMIT_RPS: '1', CONCORD_RATE_LIMIT_BURST: '3' },
      180_000,
    );
    try {
      // Every caller here is the same anonymous subject: 3 at once, then 1 a second, whichever process answers.
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 12 }, () => post(gateway.url, '{ topProducts(first: 1) { upc } }')));
      const elapsedSeconds = (Date.now() - started) / 1000;
      const served = answers.filter((a) => a.status === 200).length;
      const limited = answers.filter((a) => a.status === 429);
      expect(served + limited.length).toBe(12);
      expect(served).toBeGreaterThanOrEqual(1);
      // Two buckets in memory would let 6 through at once; one in Redis lets 3, plus one per second that passed.
      expect(served).toBeLessThanOrEqual(3 + Math.ceil(elapsedSeconds));
      expect(new Set(answers.map((a) => a.process)).size).toBe(2);
      expect(await gateway.stop()).toBe(0);
    } finally {
      await gateway.stop();
      await cleanup();
    }
  }, 300_000);

  it('refuses several processes with an in-memory rate limit (each would grant the whole budget)', async () => {
    const gateway = startGatewayProcess(['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing', '--processes', '2'], { CONCORD_RATE_LIMIT_RPS: '50', REDIS_URL: '' });
    await expect(gateway).rejects.toThrow(/share a rate limit only through Redis: set REDIS_URL/);
  }, 120_000);
});
