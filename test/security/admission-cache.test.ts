/**
 * The admission caches are bounded by the memory their entries hold, not only by their count: a
 * stream of unique, large documents (admitted or refused) cannot pin more than the byte budget.
 */
import { Lru } from '../../core/lru';

describe('caches bounded by weight', () => {
  it('drops the least recently used entries once the weight passes the budget', () => {
    const lru = new Lru<string>(1000, { max: 100, of: (_key, value) => value.length });
    lru.set('a', 'x'.repeat(40));
    lru.set('b', 'x'.repeat(40));
    expect(lru.get('a')).toBeDefined(); // a is now the most recent
    lru.set('c', 'x'.repeat(40));
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBeDefined();
    expect(lru.get('c')).toBeDefined();
    expect(lru.weightHeld).toBe(80);
  });

  it('keeps no entry heavier than the whole budget, and still bounds by count', () => {
    const lru = new Lru<string>(2, { max: 100, of: (_key, value) => value.length });
    lru.set('huge', 'x'.repeat(101));
    expect(lru.get('huge')).toBeUndefined();
    for (const key of ['a', 'b', 'c']) lru.set(key, 'x');
    expect(lru.count).toBe(2);
    expect(lru.weightHeld).toBe(2);
  });

  it('replacing an entry replaces its weight', () => {
    const lru = new Lru<string>(10, { max: 100, of: (_key, value) => value.length });
    lru.set('a', 'x'.repeat(60));
    lru.set('a', 'x'.repeat(10));
    expect(lru.weightHeld).toBe(10);
  });
});
