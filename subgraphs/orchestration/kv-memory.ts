/** KeyValueStore in process memory: embedded mode (not durable, one process). */
import type { KeyValueStore } from './kv';

interface Entry {
  value: string;
  /** ms since the epoch, or null for no expiry. */
  expiresAt: number | null;
}

export function createMemoryKeyValueStore(options: { now?: () => number } = {}): KeyValueStore {
  const { now = Date.now } = options;
  const values = new Map<string, Entry>();
  const lists = new Map<string, string[]>();

  function read(key: string): string | null {
    const entry = values.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= now()) {
      values.delete(key);
      return null;
    }
    return entry.value;
  }
  const write = (key: string, value: string, ttlMs?: number, keepExpiry = false) => {
    const expiresAt = ttlMs !== undefined ? now() + ttlMs : keepExpiry ? values.get(key)?.expiresAt ?? null : null;
    values.set(key, { value, expiresAt });
  };

  return {
    async get(key) {
      return read(key);
    },
    async getMany(keys) {
      return keys.map(read);
    },
    async set(key, value, ttlMs) {
      write(key, value, ttlMs);
    },
    async setMany(entries, ttlMs) {
      for (const [key, value] of entries) write(key, value, ttlMs);
    },
    async setIfAbsent(key, value, ttlMs) {
      if (read(key) !== null) return false;
      write(key, value, ttlMs);
      return true;
    },
    async compareAndSet(key, expected, value, ttlMs) {
      if (read(key) !== expected) return false;
      write(key, value, ttlMs, true);
      return true;
    },
    async deleteIfEquals(key, expected) {
      if (read(key) !== expected) return false;
      values.delete(key);
      return true;
    },
    async expireIfEquals(key, expected, ttlMs) {
      if (read(key) !== expected) return false;
      write(key, expected, ttlMs);
      return true;
    },
    async pushCapped(key, value, max) {
      const list = [value, ...(lists.get(key) ?? [])].slice(0, Math.max(1, max));
      lists.set(key, list);
    },
    async listRange(key, count) {
      return (lists.get(key) ?? []).slice(0, Math.max(0, count));
    },
    async close() {},
  };
}
