/**
 * REDIS_URL as an operator writes it: one server, or a Redis Cluster as
 * redis+cluster://[user:password@]host:port,host:port (docs/configuration.md). A URL Concord cannot
 * use stops the start naming the variable, without a stack trace and without echoing a password.
 */
import { Cluster, Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../core/config';
import { createRedisClient, parseRedisUrl } from '../../core/redis';
import { tsxRun } from '../helpers/processes';

describe('REDIS_URL', () => {
  it('names the nodes of a cluster, each with the credentials and TLS given once', () => {
    expect(parseRedisUrl('rediss+cluster://app:s3cr%40t@redis-0:6379,redis-1:6380,10.0.0.7:6381')).toEqual({
      kind: 'cluster',
      urls: ['rediss://app:s3cr%40t@redis-0:6379', 'rediss://app:s3cr%40t@redis-1:6380', 'rediss://app:s3cr%40t@10.0.0.7:6381'],
    });
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'single', urls: ['redis://127.0.0.1:6379/2'] });
  });

  it('makes a Cluster client for a cluster URL and a plain client otherwise', () => {
    const cluster = createRedisClient('redis+cluster://app:pw@127.0.0.1:7001,127.0.0.1:7002', { lazyConnect: true });
    const single = createRedisClient('redis://127.0.0.1:6379', { lazyConnect: true });
    try {
      expect(cluster).toBeInstanceOf(Cluster);
      expect((cluster as Cluster).options.redisOptions).toMatchObject({ username: 'app', password: 'pw', lazyConnect: true });
      expect(single).toBeInstanceOf(Redis);
    } finally {
      cluster.disconnect();
      single.disconnect();
    }
  });

  it.each([
    ['localhost:6379', 'must start with redis://'],
    ['redis+cluster://app:hunter2@', 'names no cluster node'],
    ['redis+cluster://app:hunter2@redis-0,redis-1:6379', 'cluster node "redis-0" is not host:port'],
  ])('%s is refused by the configuration', (url, message) => {
    let error: unknown;
    try {
      loadConfig({ REDIS_URL: url });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('REDIS_URL');
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('a worker started with a malformed REDIS_URL exits 1 naming it, without a stack trace', async () => {
    const worker = tsxRun('subgraphs/orchestration/worker-main.ts', { REDIS_URL: 'redis+cluster://app:hunter2@redis-0' });
    expect(await worker.exited).toBe(1);
    expect(worker.stderr()).toContain('REDIS_URL: cluster node "redis-0" is not host:port');
    expect(worker.stderr()).not.toContain('hunter2');
    expect(worker.stderr()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  }, 60_000);
});
