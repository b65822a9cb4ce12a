/**
 * AuditTrail in Redis: one stream, `{<prefix>:audit}` (a stream is one key, so one Redis Cluster
 * slot; the tag is its own, so it does not share a slot with runs or queues). A stream because
 * entries are only appended, its ids order them and serve as cursors (XREVRANGE with an exclusive
 * start), and it is never trimmed: the trail is kept.
 */
import type { Redis, Cluster } from 'ioredis';
import { createRedisClient, tag } from '../../../core/redis';
import type { AuditTrail, NewOperatorAction, OperatorAction } from './trail';

export interface RedisAuditTrailOptions {
  /** An ioredis client owned by the caller (never quit here). Default: none, `url` is used. */
  redis?: Redis | Cluster;
  /** Redis URL for a client made here and quit on close(). Default redis://127.0.0.1:6379. */
  url?: string;
  /** Namespace (one per tenant or test). Default 'concord'. */
  prefix?: string;
  /** Told of connection errors of a client made here (it reconnects by itself). */
  onError?: (error: Error) => void;
}

export function createRedisAuditTrail(options: RedisAuditTrailOptions = {}): AuditTrail {
  const { redis: given, url = 'redis://127.0.0.1:6379', prefix = 'concord', onError } = options;
  const redis: Redis | Cluster = given ?? createRedisClient(url);
  if (!given) redis.on('error', (error: Error) => onError?.(error));
  const key = tag(prefix, 'audit');
  const parse = (id: string, fields: string[]): OperatorAction => ({ ...(JSON.parse(fields[1]) as NewOperatorAction), id });

  return {
    async append(entry) {
      const id = (await redis.xadd(key, '*', 'json', JSON.stringify(entry))) as string;
      return { ...structuredClone(entry), id };
    },
    async list(filter, page) {
      const items: OperatorAction[] = [];
      let start = page.after ? `(${page.after}` : '+';
      // Read in chunks until the page is full (a subject filter skips other operators' entries).
      for (;;) {
        const chunk = (await redis.xrevrange(key, start, '-', 'COUNT', Math.max(50, page.first + 1))) as [string, string[]][];
        for (const [id, fields] of chunk) {
          const entry = parse(id, fields);
          if (filter.subject && entry.subject !== filter.subject) continue;
          if (items.length === page.first) return { items, hasNextPage: true, endCursor: items.length ? items[items.length - 1].id : null };
          items.push(entry);
        }
        if (chunk.length === 0 || chunk.length < Math.max(50, page.first + 1)) break;
        start = `(${chunk[chunk.length - 1][0]}`;
      }
      return { items, hasNextPage: false, endCursor: items.length ? items[items.length - 1].id : null };
    },
    async close() {
      if (!given) await redis.quit();
    },
  };
}
