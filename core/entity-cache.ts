/**
 * The entity cache's store: canonical entities that vendor reads returned (a CRM account, a billing
 * customer, a customer's contracts and invoices, an ERP profile, a posting), kept so that a repeated
 * read costs the vendor nothing. Vendor-neutral: it holds JSON under (unit, kind) keys and knows no
 * vendor; subgraphs/common/cached-reads.ts puts it around the ports' reads, and
 * subgraphs/common/cache-invalidation.ts drives invalidation from Concord's writes and events.
 *
 * A unit is what one invalidation drops at once: one system's records of a customer
 * (`billing/customer:<id>`), a contract or an invoice (`cacheUnits` below). Each unit has a generation; invalidating the unit bumps it, and a value counts only
 * while it was stored under the unit's current generation. A fill carries the generations its read
 * started under (a ticket), so a vendor read that was in flight when a change was announced cannot
 * store what it read before the change: the classic race of read-through caches.
 *
 * Only vendor data is cached, never an answer to a caller: authorization and portal scoping are
 * applied by the resolvers to what the loaders return, after the cache, so one caller's view never
 * serves another's.
 *
 * Two stores: memory (embedded mode: one process, bounded by bytes, least recently used first) and
 * Redis (core/entity-cache-redis.ts: shared by every replica, so an invalidation by any process is
 * seen by all at once).
 */
import { Lru } from './lru';

/**
 * Set by the gateway on subgraph fetches (value `no-cache`) when the client's request said
 * `cache-control: no-cache` (RFC 9111 5.2.1.4: do not answer from a store without going to the
 * origin): that request's entity reads go to the vendors (subgraphs/common/cached-reads.ts
 * `refresh`). Outside the signature: all it can do is make a read cost the vendor calls the cache
 * would have saved, which the caller could have asked for anyway.
 */
export const CACHE_CONTROL_HEADER = 'x-concord-cache-control';

/** True when a client's `cache-control` header asks for no stored answer (`no-cache`, or `no-store`). */
export function wantsNoCache(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  return /(^|[\s,])no-(cache|store)([\s,=]|$)/i.test(value);
}

/** One cached thing: `kind` of `unit` (for example unit `billing/customer:001...`, kind `billing.stripe.contracts`). */
export interface CacheKey {
  unit: string;
  kind: string;
}

/** What a read saw of each unit's generation, to be shown again when its misses are filled. */
export interface FillTicket {
  readonly gens: ReadonlyMap<string, string>;
}

export interface CacheRead {
  /** The stored JSON per key, in order; undefined = not cached (or no longer valid). */
  values: (string | undefined)[];
  ticket: FillTicket;
}

export interface EntityCacheStore {
  /** Values of `keys`; with `bypass`, every value is a miss but the ticket is real (a refresh fills). */
  read(keys: readonly CacheKey[], bypass?: boolean): Promise<CacheRead>;
  /** Store values read from the vendor; a unit whose generation moved since `ticket` is skipped. */
  fill(ticket: FillTicket, entries: readonly { key: CacheKey; json: string }[]): Promise<void>;
  /** Drop everything cached for these units (bump their generations). */
  invalidate(units: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export interface MemoryEntityCacheOptions {
  ttlMs: number;
  /** Most bytes of JSON kept (estimated as 2 bytes a character, plus the key). */
  maxBytes: number;
  /** Units whose generation is remembered; beyond it the oldest are forgotten (safely). Default 100,000. */
  maxUnits?: number;
  now?: () => number;
}

interface MemoryEntry {
  gen: number;
  json: string;
  expiresAt: number;
}

/**
 * The embedded-mode store. Generations come from one clock, so a forgotten unit's generation can be
 * taken as the highest one ever forgotten (`floor`): at worst values go invalid early, never late.
 */
export function createMemoryEntityCache(options: MemoryEntityCacheOptions): EntityCacheStore {
  const { ttlMs, maxBytes, maxUnits = 100_000, now = Date.now } = options;
  const values = new Lru<MemoryEntry>(Number.MAX_SAFE_INTEGER, { max: maxBytes, of: (key, entry) => 2 * (key.length + entry.json.length) + 64 });
  let clock = 0;
  let floor = 0;
  const gens = new Map<string, number>();
  const genOf = (unit: string) => gens.get(unit) ?? floor;
  const keyOf = (key: CacheKey) => `${key.unit}\n${key.kind}`;

  return {
    async read(keys, bypass = false) {
      const seen = new Map<string, string>();
      const out: (string | undefined)[] = [];
      const at = now();
      for (const key of keys) {
        const gen = genOf(key.unit);
        seen.set(key.unit, String(gen));
        if (bypass) {
          out.push(undefined);
          continue;
        }
        const entry = values.get(keyOf(key));
        out.push(entry && entry.gen === gen && entry.expiresAt > at ? entry.json : undefined);
      }
      return { values: out, ticket: { gens: seen } };
    },
    async fill(ticket, entries) {
      const expiresAt = now() + ttlMs;
      for (const { key, json } of entries) {
        const gen = genOf(key.unit);
        if (ticket.gens.get(key.unit) !== String(gen)) continue;
        values.set(keyOf(key), { gen, json, expiresAt });
      }
    },
    async invalidate(units) {
      for (const unit of units) {
        gens.delete(unit);
        gens.set(unit, ++clock);
      }
      // Forget the oldest generations (Map keeps insertion order; re-set units moved to the end).
      while (gens.size > maxUnits) {
        const [unit, gen] = gens.entries().next().value as [string, number];
        gens.delete(unit);
        floor = Math.max(floor, gen);
      }
    },
    async close() {},
  };
}

/** The system whose records a unit holds: a change reported by one system drops only its own records. */
export type CacheSystem = 'crm' | 'billing' | 'erp';

/**
 * Units of the entities the cache holds, per system: `erp/customer:<id>` is the ERP's records of a
 * customer (its profile), `billing/invoice:<id>` the billing system's invoice, `erp/invoice:<id>`
 * the ERP's posting of it. So an ERP credit hold does not make the view read Stripe again.
 */
export const cacheUnits = {
  customer: (system: CacheSystem, id: string) => `${system}/customer:${id}`,
  contract: (system: CacheSystem, id: string) => `${system}/contract:${id}`,
  invoice: (system: CacheSystem, id: string) => `${system}/invoice:${id}`,
};
