/**
 * A small key-value store for what the customer master, amendments and reconciliation keep besides
 * runs: reconciliation reports and drifts, the latest run of each subject, and the locks that let
 * one replica at a time reconcile. One interface, two implementations (memory for embedded mode,
 * Redis for production) and one contract suite over both (test/reconciliation/kv.test.ts).
 *
 * Values are strings (callers store JSON). Every conditional write is atomic.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  /** Values of many keys at once (null where absent), in the order asked. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** Set, with an expiry when `ttlMs` is given (none = kept until deleted). */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Set many in one round trip, all with the same expiry. */
  setMany(entries: readonly (readonly [string, string])[], ttlMs?: number): Promise<void>;
  /** Set only if the key is absent: true when set (a lock taken). */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /**
   * Set only if the current value is `expected` (null = the key is absent): true when set. Keeps
   * the key's expiry unless `ttlMs` is given.
   */
  compareAndSet(key: string, expected: string | null, value: string, ttlMs?: number): Promise<boolean>;
  /** Delete only if the value is `expected` (a lock released by its holder only): true when deleted. */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  /** Renew the expiry only if the value is `expected` (a lock kept by its holder only). */
  expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean>;
  /** Put `value` first in a list and keep only its newest `max` entries. */
  pushCapped(key: string, value: string, max: number): Promise<void>;
  /** The newest `count` entries of a list, newest first. */
  listRange(key: string, count: number): Promise<string[]>;
  close(): Promise<void>;
}
