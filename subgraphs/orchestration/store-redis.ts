/**
 * RunStore in Redis: durable runs shared by every worker and subgraph replica.
 *
 * Key layout (P = `<prefix>:o2c`). Each key is hash-tagged by its unit of atomicity, so a Redis
 * Cluster spreads runs over its masters and every script below touches one slot only:
 *   {P:run:<id>}          hash  json (the Run), status, version, created (createdAt in ms)
 *   {P:run:<id>}:lease    string holder, with PX expiry (the run's slot)
 *   {P:idem:<key>}        string -> run id (idempotency key index)
 *   {P:opp:<oppId>}       string -> run id of the opportunity's latest run
 *   {P:index}:runs        zset of every run id, scored by createdAt ms (for `list`)
 *   {P:index}:status:<S>  zset per RunStatus, same scores (filtered `list`, `countByStatus`)
 *   {P:index}:indexed     hash run id -> "<version> <status>" the index last recorded
 *
 * A run, its key index, its opportunity index and the listing index are four units, so creating a
 * run is four single-slot steps in an order that is safe wherever it stops (docs/deploy.md):
 *   1. the run record, with an expiry (provisional): nothing points at it yet;
 *   2. the opportunity pointer, compare-and-set from a free holder (none, a missing run, or a
 *      COMPENSATED one: a terminal state) to this run; a live holder ends the create;
 *   3. the idempotency-key pointer, compare-and-set the same way; a key held by another run undoes 2;
 *   4. the record made permanent (PERSIST), only if it has not expired meanwhile; then the index.
 * A crash leaves at most a provisional record that expires, and pointers to a run that no longer
 * exists, which every step treats as free. A start that stopped after step 2 or 3 is found by a
 * replay (by its key, or by its deal with the same key); the replay makes the record permanent
 * before it answers with the run (no competitor can hold the deal while the record exists, so
 * rolling forward is as safe as step 4), so a run id the API has given out never expires. (Issue
 * 15: a replay used to leave that to the run's first save; on a busy machine the worker came after
 * the expiry and the accepted run read as null for good.) The record's expiry is the arbiter
 * between a creator that stalled past it and a competitor that took the pointer over: the stalled
 * creator's step 4 fails, so it undoes its pointers and answers SERVICE_UNAVAILABLE (retryable).
 *
 * The listing index follows the record: each save updates it after the record, guarded by the
 * run's version so that out-of-order updates never move it back. If a process stops between the
 * two, the next save (or a filtered `list` that meets the stale entry) brings it up to date.
 *
 * The scripts, one per single-slot step, are in store-redis-scripts.ts.
 */
import { failFastRedisOptions, guardRedis } from '../../core/redis-availability';
import type { Redis, Cluster } from 'ioredis';
import type { Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { createRedisClient, tag } from '../../core/redis';
import { RUN_STATUSES, type Run, type RunStatus } from './model';
import type { CreateResult, RunStore } from './store';
import { SCRIPTS, type Script } from './store-redis-scripts';

export interface RedisRunStoreOptions {
  /**
   * An ioredis client (or Cluster) owned by the caller; the store never quits it. Default: none,
   * in which case `url` is used.
   */
  redis?: Redis | Cluster;
  /** Redis URL (or cluster URL, core/redis.ts) for a client the store creates and quits on close(). Default: redis://127.0.0.1:6379. */
  url?: string;
  /** Namespace of every key (one per tenant or test). Default: 'concord'. */
  prefix?: string;
  /** Longest a command waits (connecting included) before it fails as SERVICE_UNAVAILABLE, in ms. Default 2000. */
  commandTimeoutMs?: number;
  /**
   * How long a run record stays provisional (step 1 to 4 of a create) before it expires, in ms.
   * A create that takes longer fails with SERVICE_UNAVAILABLE and leaves nothing. Default 60000.
   */
  provisionalMs?: number;
  /** Told of connection errors of a client the store made (it reconnects by itself), and of index updates that failed. Default: ignored. */
  onError?: (error: Error) => void;
}

/** Page sizes above this are cut, to bound the work of one list call. */
export const MAX_PAGE_SIZE = 200;

// ------------------------------------------------------------------------------------ the store

export function createRedisRunStore(options: RedisRunStoreOptions = {}): RunStore {
  const {
    redis: given,
    url = 'redis://127.0.0.1:6379',
    prefix = 'concord',
    onError,
    commandTimeoutMs = 2000,
    provisionalMs = 60_000,
  } = options;
  // Every command fails fast and as SERVICE_UNAVAILABLE when Redis cannot be reached (core/redis-availability.ts).
  const client: Redis | Cluster = given ?? createRedisClient(url, failFastRedisOptions(commandTimeoutMs));
  const redis = guardRedis(client);
  // ioredis reconnects by itself; without a listener a dropped connection would be an unhandled event.
  if (!given) client.on('error', (error: Error) => onError?.(error));
  const p = `${prefix}:o2c`;
  const index = tag(p, 'index');
  const keys = {
    run: (id: string) => tag(p, `run:${id}`),
    lease: (runId: string) => `${tag(p, `run:${runId}`)}:lease`,
    idem: (key: string) => tag(p, `idem:${key}`),
    opp: (opportunityId: string) => tag(p, `opp:${opportunityId}`),
    runs: `${index}:runs`,
    indexed: `${index}:indexed`,
    status: (status: RunStatus) => `${index}:status:${status}`,
  };
  const statusKeys = RUN_STATUSES.map(keys.status);

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

  /** The run, kept for good (the KEEP script); null when its record is gone. */
  async function keep(id: string): Promise<Run | null> {
    const json = (await evalScript(SCRIPTS.keep, [keys.run(id)], [])) as string | null;
    return json === null ? null : parse(json);
  }

  /**
   * A run a create found in its way, about to be answered as a replay: kept for good first. If its
   * provisional record expired meanwhile, its claims are free again, and the caller is told to retry.
   */
  async function replayed(holder: Run): Promise<Run> {
    const kept = await keep(holder.id);
    if (kept) return kept;
    throw new ConcordError('SERVICE_UNAVAILABLE', `run ${holder.id} was abandoned while this start met it; retry with the same idempotency key`, { retryable: true });
  }

  async function get(id: string): Promise<Run | null> {
    const json = await redis.hget(keys.run(id), 'json');
    return json === null ? null : parse(json);
  }

  /** Follow an index key (idempotency key, opportunity) to its run. */
  async function follow(indexKey: string): Promise<Run | null> {
    const id = await redis.get(indexKey);
    return id === null ? null : get(id);
  }

  const point = async (pointer: string, expected: string | null, next: string | null) =>
    (await evalScript(SCRIPTS.point, [pointer], [expected ?? '', next ?? ''])) === 1;

  /**
   * Point `pointer` at `run` unless a run that counts holds it (`holds`). A pointer to a run that no
   * longer exists (a create that stopped half-way) is free. Returns the previous holder's id, or the
   * holder that keeps it.
   */
  async function claim(pointer: string, run: Run, holds: (holder: Run) => boolean): Promise<{ previous: string | null } | { holder: Run }> {
    for (let tries = 0; tries < 20; tries++) {
      const current = await redis.get(pointer);
      // Already ours: a replay through the deal (step 2 of another create) pointed the key at this
      // run while it was being created. Without this the create would find itself as the key's
      // holder and discard its own record, after the replay had answered with its id.
      if (current === run.id) return { previous: null };
      if (current !== null) {
        const holder = await get(current);
        if (holder && holds(holder)) return { holder };
      }
      if (await point(pointer, current, run.id)) return { previous: current };
    }
    throw new ConcordError('CONFLICT', `run ${run.id}: ${pointer} is being changed by other requests; try again`);
  }

  async function reindex(run: Pick<Run, 'id' | 'version' | 'status'>, createdMs: number | string): Promise<void> {
    await evalScript(SCRIPTS.index, [keys.runs, keys.indexed, ...statusKeys], [run.id, run.version, run.status, createdMs, RUN_STATUSES.indexOf(run.status) + 1]);
  }

  /** Index after the record; a failure here is repaired by the next save (see the header). */
  const reindexLater = (run: Run, createdMs: number | string) =>
    reindex(run, createdMs).catch((error: unknown) => onError?.(error instanceof Error ? error : new Error(String(error))));

  return {
    async create(run) {
      const createdMs = Date.parse(run.createdAt);
      if (Number.isNaN(createdMs)) throw new Error(`run ${run.id}: createdAt is not a timestamp: ${run.createdAt}`);
      const record = keys.run(run.id);
      // 1. the record, provisional
      const written = await evalScript(SCRIPTS.record, [record], [JSON.stringify(run), run.status, run.version, createdMs, provisionalMs]);
      if (written !== 1) throw new Error(`run ${run.id} exists already`);
      const discard = () => redis.del(record).then(() => undefined, () => undefined);

      // 2. the opportunity: a live run of it (not COMPENSATED, which is final) keeps it
      const opp = await claim(keys.opp(run.opportunityId), run, (holder) => holder.status !== 'COMPENSATED');
      if ('holder' in opp) {
        await discard();
        if (opp.holder.idempotencyKey !== run.idempotencyKey) return { outcome: 'existing-opportunity', run: opp.holder };
        // The same key for the same deal: the holder's run is the answer, as a replay. Its key
        // pointer is set if its start stopped before step 3, so the key finds it from now on.
        await point(keys.idem(run.idempotencyKey), null, opp.holder.id).catch(() => false);
        return { outcome: 'existing-key', run: await replayed(opp.holder) };
      }
      const undoOpportunity = () => point(keys.opp(run.opportunityId), run.id, opp.previous).catch(() => false);

      // 3. the idempotency key: any run that exists keeps it
      const key = await claim(keys.idem(run.idempotencyKey), run, () => true);
      if ('holder' in key) {
        await undoOpportunity();
        await discard();
        return { outcome: 'existing-key', run: await replayed(key.holder) };
      }

      // 4. permanent, then listed
      if ((await keep(run.id)) === null) {
        await point(keys.idem(run.idempotencyKey), run.id, null).catch(() => false);
        await undoOpportunity();
        throw new ConcordError('SERVICE_UNAVAILABLE', `starting run ${run.id} took longer than ${provisionalMs} ms and was abandoned; retry with the same idempotency key`, { retryable: true });
      }
      await reindexLater(run, createdMs);
      return { outcome: 'created', run: structuredClone(run) };
    },

    get,

    // A replay: the run found is answered to a caller, so it is kept for good (see the header).
    async findByKey(idempotencyKey) {
      const id = await redis.get(keys.idem(idempotencyKey));
      return id === null ? null : keep(id);
    },

    async save(run) {
      const saved: Run = { ...structuredClone(run), version: run.version + 1 };
      const created = await evalScript(SCRIPTS.save, [keys.run(run.id)], [run.version, JSON.stringify(saved), saved.status]);
      if (created === null) return null;
      await reindexLater(saved, created as string);
      return saved;
    },

    async list(filter, page): Promise<Page<Run>> {
      const first = Math.max(0, Math.min(page.first, MAX_PAGE_SIZE));
      const zset = filter.status ? keys.status(filter.status) : keys.runs;
      const [hasNext, ...ids] = (await evalScript(SCRIPTS.list, [zset, keys.runs], [first, page.after ?? ''])) as [number, ...string[]];
      // One read per run, sent together (runs live in slots of their own).
      const records = await Promise.all(ids.map((id) => redis.hmget(keys.run(id), 'json', 'created')));
      const items: Run[] = [];
      for (const [json, created] of records) {
        // a listed id without a record would be a bug elsewhere; skip it rather than fail the page
        if (json === null) continue;
        const run = parse(json);
        if (filter.status && run.status !== filter.status) {
          // The index lags the record (a process stopped between the two): bring it up to date.
          void reindexLater(run, created ?? Date.parse(run.createdAt));
          continue;
        }
        items.push(run);
      }
      const cursor = ids.length ? ids[ids.length - 1] : null;
      return { items, hasNextPage: hasNext === 1, endCursor: cursor };
    },

    forOpportunity: (opportunityId) => follow(keys.opp(opportunityId)),

    async countByStatus() {
      // MULTI (one slot: the index) so the figures are one snapshot (a run moving between sets is counted once)
      const transaction = redis.multi();
      for (const key of statusKeys) transaction.zcard(key);
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
