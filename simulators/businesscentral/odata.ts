/**
 * The OData v4 query options Business Central's API v2.0 accepts, as far as the simulator needs
 * them: `$filter` (eq ne gt ge lt le, and/or/not, parentheses, contains/startswith/endswith; string
 * literals quoted with '' escaping, numbers, dates, datetimes and GUIDs unquoted), `$orderby` (one
 * or more properties, asc/desc), `$top`, `$skip`, `$select`. Anything else in a filter is a 400 as
 * BC sends it (BadRequest). String comparison is case-sensitive, as BC's SQL collation for API
 * filters is for Code fields stored upper-case; Text fields compare as stored.
 */

export class ODataError extends Error {}

type Token = { kind: 'string' | 'word' | 'literal' | 'punct'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ') {
      i += 1;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c });
      i += 1;
      continue;
    }
    if (c === "'") {
      let text = '';
      i += 1;
      for (;;) {
        if (i >= source.length) throw new ODataError('Unterminated string literal in $filter');
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        text += source[i];
        i += 1;
      }
      tokens.push({ kind: 'string', text });
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_/.]*/.exec(source.slice(i));
    if (word && !/^[0-9a-fA-F]{8}-/.test(source.slice(i))) {
      tokens.push({ kind: 'word', text: word[0] });
      i += word[0].length;
      continue;
    }
    const literal = /^[-0-9A-Fa-f][0-9A-Za-z:.+-]*/.exec(source.slice(i));
    if (literal) {
      tokens.push({ kind: 'literal', text: literal[0] });
      i += literal[0].length;
      continue;
    }
    throw new ODataError(`Syntax error at position ${i} in $filter`);
  }
  return tokens;
}

export type Row = Record<string, unknown>;
type Node = (row: Row) => unknown;

const COMPARISONS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const FUNCTIONS = new Set(['contains', 'startswith', 'endswith']);

function literalValue(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) throw new ODataError(`Invalid datetime literal ${text}`);
    return new Date(at).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return text;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) return text.toLowerCase();
  throw new ODataError(`Invalid literal ${text} in $filter`);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = a === null || a === undefined ? '' : String(a);
  const y = b === null || b === undefined ? '' : String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Parse `$filter` into a row predicate; `fields` are the entity's properties (others are a 400). */
export function parseFilter(source: string, fields: readonly string[]): (row: Row) => boolean {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const next = () => tokens[at++];
  const expectPunct = (text: string) => {
    const token = next();
    if (!token || token.kind !== 'punct' || token.text !== text) throw new ODataError(`Expected '${text}' in $filter`);
  };

  function operand(): Node {
    const token = next();
    if (!token) throw new ODataError('Unexpected end of $filter');
    if (token.kind === 'string') return () => token.text;
    if (token.kind === 'literal') {
      const value = literalValue(token.text);
      return () => value;
    }
    if (token.kind === 'word') {
      if (token.text === 'null') return () => null;
      if (token.text === 'true' || token.text === 'false') return () => token.text === 'true';
      if (!fields.includes(token.text)) throw new ODataError(`Could not find a property named '${token.text}' on type 'Microsoft.NAV.entity'.`);
      return (row) => {
        const value = row[token.text];
        // Datetimes compare in one format.
        if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return new Date(value).toISOString();
        return value;
      };
    }
    throw new ODataError(`Unexpected '${token.text}' in $filter`);
  }

  function primary(): Node {
    const token = peek();
    if (!token) throw new ODataError('Unexpected end of $filter');
    if (token.kind === 'punct' && token.text === '(') {
      next();
      const inner = or();
      expectPunct(')');
      return inner;
    }
    if (token.kind === 'word' && token.text === 'not') {
      next();
      const inner = primary();
      return (row) => !inner(row);
    }
    if (token.kind === 'word' && FUNCTIONS.has(token.text) && tokens[at + 1]?.text === '(') {
      next();
      expectPunct('(');
      const left = operand();
      expectPunct(',');
      const right = operand();
      expectPunct(')');
      const name = token.text;
      return (row) => {
        const a = String(left(row) ?? '');
        const b = String(right(row) ?? '');
        return name === 'contains' ? a.includes(b) : name === 'startswith' ? a.startsWith(b) : a.endsWith(b);
      };
    }
    const left = operand();
    const op = next();
    if (!op || op.kind !== 'word' || !COMPARISONS.has(op.text)) throw new ODataError('Expected a comparison operator in $filter');
    const right = operand();
    return (row) => {
      const a = left(row);
      const b = right(row);
      switch (op.text) {
        case 'eq':
          return (a ?? null) === (b ?? null) || (a !== null && b !== null && compare(a, b) === 0);
        case 'ne':
          return !((a ?? null) === (b ?? null) || (a !== null && b !== null && compare(a, b) === 0));
        case 'gt':
          return compare(a, b) > 0;
        case 'ge':
          return compare(a, b) >= 0;
        case 'lt':
          return compare(a, b) < 0;
        default:
          return compare(a, b) <= 0;
      }
    };
  }

  function and(): Node {
    let left = primary();
    while (peek()?.kind === 'word' && peek().text === 'and') {
      next();
      const l = left;
      const r = primary();
      left = (row) => Boolean(l(row)) && Boolean(r(row));
    }
    return left;
  }

  function or(): Node {
    let left = and();
    while (peek()?.kind === 'word' && peek().text === 'or') {
      next();
      const l = left;
      const r = and();
      left = (row) => Boolean(l(row)) || Boolean(r(row));
    }
    return left;
  }

  const predicate = or();
  if (at !== tokens.length) throw new ODataError(`Syntax error near '${tokens[at].text}' in $filter`);
  return (row) => Boolean(predicate(row));
}

/** `$orderby=a desc,b`: a comparator, or a 400 for an unknown property. */
export function parseOrderBy(source: string, fields: readonly string[]): (a: Row, b: Row) => number {
  const keys = source.split(',').map((part) => {
    const [field, direction = 'asc'] = part.trim().split(/\s+/);
    if (!fields.includes(field)) throw new ODataError(`Could not find a property named '${field}' on type 'Microsoft.NAV.entity'.`);
    if (direction !== 'asc' && direction !== 'desc') throw new ODataError(`Invalid $orderby direction '${direction}'`);
    return { field, sign: direction === 'desc' ? -1 : 1 };
  });
  return (a, b) => {
    for (const { field, sign } of keys) {
      const c = compare(a[field], b[field]);
      if (c !== 0) return c * sign;
    }
    return 0;
  };
}

export interface QueryResult {
  rows: Row[];
  /** Offset of the next server page when the result was cut at the page size, else null. */
  nextSkip: number | null;
}

/**
 * Apply $filter, $orderby, $skip, $top, $skiptoken and $select to an entity set, then cut at the
 * server's page size (BC's is 20,000: the rest is behind @odata.nextLink).
 */
export function runQuery(all: Row[], query: URLSearchParams, fields: readonly string[], maxPageSize: number): QueryResult {
  const number = (name: string) => {
    const raw = query.get(name);
    if (raw === null) return null;
    if (!/^\d+$/.test(raw)) throw new ODataError(`Invalid value '${raw}' for ${name}`);
    return Number(raw);
  };
  let rows = all;
  const filter = query.get('$filter');
  if (filter) {
    const predicate = parseFilter(filter, fields);
    rows = rows.filter(predicate);
  }
  const orderBy = query.get('$orderby');
  if (orderBy) rows = [...rows].sort(parseOrderBy(orderBy, fields));
  const skip = (number('$skip') ?? 0) + (number('$skiptoken') ?? 0);
  const top = number('$top');
  const consumedBefore = number('$skiptoken') ?? 0;
  let window = rows.slice(skip);
  if (top !== null) window = window.slice(0, Math.max(0, top - consumedBefore));
  let nextSkip: number | null = null;
  if (window.length > maxPageSize) {
    window = window.slice(0, maxPageSize);
    nextSkip = consumedBefore + maxPageSize;
  }
  const select = query.get('$select');
  if (select) {
    const wanted = select.split(',').map((s) => s.trim());
    for (const field of wanted) if (!fields.includes(field)) throw new ODataError(`Could not find a property named '${field}' on type 'Microsoft.NAV.entity'.`);
    window = window.map((row) => Object.fromEntries(Object.entries(row).filter(([key]) => wanted.includes(key) || key.startsWith('@odata'))));
  }
  return { rows: window, nextSkip };
}
