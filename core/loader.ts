import DataLoader from 'dataloader';

/**
 * A per-request DataLoader over a port's batch read that returns a Map: keys the vendor did not
 * return resolve to `missing` (null or []), so one request makes one bulk vendor call per batch.
 */
export function mapLoader<K, V, M extends V | null>(
  fetch: (keys: readonly K[]) => Promise<Map<K, V>>,
  missing: M,
  options: DataLoader.Options<K, V | M, K> = {},
): DataLoader<K, V | M> {
  return new DataLoader<K, V | M>(async (keys) => {
    const found = await fetch(keys);
    return keys.map((key) => (found.has(key) ? found.get(key)! : missing));
  }, options);
}
