/**
 * A small least-recently-used map: caches of per-operation work (parsing, admission, plans).
 * Bounded by count, and optionally by weight (an estimate of the bytes an entry holds): a cache of
 * parsed documents must be bounded by what they cost in memory, since one large document can hold
 * a thousand times what a small one does.
 */
export interface LruWeight<V> {
  /** Most total weight kept; the least recently used entries go first beyond it. */
  max: number;
  /** The weight of one entry (for example its estimated bytes). */
  of(key: string, value: V): number;
}

export class Lru<V> {
  private readonly map = new Map<string, { value: V; weight: number }>();
  private total = 0;
  constructor(
    private readonly size: number,
    private readonly weight?: LruWeight<V>,
  ) {}
  get(key: string): V | undefined {
    const entry = this.map.get(key);
    if (entry !== undefined) {
      this.map.delete(key);
      this.map.set(key, entry);
    }
    return entry?.value;
  }
  set(key: string, value: V): void {
    this.delete(key);
    const weight = this.weight ? this.weight.of(key, value) : 0;
    // An entry heavier than the whole budget is not kept at all.
    if (this.weight && weight > this.weight.max) return;
    this.map.set(key, { value, weight });
    this.total += weight;
    while (this.map.size > this.size || (this.weight && this.total > this.weight.max)) this.delete(this.map.keys().next().value!);
  }
  /** Total weight held (0 without a weight). */
  get weightHeld(): number {
    return this.total;
  }
  get count(): number {
    return this.map.size;
  }
  private delete(key: string): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.map.delete(key);
    this.total -= entry.weight;
  }
}
