/**
 * RunStore in Redis: durable runs shared by every worker and subgraph replica.
 *
 * Key layout (P = `{<prefix>}:o2c`):
 *   P:run:<id>        hash  json (the Run), status, version, created (createdAt in ms)
 *   P:idem:<key>      string -> run id (idempotency key index)
 *   P:opp:<oppId>     string -> run id of the opportunity's latest run
 *   P:runs            zset of every run id, scored by createdAt ms (for `list`)
 *   P:status:<STATUS> zset per RunStatus, same scores (filtered `list`, `countByStatus`)
 *   P:lease:<runId>   string holder, with PX expiry
 *
 * Redis Cluster: every key carries the hash tag `{<prefix>}`, so all keys of one prefix live in one
 * slot and the multi-key Lua scripts below are legal in cluster mode. That puts all runs of a
 * prefix in one slot; the cluster shards by prefix (one prefix per tenant), not by run. The tag
 * holds the prefix itself because a constant tag (`{o2c}`) would put every tenant in one slot.
 *
 * The scripts are inline rather than .lua files so that `npm run build` (tsc only) ships them.
 */
import { failFastRedisOptions, guardRedis } from '../../core/redis-availability';
import { createHash } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import type { Page } from '../../core/canonical';
import { RUN_STATUSES, type Run, type RunStatus } from './model';
import type { CreateResult, RunStore } from './store';

export interface RedisRunStoreOptions {
  /**
   * An ioredis client (or Cluster) owned by the caller; the store never quits it. Default: none,
   * in which case `url` is used.
   */
  redis?: Redis | Cluster;
  /** Redis URL for a client the store creates and quits on close(). Default: redis://127.0.0.1:6379. */
  url?: string;
  /** Namespace of every key (one per tenant or test). Default: 'concord'. */
  prefix?: string;
  /** Longest a command waits (connecting included) before it fails as SERVICE_UNAVAILABLE, in ms. Default 2000. */
  commandTimeoutMs?: number;
  /** Told of connection errors of a client the store made (it reconnects by itself). Default: ignored. */
  onError?: (error: Error) => void;
}

/** Page sizes above this are cut, to bound the work of one list call. */
export const MAX_PAGE_SIZE = 200;

// ------------------------------------------------------------------------------------------ Lua

const CREATE = `
--[[
  Create a run unless its idempotency key is taken or its opportunity has a live run.
  Input:
    KEYS[1] run hash       P:run:<id>
    KEYS[2] key index      P:idem:<key>
    KEYS[3] opp index      P:opp:<opportunityId>
    KEYS[4] all runs zset  P:runs
    KEYS[5] status zset    P:status:<status>
    ARGV[1] base P (existing runs are read at P:run:<existingId>; same hash tag, same slot)
    ARGV[2] run id   ARGV[3] run json   ARGV[4] status   ARGV[5] version   ARGV[6] createdAt ms
  Output:
    {'existing-key', json} | {'existing-opportunity', json} | {'created'}
]]
local existing = redis.call('GET', KEYS[2])
if existing then
  return {'existing-key', redis.call('HGET', ARGV[1] .. ':run:' .. existing, 'json')}
end
local live = redis.call('GET', KEYS[3])
if live then
  local fields = redis.call('HMGET', ARGV[1] .. ':run:' .. live, 'status', 'json')
  if fields[1] and fields[1] ~= 'COMPENSATED' then
    return {'existing-opportunity', fields[2]}
  end
end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'status', ARGV[4], 'version', ARGV[5], 'created', ARGV[6])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[2])
return {'created'}
`;

const SAVE = `
--[[
  Optimistic save: write the run only if the stored version is the one the caller read.
  Input:
    KEYS[1] run hash  P:run:<id>
    ARGV[1] base P (status sets are P:status:<status>; same hash tag, same slot)
    ARGV[2] run id   ARGV[3] expected version   ARGV[4] new json (version already + 1)   ARGV[5] new status
  Output:
    1 saved | nil when the run is absent or its version differs
]]
local current = redis.call('HMGET', KEYS[1], 'version', 'status', 'created')
if not current[1] or current[1] ~= ARGV[3] then
  return nil
end
redis.call('HSET', KEYS[1], 'json', ARGV[4], 'status', ARGV[5], 'version', tostring(tonumber(ARGV[3]) + 1))
if current[2] ~= ARGV[5] then
  redis.call('ZREM', ARGV[1] .. ':status:' .. current[2], ARGV[2])
  -- the creation score is kept, so a save never moves a run in list order
  redis.call('ZADD', ARGV[1] .. ':status:' .. ARGV[5], current[3], ARGV[2])
end
return 1
`;

const LIST = `
--[[
  One page, newest first: score (createdAt ms) descending, ties by run id descending (the order
  ZREVRANGE uses). The cursor is a run id; its position comes from its hash (field 'created'),
  so it stays valid after the run moved to another status set or newer runs were added.
  Input:
    KEYS[1] zset to page (P:runs or P:status:<status>)
    ARGV[1] base P   ARGV[2] page size   ARGV[3] cursor run id or ''
  Output:
    {hasNextPage (0|1), json...}
]]
-- byte order, as the zset orders equal scores; Lua's '<' would use the server's locale (strcoll)
local function bytesBefore(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local want = tonumber(ARGV[2]) + 1
local ids
if ARGV[3] == '' then
  ids = redis.call('ZREVRANGE', KEYS[1], 0, want - 1)
else
  local score = redis.call('HGET', ARGV[1] .. ':run:' .. ARGV[3], 'created')
  if not score then return {0} end
  ids = {}
  -- runs created in the same millisecond as the cursor and after it in the order
  local ties = redis.call('ZRANGEBYSCORE', KEYS[1], score, score)
  for i = #ties, 1, -1 do
    if #ids >= want then break end
    if bytesBefore(ties[i], ARGV[3]) then ids[#ids + 1] = ties[i] end
  end
  if #ids < want then
    local older = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. score, '-inf', 'LIMIT', 0, want - #ids)
    for _, id in ipairs(older) do ids[#ids + 1] = id end
  end
end
local result = {0}
for i, id in ipairs(ids) do
  if i == want then
    result[1] = 1
  else
    result[#result + 1] = redis.call('HGET', ARGV[1] .. ':run:' .. id, 'json')
  end
end
return result
`;

const LEASE = `
--[[
  Take the lease when free, or extend it when the caller already holds it.
  Input:  KEYS[1] P:lease:<runId>   ARGV[1] holder   ARGV[2] ttl ms
  Output: 1 held by the caller | 0 held by someone else
]]
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

const RELEASE = `
--[[
  Compare-and-delete: only the holder may release (a lease that expired and was taken by another
  worker must not be deleted by the late first holder).
  Input:  KEYS[1] P:lease:<runId>   ARGV[1] holder
  Output: 1 released | 0 not held by the caller
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = {
  create: script(CREATE),
  save: script(SAVE),
  list: script(LIST),
  lease: script(LEASE),
  release: script(RELEASE),
};

// ------------------------------------------------------------------------------------ the store

export function createRedisRunStore(options: RedisRunStoreOptions = {}): RunStore {
  const { redis: given, url = 'redis://127.0.0.1:6379', prefix = 'concord', onError, commandTimeoutMs = 2000 } = options;
  // Every command fails fast and as SERVICE_UNAVAILABLE when Redis cannot be reached (core/redis-availability.ts).
  const client: Redis | Cluster = given ?? new Redis(url, failFastRedisOptions(commandTimeoutMs));
  const redis = guardRedis(client);
  // ioredis reconnects by itself; without a listener a dropped connection would be an unhandled event.
  if (!given) client.on('error', (error: Error) => onError?.(error));
  const base = `{${prefix}}:o2c`;
  const keys = {
    run: (id: string) => `${base}:run:${id}`,
    idem: (key: string) => `${base}:idem:${key}`,
    opp: (opportunityId: string) => `${base}:opp:${opportunityId}`,
    runs: `${base}:runs`,
    status: (status: RunStatus) => `${base}:status:${status}`,
    lease: (runId: string) => `${base}:lease:${runId}`,
  };

  /**
   * EVALSHA, falling back to EVAL when the server has not cached the script (restart, failover, new
   * cluster node). Done by hand rather than with defineCommand so a caller's client is not altered.
   */
  async function evalScript(s: Script, keyList: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(s.sha, keyList.length, ...keyList, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(s.source, keyList.length, ...keyList, ...args);
    }
  }

  const parse = (json: string): Run => JSON.parse(json) as Run;

  async function get(id: string): Promise<Run | null> {
    const json = await redis.hget(keys.run(id), 'json');
    return json === null ? null : parse(json);
  }

  /** Follow an index key (idempotency key, opportunity) to its run. */
  async function follow(indexKey: string): Promise<Run | null> {
    const id = await redis.get(indexKey);
    return id === null ? null : get(id);
  }

  return {
    async create(run) {
      const createdMs = Date.parse(run.createdAt);
      if (Number.isNaN(createdMs)) throw new Error(`run ${run.id}: createdAt is not a timestamp: ${run.createdAt}`);
      const reply = (await evalScript(
        SCRIPTS.create,
        [
          keys.run(run.id),
          keys.idem(run.idempotencyKey),
          keys.opp(run.opportunityId),
          keys.runs,
          keys.status(run.status),
        ],
        [base, run.id, JSON.stringify(run), run.status, run.version, createdMs],
      )) as [CreateResult['outcome'], string?];
      const [outcome, json] = reply;
      switch (outcome) {
        case 'created':
          return { outcome, run: structuredClone(run) };
        case 'existing-key':
        case 'existing-opportunity':
          return { outcome, run: parse(json!) };
      }
    },

    get,

    findByKey: (idempotencyKey) => follow(keys.idem(idempotencyKey)),

    async save(run) {
      const saved: Run = { ...structuredClone(run), version: run.version + 1 };
      const reply = await evalScript(
        SCRIPTS.save,
        [keys.run(run.id)],
        [base, run.id, run.version, JSON.stringify(saved), saved.status],
      );
      return reply === null ? null : saved;
    },

    async list(filter, page): Promise<Page<Run>> {
      const first = Math.max(0, Math.min(page.first, MAX_PAGE_SIZE));
      const zset = filter.status ? keys.status(filter.status) : keys.runs;
      const reply = await evalScript(SCRIPTS.list, [zset], [base, first, page.after ?? '']);
      const [hasNext, ...jsons] = reply as [number, ...(string | null)[]];
      // a run hash missing under an indexed id would be a bug elsewhere; skip it rather than fail the page
      const items = jsons.filter((json): json is string => json !== null).map(parse);
      return { items, hasNextPage: hasNext === 1, endCursor: items.length ? items[items.length - 1].id : null };
    },

    forOpportunity: (opportunityId) => follow(keys.opp(opportunityId)),

    async countByStatus() {
      // MULTI so the figures are one snapshot (a run moving between sets is counted once)
      const transaction = redis.multi();
      for (const status of RUN_STATUSES) transaction.zcard(keys.status(status));
      const replies = (await transaction.exec()) ?? [];
      const counts = {} as Record<RunStatus, number>;
      RUN_STATUSES.forEach((status, i) => {
        const [error, count] = replies[i] ?? [null, 0];
        if (error) throw error;
        counts[status] = Number(count);
      });
      return counts;
    },

    async lease(runId, holder, ttlMs) {
      return (await evalScript(SCRIPTS.lease, [keys.lease(runId)], [holder, Math.max(1, Math.ceil(ttlMs))])) === 1;
    },

    async release(runId, holder) {
      await evalScript(SCRIPTS.release, [keys.lease(runId)], [holder]);
    },

    async close() {
      if (!given) await redis.quit();
    },
  };
}
