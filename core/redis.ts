/**
 * Every Redis connection of a Concord process is made here, from REDIS_URL: a single server
 * (`redis://` or `rediss://` or a Unix socket path, as ioredis takes them) or a Redis Cluster
 * (`redis+cluster://[user:password@]host:port,host:port,...`, `rediss+cluster://` for TLS), in which
 * case the client is an ioredis Cluster. Callers get the same command interface either way.
 *
 * Key layout (docs/deploy.md "Redis Cluster"): every key carries a hash tag naming its unit of
 * atomicity, `{<prefix>:<unit>}` - a run, a queue, the event stream, a rate bucket, a key-value
 * entry - so a cluster spreads Concord's keys over its masters while each Lua script or MULTI
 * touches the keys of one unit (one slot) only. `tag` builds such keys.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A client of either kind; both have the commands Concord uses. */
export type RedisClient = Redis | Cluster;

/** REDIS_URL is not a URL Concord can connect to (core/config.ts reports it as a ConfigError). */
export class RedisUrlError extends Error {}

export interface RedisTarget {
  kind: 'single' | 'cluster';
  /** The URL for a single server; for a cluster, one `redis[s]://host:port` per seed node. */
  urls: string[];
}

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//i;

/**
 * What REDIS_URL names. Throws a ConfigError (naming the variable, never the password) when it is
 * neither a Redis URL nor a cluster URL with at least one host:port.
 */
export function parseRedisUrl(url: string, variable = 'REDIS_URL'): RedisTarget {
  const cluster = CLUSTER_SCHEME.exec(url);
  if (!cluster) {
    // A path is a Unix socket, as ioredis takes it.
    if (!/^rediss?:\/\//i.test(url) && !url.startsWith('/')) {
      throw new RedisUrlError(`${variable} must start with redis://, rediss://, redis+cluster:// or rediss+cluster:// (or be a Unix socket path)`);
    }
    return { kind: 'single', urls: [url] };
  }
  const scheme = cluster[1].toLowerCase();
  const rest = url.slice(cluster[0].length);
  // Credentials (if any) come before the last '@' of the part before the first '/' or '?'.
  const end = rest.search(/[/?]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  const at = authority.lastIndexOf('@');
  const auth = at === -1 ? '' : authority.slice(0, at + 1);
  const hosts = (at === -1 ? authority : authority.slice(at + 1)).split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0) throw new RedisUrlError(`${variable} names no cluster node: use ${scheme}+cluster://host:port,host:port`);
  const urls = hosts.map((host) => {
    if (!/^[^:/\s]+:\d{1,5}$/.test(host) && !/^\[[0-9a-f:.]+\]:\d{1,5}$/i.test(host)) {
      throw new RedisUrlError(`${variable}: cluster node "${host}" is not host:port`);
    }
    return `${scheme}://${auth}${host}${tail}`;
  });
  return { kind: 'cluster', urls };
}

export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url);
}

/** Options of one node connection, from a `redis[s]://` URL (what `new Redis(url)` would take from it). */
function nodeOptions(url: string): { host: string; port: number; username?: string; password?: string; tls?: object } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: Number(parsed.port || 6379),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export interface RedisClientOptions extends RedisOptions {
  /** Cluster-only settings (ioredis ClusterOptions), ignored for a single server. Default none. */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

/**
 * The one way Concord opens Redis. `options` are ioredis per-connection options (timeouts, retries,
 * lazyConnect); for a cluster they apply to every node connection (ClusterOptions.redisOptions),
 * and lazyConnect / enableOfflineQueue to the cluster client as well.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  const { cluster: clusterOptions = {}, ...redisOptions } = options;
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Redis(url, redisOptions);
  const [first, ...others] = target.urls.map(nodeOptions);
  const { host: _h, port: _p, ...credentials } = first;
  return new Cluster(
    [first, ...others].map(({ host, port }) => ({ host, port })),
    {
      ...(redisOptions.lazyConnect !== undefined ? { lazyConnect: redisOptions.lazyConnect } : {}),
      ...(redisOptions.enableOfflineQueue !== undefined ? { enableOfflineQueue: redisOptions.enableOfflineQueue } : {}),
      // A TLS cluster (for example a managed one) answers CLUSTER SLOTS with IPs its certificate does
      // not name; resolving nothing keeps the hostnames the URL gave (ioredis README, "Special note: AWS ElastiCache").
      ...('tls' in credentials ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
      ...clusterOptions,
      redisOptions: { ...credentials, ...redisOptions },
    },
  );
}

/**
 * The master connections of a client: every master of a cluster (a scan over the keyspace must run
 * on each, as each holds only its own slots), or the client itself for a single server.
 */
export function redisMasters(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/**
 * A key hash-tagged by its unit of atomicity: `{<prefix>:<unit>}` then `:<part>`s. Keys with the
 * same prefix and unit share a slot (so one script may touch them all); other units spread.
 */
export function tag(prefix: string, unit: string, ...parts: string[]): string {
  return [`{${prefix}:${unit}}`, ...parts].join(':');
}
