/**
 * Stripe's Search Query Language, the part Concord and its tests need:
 *
 *   clause   := ['-'] field op value
 *   field    := name | metadata['key'] | metadata["key"]
 *   op       := ':' (exact) | '~' (substring, at least 3 characters) | '>' | '<' | '>=' | '<='
 *   value    := 'quoted' | "quoted" | number | null
 *   query    := clause ((AND | OR | ' ') clause)*
 *
 * As on Stripe: at most 10 clauses (configurable), AND and OR cannot be mixed, no parentheses,
 * clauses separated by a space are ANDed, and each resource has its own list of searchable fields.
 * Results are fresh here; real Stripe search lags writes by up to a minute (see the adapter).
 */
import { StripeApiError } from './errors';

export interface Clause {
  field: string;
  /** Set for `metadata['key']`. */
  metadataKey?: string;
  op: ':' | '~' | '>' | '<' | '>=' | '<=';
  /** null for the `null` literal. */
  value: string | null;
  negated: boolean;
}

export interface Query {
  combinator: 'AND' | 'OR';
  clauses: Clause[];
}

/** How a searchable field is read from a record, and whether it compares as a number. */
export interface SearchField<T> {
  get: (record: T, metadataKey?: string) => string | number | null | undefined;
  numeric?: boolean;
}

function fail(message: string): never {
  throw StripeApiError.invalid(message, 'query');
}

function readQuoted(text: string, at: number): { value: string; end: number } {
  const quote = text[at];
  let value = '';
  let i = at + 1;
  for (; i < text.length && text[i] !== quote; i++) {
    if (text[i] === '\\' && i + 1 < text.length) i++;
    value += text[i];
  }
  if (i >= text.length) fail(`Unterminated string in search query at position ${at}.`);
  return { value, end: i + 1 };
}

/** Parse a query string; `maxClauses` is Stripe's limit of 10 unless configured otherwise. */
export function parseQuery(text: string, maxClauses: number): Query {
  const clauses: Clause[] = [];
  const joins = new Set<'AND' | 'OR'>();
  let i = 0;
  const skipSpaces = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  skipSpaces();
  if (i >= text.length) fail('The search query cannot be empty.');

  while (i < text.length) {
    const negated = text[i] === '-';
    if (negated) i++;
    const nameMatch = /^[a-z_][a-z0-9_.]*/i.exec(text.slice(i));
    if (!nameMatch) fail(`Invalid search query: expected a field name at position ${i}.`);
    const field = nameMatch[0];
    i += field.length;
    let metadataKey: string | undefined;
    if (text[i] === '[') {
      if (field !== 'metadata' || (text[i + 1] !== "'" && text[i + 1] !== '"')) fail(`Invalid search query near '${field}['.`);
      const key = readQuoted(text, i + 1);
      if (text[key.end] !== ']') fail(`Invalid search query: expected ']' after metadata key.`);
      metadataKey = key.value;
      i = key.end + 1;
    } else if (field === 'metadata') {
      fail(`metadata must be followed by a key, as in metadata['key'].`);
    }
    const opMatch = /^(>=|<=|:|~|>|<)/.exec(text.slice(i));
    if (!opMatch) fail(`Invalid search query: expected an operator after '${field}'.`);
    const op = opMatch[0] as Clause['op'];
    i += op.length;
    let value: string | null;
    if (text[i] === "'" || text[i] === '"') {
      const quoted = readQuoted(text, i);
      value = quoted.value;
      i = quoted.end;
    } else {
      const bare = /^[^\s'"]+/.exec(text.slice(i));
      if (!bare) fail(`Invalid search query: expected a value after '${field}${op}'.`);
      value = bare[0] === 'null' ? null : bare[0];
      if (value !== null && !/^-?\d+(\.\d+)?$/.test(value)) fail(`String values in search queries must be quoted: ${value}`);
      i += bare[0].length;
    }
    if (op === '~' && (value === null || value.length < 3)) fail('Substring matches (~) need at least 3 characters.');
    clauses.push({ field, metadataKey, op, value, negated });
    if (clauses.length > maxClauses) {
      fail(`Search queries can contain at most ${maxClauses} clauses.`);
    }

    const before = i;
    skipSpaces();
    if (i >= text.length) break;
    const join = /^(AND|OR)\s+/i.exec(text.slice(i));
    if (join) {
      joins.add(join[1].toUpperCase() as 'AND' | 'OR');
      i += join[0].length;
    } else if (i === before) {
      fail(`Invalid search query near position ${i}.`);
    } else {
      joins.add('AND'); // clauses separated by a space are ANDed
    }
    if (joins.size > 1) fail('Search queries cannot combine AND and OR; use one or the other.');
    skipSpaces();
    if (i >= text.length) fail('The search query cannot end with AND or OR.');
  }
  return { combinator: joins.has('OR') ? 'OR' : 'AND', clauses };
}

function test<T>(clause: Clause, spec: SearchField<T>, record: T): boolean {
  const actual = spec.get(record, clause.metadataKey);
  let result: boolean;
  if (clause.value === null) {
    result = clause.op === ':' && (actual === null || actual === undefined || actual === '');
  } else if (actual === null || actual === undefined) {
    result = false;
  } else if (clause.op === ':') {
    result = spec.numeric
      ? Number(actual) === Number(clause.value)
      : String(actual).toLowerCase() === clause.value.toLowerCase();
  } else if (clause.op === '~') {
    result = String(actual).toLowerCase().includes(clause.value.toLowerCase());
  } else {
    const a = Number(actual);
    const b = Number(clause.value);
    result = clause.op === '>' ? a > b : clause.op === '<' ? a < b : clause.op === '>=' ? a >= b : a <= b;
  }
  return clause.negated ? !result : result;
}

/** A predicate for `query` over records of one resource, rejecting fields it cannot search. */
export function compileQuery<T>(
  query: Query,
  fields: Record<string, SearchField<T>>,
  resource: string,
): (record: T) => boolean {
  for (const clause of query.clauses) {
    const spec = fields[clause.field];
    if (!spec) {
      fail(`Field '${clause.field}' is an unsupported search field for resource ${resource}. See https://stripe.com/docs/search#query-fields-for-${resource}s for a list of supported fields.`);
    }
    if (spec.numeric && clause.op === '~') fail(`Substring matches (~) are not supported for numeric field '${clause.field}'.`);
    if (!spec.numeric && ['>', '<', '>=', '<='].includes(clause.op)) {
      fail(`Range operators are only supported for numeric fields, not '${clause.field}'.`);
    }
  }
  return (record) => {
    const results = query.clauses.map((clause) => test(clause, fields[clause.field], record));
    return query.combinator === 'AND' ? results.every(Boolean) : results.some(Boolean);
  };
}
