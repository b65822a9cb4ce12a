import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The one way tests reach the shared Redis: TEST_REDIS_URL (default redis://127.0.0.1:6379). Tests
 * that need durability or a cluster start a redis-server of their own (startOwnRedis below).
 */

/**
 * Remove every key under `prefix`: plain ones (BullMQ's `<prefix>:...`) and Redis Cluster hash
 * tags (`{<prefix>:...}`). SCAN, never KEYS: KEYS blocks a shared Redis that holds many keys.
 */
export async function removeKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  try {
    for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** A key prefix of this test's own, and a way to remove everything under it afterwards. */
export function testPrefix(name: string): { prefix: string; cleanup(): Promise<void> } {
  const prefix = `concord-test:${name}:${randomUUID().slice(0, 8)}`;
  return { prefix, cleanup: () => removeKeys(prefix) };
}

/** A redis-server of the test's own, with AOF on (fsync every write) in a temp dir. */
export interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL it (nothing flushed beyond what AOF already holds). */
  kill(): Promise<void>;
  /** Start it again on the same port and dir, so it loads the AOF. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (server.address() as AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'concord-redis-'));
  let child: ChildProcess | null = null;

  async function launch(): Promise<void> {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], {
      stdio: 'ignore',
    });
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error(`redis-server on ${port} did not start`);
  }

  async function kill(): Promise<void> {
    const current = child;
    // A SIGKILLed child has signalCode set and exitCode null: already gone either way.
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill('SIGKILL');
    });
  }

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis Cluster of the test's own: three masters, no replicas, in a temp dir. */
export interface OwnRedisCluster {
  /** REDIS_URL for Concord: redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  url: string;
  ports: number[];
  /** SIGKILL the node on `port` (the cluster notices within its node timeout, 2 s). */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (server.address() as AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
}

/**
 * Three `redis-server --cluster-enabled yes` on free ports, joined with
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`; resolves once every node
 * says cluster_state:ok. A cluster bus port is the node's port + 10000, so ports are picked until
 * both are free.
 */
export async function startOwnRedisCluster(): Promise<OwnRedisCluster> {
  const ports: number[] = [];
  while (ports.length < 3) {
    const port = await freePort();
    if (port + 10000 > 65535 || ports.includes(port)) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false)).listen(port + 10000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (bus) ports.push(port);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'concord-redis-cluster-'));
  const children: ChildProcess[] = [];
  const killChild = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  const stop = async () => {
    await Promise.all(children.map(killChild));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const nodeDir = path.join(dir, String(port));
      mkdirSync(nodeDir);
      children.push(
        spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendonly', 'no', '--save', ''], { stdio: 'ignore' }),
      );
    }
    const probes = ports.map((port) => new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 }));
    try {
      await until(async () => (await Promise.all(probes.map((p) => p.ping().catch(() => null)))).every((r) => r === 'PONG'), 'redis-server nodes did not start');
      await new Promise<void>((resolve, reject) => {
        const create = spawn('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        create.stderr.on('data', (chunk) => (stderr += chunk));
        create.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited with ${code}: ${stderr}`))));
      });
      await until(
        async () => (await Promise.all(probes.map((p) => p.cluster('INFO').catch(() => '')))).every((info) => String(info).includes('cluster_state:ok')),
        'the cluster did not reach cluster_state:ok',
      );
    } finally {
      for (const probe of probes) probe.disconnect();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, kill: (port) => killChild(children[ports.indexOf(port)]), stop };
}

async function until(condition: () => Promise<boolean>, failure: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(failure);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
