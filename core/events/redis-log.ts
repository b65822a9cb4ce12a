/**
 * EventLog on Redis Streams: shared by every gateway, API and worker process of one prefix.
 *
 * Key layout (P = `{<prefix>:events}`). The stream is one unit of atomicity: a dedupe key and a
 * subject's sequence are set in the same script as the append, so they carry the stream's hash tag
 * and live in its Redis Cluster slot (one stream is one key: it cannot be spread anyway):
 *   P:log              stream, one entry per event, field `e` = the event as JSON (without its id)
 *   P:dedupe:<key>     string -> event id, with PX expiry (dedupeTtlMs)
 *   P:seq:<key>        string "<version> <event id>" of the latest event of a subject, PX expiry
 *   P:log consumer groups, one per durable consumer (reactions)
 *
 * Retention: XADD ... MAXLEN ~ retention (approximate trimming: whole stream nodes are dropped,
 * so at least `retention` events are kept). A cursor older than what was trimmed is detected with
 * XINFO STREAM's max-deleted-entry-id and refused (EventCursorError) rather than served with a gap.
 *
 * Connections: one for commands, one blocking connection for the process's tail (fanout.ts: one
 * XREAD BLOCK serves every subscriber of the process), and one per running consumer group. On a
 * single server a blocked read is ended at once on close (CLIENT UNBLOCK); on a Redis Cluster the
 * blocking connection is dropped instead and its read ends server-side within blockMs.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Cluster, type Redis } from 'ioredis';
import { createRedisClient, tag } from '../redis';
import {
  EventCursorError,
  compareEventIds,
  type BusinessEvent,
  type ConsumeOptions,
  type EventHandler,
  type EventLog,
  type NewBusinessEvent,
} from './event-log';
import { Fanout } from './fanout';

export interface RedisEventLogOptions {
  /** Redis URL. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Namespace of every key (one per tenant or test). Default 'concord'. */
  prefix?: string;
  /** Events kept in the stream (MAXLEN ~). Default 100000. */
  retention?: number;
  /** How long a dedupeKey is remembered, in ms. Default 7 days (Stripe retries webhooks for 3). */
  dedupeTtlMs?: number;
  /** How long the latest-event index of a subject is kept after its last event, in ms. Default 30 days. */
  sequenceTtlMs?: number;
  /** Longest single blocking read, in ms. Default 5000. */
  blockMs?: number;
  /** Events a follower may have queued before it falls back to replaying (fanout.ts). Default 10000. */
  followerQueue?: number;
  /** Told of connection and tail errors (the clients reconnect by themselves). Default: ignored. */
  onError?: (error: Error) => void;
}

const APPEND = `
--[[
  Append one event unless it is a duplicate or a stale version of its subject.
  Input:
    KEYS[1] stream          P:log
    KEYS[2] dedupe key      P:dedupe:<key>   (ignored when ARGV[3] == '')
    KEYS[3] sequence key    P:seq:<key>      (ignored when ARGV[4] == '')
    ARGV[1] event JSON (without id)
    ARGV[2] retention, for MAXLEN ~
    ARGV[3] dedupe TTL in ms, '' = the event has no dedupe key
    ARGV[4] sequence version, '' = the event has no sequence
    ARGV[5] sequence TTL in ms
  Output: the new event id, or nil when the event is a duplicate or stale
]]
if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
if ARGV[4] ~= '' then
  local current = redis.call('GET', KEYS[3])
  if current then
    local version = tonumber(string.match(current, '^(%-?%d+)'))
    if version and version >= tonumber(ARGV[4]) then
      return false
    end
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[2], id, 'PX', ARGV[3])
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4] .. ' ' .. id, 'PX', ARGV[5])
end
return id
`;

type StreamEntry = [string, string[]];

/** A connection that blocks (XREAD, XREADGROUP), with its server-side client id once known. */
interface Blocking {
  redis: Redis;
  id: number | null;
}

/** Typed as a single-server client: a Cluster has the same commands (core/redis.ts). */
type AppendClient = Redis & {
  concordAppend(stream: string, dedupe: string, sequence: string, ...args: (string | number)[]): Promise<string | null>;
};

/** Keys are bounded: long vendor keys are hashed (the hash is as unique for dedupe). */
function keyPart(value: string): string {
  return value.length <= 160 ? value : `h:${createHash('sha256').update(value).digest('hex')}`;
}

function decode([id, fields]: StreamEntry): BusinessEvent {
  const json = fields[fields.indexOf('e') + 1];
  return { ...(JSON.parse(json) as NewBusinessEvent), id };
}

/** XINFO STREAM's flat [key, value, ...] reply as an object. */
function infoOf(reply: unknown[]): Record<string, unknown> {
  const info: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) info[String(reply[i])] = reply[i + 1];
  return info;
}

/**
 * Whether events after `after` may have been trimmed away. XDEL moves max-deleted-entry-id, but
 * MAXLEN trimming does not (Redis 7.0), so a cursor older than the first retained entry of a
 * stream that has lost entries counts as expired too. That is conservative by at most one case
 * (the cursor is exactly the last trimmed entry), never optimistic: no gap is ever served.
 */
function trimmedAfter(after: string, info: Record<string, unknown>): boolean {
  const maxDeleted = info['max-deleted-entry-id'];
  if (typeof maxDeleted === 'string' && maxDeleted !== '0-0' && compareEventIds(after, maxDeleted) < 0) return true;
  const first = info['first-entry'] as [string, string[]] | null | undefined;
  const added = Number(info['entries-added'] ?? 0);
  const length = Number(info.length ?? 0);
  return Array.isArray(first) && added > length && compareEventIds(after, first[0]) < 0;
}

export function createRedisEventLog(options: RedisEventLogOptions = {}): EventLog {
  const {
    url = 'redis://127.0.0.1:6379',
    prefix = 'concord',
    retention = 100_000,
    dedupeTtlMs = 7 * 86_400_000,
    sequenceTtlMs = 30 * 86_400_000,
    blockMs = 5000,
    followerQueue,
    onError = () => undefined,
  } = options;
  const base = tag(prefix, 'events');
  const stream = `${base}:log`;
  const command = createRedisClient(url, { lazyConnect: false }) as unknown as AppendClient;
  // CLIENT ID / CLIENT UNBLOCK name one connection of one server: on a cluster they would reach a random node.
  const canUnblock = !((command as unknown) instanceof Cluster);
  command.on('error', onError);
  command.defineCommand('concordAppend', { numberOfKeys: 3, lua: APPEND });
  let tail: Blocking | null = null;
  const blocking = new Set<Blocking>();
  let closed = false;

  /** A connection of its own for blocking reads (a blocked connection serves nothing else). */
  function blockingConnection(): Blocking {
    const redis = command.duplicate();
    redis.on('error', onError);
    const connection: Blocking = { redis, id: null };
    // Its id, on every (re)connect, so that a blocked read can be ended at once (CLIENT UNBLOCK).
    if (canUnblock) {
      redis.on('ready', () => {
        redis.client('ID').then((id) => (connection.id = Number(id)), () => undefined);
      });
    }
    blocking.add(connection);
    return connection;
  }

  /**
   * End a blocking connection: unblock its pending read (it returns as if timed out), then quit.
   * Not disconnect(): a socket dropped mid-BLOCK lingers until the server's block times out.
   */
  async function release(connection: Blocking): Promise<void> {
    blocking.delete(connection);
    if (!canUnblock) return connection.redis.disconnect();
    if (connection.id !== null) await command.client('UNBLOCK', connection.id).catch(() => undefined);
    await connection.redis.quit().catch(() => connection.redis.disconnect());
  }

  async function read(after: string | null, limit: number): Promise<BusinessEvent[]> {
    if (after === null) {
      const entries = (await command.xrange(stream, '-', '+', 'COUNT', limit)) as StreamEntry[];
      return entries.map(decode);
    }
    compareEventIds(after, after);
    // One round trip: whether anything after the cursor was trimmed, and the page itself.
    const [info, range] = (await command
      .pipeline()
      .call('XINFO', 'STREAM', stream)
      .xrange(stream, `(${after}`, '+', 'COUNT', limit)
      .exec())!;
    if (range[0]) throw range[0];
    if (!info[0] && trimmedAfter(after, infoOf(info[1] as unknown[]))) {
      throw new EventCursorError(`cursor ${after} is older than the retained log; follow again without a cursor`, true);
    }
    return (range[1] as StreamEntry[]).map(decode);
  }

  async function head(): Promise<string | null> {
    const entries = (await command.xrevrange(stream, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return entries.length ? entries[0][0] : null;
  }

  const fanout = new Fanout({
    blockMs,
    maxQueue: followerQueue,
    onError: (error) => onError(error as Error),
    source: {
      head,
      async next(cursor, wait) {
        tail ??= blockingConnection();
        const reply = (await tail.redis.xread('COUNT', 500, 'BLOCK', wait, 'STREAMS', stream, cursor)) as [string, StreamEntry[]][] | null;
        return reply ? reply[0][1].map(decode) : [];
      },
      read: (after, limit) => read(after, limit),
    },
  });

  async function append(input: NewBusinessEvent): Promise<BusinessEvent | null> {
    const { dedupeKey, sequence } = input;
    const json = JSON.stringify(input);
    const id = await command.concordAppend(
      stream,
      `${base}:dedupe:${dedupeKey ? keyPart(dedupeKey) : '-'}`,
      `${base}:seq:${sequence ? keyPart(sequence.key) : '-'}`,
      json,
      retention,
      dedupeKey ? dedupeTtlMs : '',
      sequence ? sequence.version : '',
      sequenceTtlMs,
    );
    return id ? { ...(JSON.parse(json) as NewBusinessEvent), id } : null;
  }

  async function latest(sequenceKey: string): Promise<BusinessEvent | null> {
    const current = await command.get(`${base}:seq:${keyPart(sequenceKey)}`);
    const id = current?.split(' ')[1];
    if (!id) return null;
    const entries = (await command.xrange(stream, id, id)) as StreamEntry[];
    return entries.length ? decode(entries[0]) : null;
  }

  async function consume(group: string, handler: EventHandler, options: ConsumeOptions): Promise<void> {
    const {
      signal,
      consumer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 6)}`,
      retryAfterMs = 5000,
      maxDeliveries = 10,
      onGiveUp = () => undefined,
      onStarted = () => undefined,
    } = options;
    try {
      // '$': a new group starts with what is appended from now on, not the whole retained history.
      await command.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
    // The group exists: XREADGROUP '>' delivers every entry appended after its last-delivered id.
    onStarted();
    const connection = blockingConnection();
    const stop = () => {
      if (connection.id !== null) void command.client('UNBLOCK', connection.id).catch(() => undefined);
    };
    signal.addEventListener('abort', stop, { once: true });

    async function handle(event: BusinessEvent): Promise<void> {
      try {
        await handler(event);
      } catch (error) {
        onError(error as Error);
        return; // stays pending; claimed again after retryAfterMs
      }
      await command.xack(stream, group, event.id);
    }

    /** Events another consumer (or this one) took and did not acknowledge in time. */
    async function reclaim(): Promise<void> {
      const pending = (await command.xpending(stream, group, 'IDLE', retryAfterMs, '-', '+', 50)) as [string, string, number, number][];
      for (const [id, , , deliveries] of pending) {
        if (signal.aborted) return;
        if (deliveries >= maxDeliveries) {
          const entries = (await command.xrange(stream, id, id)) as StreamEntry[];
          if (entries.length) onGiveUp(decode(entries[0]), new Error(`gave up after ${deliveries} deliveries`));
          await command.xack(stream, group, id);
          continue;
        }
        const claimed = (await command.xclaim(stream, group, consumer, retryAfterMs, id)) as (StreamEntry | null)[];
        for (const entry of claimed) {
          if (entry) await handle(decode(entry));
          else await command.xack(stream, group, id); // trimmed away meanwhile
        }
      }
    }

    let lastReclaim = 0;
    try {
      while (!signal.aborted && !closed) {
        try {
          if (Date.now() - lastReclaim >= retryAfterMs / 2) {
            lastReclaim = Date.now();
            await reclaim();
          }
          if (signal.aborted) break;
          const reply = (await connection.redis.xreadgroup(
            'GROUP', group, consumer, 'COUNT', 50, 'BLOCK', Math.min(blockMs, Math.max(100, retryAfterMs / 2)), 'STREAMS', stream, '>',
          )) as [string, StreamEntry[]][] | null;
          for (const entry of reply?.[0][1] ?? []) {
            if (signal.aborted) break; // left pending: redelivered after retryAfterMs
            await handle(decode(entry));
          }
        } catch (error) {
          if (signal.aborted || closed) break;
          onError(error as Error);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      await release(connection);
    }
  }

  return {
    append,
    read,
    head,
    latest,
    follow: (after, signal, accept) => fanout.follow(after, signal, accept),
    consume,
    async close() {
      if (closed) return;
      closed = true;
      await fanout.close();
      await Promise.all([...blocking].map(release));
      tail = null;
      await command.quit().catch(() => command.disconnect());
    },
  };
}
