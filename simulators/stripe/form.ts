/**
 * Stripe's request encoding: `application/x-www-form-urlencoded` bodies (and query strings) with
 * bracket notation for nesting: `metadata[key]=v`, `items[0][price]=p`, `expand[]=customer`.
 * stripe-node sends indexed arrays (`expand[0]=...`); curl users send `expand[]=...`. Both decode to
 * the same tree here, so handlers and the idempotency fingerprint never see the difference.
 */
import { StripeApiError } from './errors';

export type ParamValue = string | ParamValue[] | Params;
export interface Params {
  [key: string]: ParamValue;
}

/** `items[0][price]` -> ['items', '0', 'price']; `expand[]` -> ['expand', '']. */
function splitKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const pattern = /\[([^\]]*)\]/g;
  let consumed = 0;
  for (let m = pattern.exec(rest); m; m = pattern.exec(rest)) {
    if (m.index !== consumed) return null;
    segments.push(m[1]);
    consumed = m.index + m[0].length;
  }
  return consumed === rest.length && segments[0] !== '' ? segments : null;
}

const isIndex = (segment: string) => segment === '' || /^\d+$/.test(segment);

function invalidKey(key: string): StripeApiError {
  return StripeApiError.invalid(`Invalid parameter name: ${key}`, key);
}

/** Decode a form body or query string into a tree of strings, arrays and objects. */
export function decodeForm(input: string | URLSearchParams): Params {
  const search = typeof input === 'string' ? new URLSearchParams(input) : input;
  const root: Params = {};
  // Indexed array members are gathered by index first, so `a[1]` before `a[0]` still lands in order.
  const indexed = new Map<ParamValue[], Map<number, ParamValue>>();

  for (const [key, value] of search) {
    const segments = splitKey(key);
    if (!segments) throw invalidKey(key);
    let container: Params | ParamValue[] = root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      const last = i === segments.length - 1;
      const next: ParamValue | undefined = last ? value : isIndex(segments[i + 1]) ? [] : {};
      if (Array.isArray(container)) {
        if (!isIndex(segment)) throw invalidKey(key);
        let slots = indexed.get(container);
        if (!slots) indexed.set(container, (slots = new Map()));
        // `a[]` appends; `a[]`-style objects (`a[][x]`) are not something Stripe accepts either.
        const index = segment === '' ? slots.size : Number(segment);
        const existing = slots.get(index);
        if (last) {
          slots.set(index, value);
        } else if (existing !== undefined && typeof existing !== 'string' && Array.isArray(existing) === Array.isArray(next)) {
          container = existing;
        } else {
          slots.set(index, next!);
          container = next as Params | ParamValue[];
        }
        continue;
      }
      const existing: ParamValue | undefined = container[segment];
      if (last) {
        if (existing !== undefined && typeof existing !== 'string') throw invalidKey(key);
        container[segment] = value;
      } else if (existing === undefined) {
        container[segment] = next!;
        container = next as Params | ParamValue[];
      } else if (typeof existing === 'string' || Array.isArray(existing) !== Array.isArray(next)) {
        throw invalidKey(key);
      } else {
        container = existing;
      }
    }
  }

  for (const [array, slots] of indexed) {
    for (const index of [...slots.keys()].sort((a, b) => a - b)) array.push(slots.get(index)!);
  }
  return root;
}

/** A stable text form of decoded parameters: the same request always gives the same string. */
export function fingerprint(params: ParamValue): string {
  if (typeof params === 'string') return JSON.stringify(params);
  if (Array.isArray(params)) return `[${params.map(fingerprint).join(',')}]`;
  const keys = Object.keys(params).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${fingerprint(params[k])}`).join(',')}}`;
}
