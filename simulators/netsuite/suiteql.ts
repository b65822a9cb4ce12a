/**
 * A real subset of SuiteQL (NetSuite's SQL-92 dialect), parsed and evaluated over in-memory tables:
 *
 *   SELECT col | TO_CHAR(col, 'fmt') [[AS] alias], ... | * FROM table [[AS] t]
 *   [WHERE cond] [ORDER BY col [ASC|DESC], ...]
 *
 * cond: comparisons (= != <> < > <= >=), [NOT] IN (...), IS [NOT] NULL, [NOT] LIKE, AND, OR, NOT,
 * parentheses; operands are columns (optionally qualified by the table or its alias, optionally in
 * UPPER(...) or LOWER(...), as case-insensitive matching is written in Oracle SQL), 'strings'
 * ('' escapes a quote), numbers and NULL. Comparisons with NULL are unknown (three-valued logic).
 *
 * Results are shaped as SuiteQL over REST returns them: lower-case column names, every value a
 * string, dates as M/D/YYYY, NULL columns left out of the row. Errors carry NetSuite's wording.
 */

export type ColumnType = 'number' | 'string' | 'date';
export type Value = number | string | null;

export interface TableDef {
  /** Column name (lower case) -> type. Order is the order of `SELECT *`. */
  columns: Record<string, ColumnType>;
  rows: () => Record<string, Value>[];
}

/** A query NetSuite would refuse; the message is the `detail` of the 400. */
export class SuiteQLError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SuiteQLError';
  }
}

type Operand = { kind: 'col'; name: string; fn?: 'upper' | 'lower' } | { kind: 'lit'; value: Value };
type Cond =
  | { kind: 'and' | 'or'; left: Cond; right: Cond }
  | { kind: 'not'; cond: Cond }
  | { kind: 'cmp'; op: string; left: Operand; right: Operand }
  | { kind: 'in'; operand: Operand; values: Operand[]; negated: boolean }
  | { kind: 'null'; operand: Operand; negated: boolean }
  | { kind: 'like'; operand: Operand; pattern: string; negated: boolean };

interface Query {
  table: string;
  /** `format`: a TO_CHAR pattern (YYYY MM DD HH24 MI SS) applied to a date column. */
  columns: { name: string; as: string; format?: string }[] | '*';
  where: Cond | null;
  orderBy: { name: string; desc: boolean }[];
}

type Token = { type: 'word' | 'string' | 'number' | 'symbol'; text: string };

const KEYWORDS = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'LIKE', 'ORDER', 'BY', 'ASC', 'DESC', 'AS', 'TO_CHAR', 'UPPER', 'LOWER']);
const unsupported = () => new SuiteQLError('Search error occurred: Invalid or unsupported search.');

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|([A-Za-z_][A-Za-z0-9_]*)|('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(<=|>=|!=|<>|[=<>(),.*;])/y;
  while (re.lastIndex < sql.length) {
    const at = re.lastIndex;
    const m = re.exec(sql);
    if (!m || re.lastIndex === at) throw unsupported();
    if (m[1]) tokens.push({ type: 'word', text: m[1] });
    else if (m[2]) tokens.push({ type: 'string', text: m[2].slice(1, -1).replace(/''/g, "'") });
    else if (m[3]) tokens.push({ type: 'number', text: m[3] });
    else if (m[4]) tokens.push({ type: 'symbol', text: m[4] });
  }
  return tokens;
}

export function parseSuiteQL(sql: string): Query {
  const tokens = tokenize(sql);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (word: string, t = peek()) => t?.type === 'word' && t.text.toUpperCase() === word;
  const isSymbol = (symbol: string, t = peek()) => t?.type === 'symbol' && t.text === symbol;
  const expectWord = (word: string) => {
    if (!isWord(word)) throw unsupported();
    pos++;
  };
  const expectSymbol = (symbol: string) => {
    if (!isSymbol(symbol)) throw unsupported();
    pos++;
  };
  const identifier = (): string => {
    const t = peek();
    if (t?.type !== 'word' || KEYWORDS.has(t.text.toUpperCase())) throw unsupported();
    pos++;
    return t.text.toLowerCase();
  };
  /** `col` or `qualifier.col`; the qualifier is checked once the FROM clause is known. */
  const columnRef = (): string => {
    const first = identifier();
    if (!isSymbol('.')) return first;
    pos++;
    return `${first}.${identifier()}`;
  };

  expectWord('SELECT');
  let columns: Query['columns'];
  if (isSymbol('*')) {
    pos++;
    columns = '*';
  } else {
    columns = [];
    do {
      if (columns.length > 0) pos++;
      let name: string;
      let format: string | undefined;
      if (isWord('TO_CHAR')) {
        pos++;
        expectSymbol('(');
        name = columnRef();
        expectSymbol(',');
        const pattern = peek();
        if (pattern?.type !== 'string') throw unsupported();
        pos++;
        format = pattern.text;
        expectSymbol(')');
      } else {
        name = columnRef();
      }
      let as = format ? `expr${columns.length + 1}` : name.split('.').pop()!;
      if (isWord('AS')) {
        pos++;
        as = identifier();
      } else if (peek()?.type === 'word' && !KEYWORDS.has(peek().text.toUpperCase())) {
        as = identifier();
      }
      columns.push({ name, as, format });
    } while (isSymbol(','));
  }
  expectWord('FROM');
  const table = identifier();
  let alias: string | null = null;
  if (isWord('AS')) pos++;
  if (peek()?.type === 'word' && !KEYWORDS.has(peek().text.toUpperCase())) alias = identifier();

  const operand = (): Operand => {
    const t = peek();
    if (!t) throw unsupported();
    if (t.type === 'string') return pos++, { kind: 'lit', value: t.text };
    if (t.type === 'number') return pos++, { kind: 'lit', value: Number(t.text) };
    if (isWord('NULL')) return pos++, { kind: 'lit', value: null };
    if ((isWord('UPPER') || isWord('LOWER')) && isSymbol('(', tokens[pos + 1])) {
      const fn = t.text.toLowerCase() as 'upper' | 'lower';
      pos += 2;
      const name = columnRef();
      expectSymbol(')');
      return { kind: 'col', name, fn };
    }
    return { kind: 'col', name: columnRef() };
  };

  const predicate = (): Cond => {
    if (isSymbol('(')) {
      pos++;
      const inner = or();
      expectSymbol(')');
      return inner;
    }
    const left = operand();
    if (isWord('IS')) {
      pos++;
      const negated = isWord('NOT') ? (pos++, true) : false;
      expectWord('NULL');
      return { kind: 'null', operand: left, negated };
    }
    const negated = isWord('NOT') ? (pos++, true) : false;
    if (isWord('IN')) {
      pos++;
      expectSymbol('(');
      const values: Operand[] = [];
      do {
        if (values.length > 0) pos++;
        const value = operand();
        if (value.kind !== 'lit') throw unsupported();
        values.push(value);
      } while (isSymbol(','));
      expectSymbol(')');
      return { kind: 'in', operand: left, values, negated };
    }
    if (isWord('LIKE')) {
      pos++;
      const pattern = operand();
      if (pattern.kind !== 'lit' || typeof pattern.value !== 'string') throw unsupported();
      return { kind: 'like', operand: left, pattern: pattern.value, negated };
    }
    if (negated) throw unsupported();
    const op = peek();
    if (op?.type !== 'symbol' || !['=', '!=', '<>', '<', '>', '<=', '>='].includes(op.text)) throw unsupported();
    pos++;
    return { kind: 'cmp', op: op.text === '<>' ? '!=' : op.text, left, right: operand() };
  };
  const not = (): Cond => (isWord('NOT') ? (pos++, { kind: 'not', cond: not() }) : predicate());
  const and = (): Cond => {
    let left = not();
    while (isWord('AND')) {
      pos++;
      left = { kind: 'and', left, right: not() };
    }
    return left;
  };
  function or(): Cond {
    let left = and();
    while (isWord('OR')) {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  }

  let where: Cond | null = null;
  if (isWord('WHERE')) {
    pos++;
    where = or();
  }
  const orderBy: Query['orderBy'] = [];
  if (isWord('ORDER')) {
    pos++;
    expectWord('BY');
    do {
      if (orderBy.length > 0) pos++;
      const name = columnRef();
      let desc = false;
      if (isWord('ASC')) pos++;
      else if (isWord('DESC')) (pos++, (desc = true));
      orderBy.push({ name, desc });
    } while (isSymbol(','));
  }
  if (isSymbol(';')) pos++;
  if (pos !== tokens.length) throw unsupported();

  // Resolve qualifiers: `c.id` with alias c, or `customer.id`, both mean column id.
  const qualifiers = new Set([table, ...(alias ? [alias] : [])]);
  const strip = (name: string) => {
    const dot = name.indexOf('.');
    if (dot < 0) return name;
    const qualifier = name.slice(0, dot);
    if (!qualifiers.has(qualifier)) throw new SuiteQLError(`Search error occurred: Unknown identifier '${qualifier}'. Available identifiers are: {${table}=${table}}.`);
    return name.slice(dot + 1);
  };
  const fix = (o: Operand): Operand => (o.kind === 'col' ? { ...o, name: strip(o.name) } : o);
  const fixCond = (c: Cond): Cond => {
    switch (c.kind) {
      case 'and':
      case 'or':
        return { ...c, left: fixCond(c.left), right: fixCond(c.right) };
      case 'not':
        return { ...c, cond: fixCond(c.cond) };
      case 'cmp':
        return { ...c, left: fix(c.left), right: fix(c.right) };
      case 'in':
        return { ...c, operand: fix(c.operand) };
      case 'null':
      case 'like':
        return { ...c, operand: fix(c.operand) };
    }
  };
  return {
    table,
    columns: columns === '*' ? '*' : columns.map((c) => ({ ...c, name: strip(c.name) })),
    where: where && fixCond(where),
    orderBy: orderBy.map((o) => ({ ...o, name: strip(o.name) })),
  };
}

/** 'YYYY-MM-DD' or 'M/D/YYYY' -> 'YYYY-MM-DD', or null when neither. */
function toIsoDate(text: string): string | null {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return text.slice(0, 10);
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
  return m ? `${m[3]}-${m[1].padStart(2, '0')}-${m[2].padStart(2, '0')}` : null;
}

/** TO_CHAR on a date held as 'YYYY-MM-DD' or an ISO timestamp. */
function toChar(value: string, pattern: string): string {
  const [, y, mo, d, h = '00', mi = '00', s = '00'] = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}))?/.exec(value) ?? [];
  if (!y) return value;
  return pattern.replace(/YYYY|MM|DD|HH24|MI|SS/g, (token) => ({ YYYY: y, MM: mo, DD: d, HH24: h, MI: mi, SS: s })[token]!);
}

/** How SuiteQL over REST prints a value: strings everywhere, dates as M/D/YYYY. */
function format(value: Value, type: ColumnType, pattern?: string): string {
  if (type === 'date' && typeof value === 'string') {
    if (pattern) return toChar(value, pattern);
    const [y, m, d] = value.slice(0, 10).split('-').map(Number);
    return `${m}/${d}/${y}`;
  }
  return String(value);
}

/** Run `sql` over `tables`; returns every matching row, formatted (paging is the caller's). */
export function runSuiteQL(sql: string, tables: Record<string, TableDef>): Record<string, string>[] {
  const query = parseSuiteQL(sql);
  const def = tables[query.table];
  if (!def) throw new SuiteQLError(`Invalid search type: ${query.table}.`);
  const typeOf = (name: string): ColumnType => {
    const type = def.columns[name];
    if (!type) throw new SuiteQLError(`Search error occurred: Unknown identifier '${name}'. Available identifiers are: {${query.table}=${query.table}}.`);
    return type;
  };

  /** The operand's value, coerced to the type of the column it is compared with. */
  const value = (o: Operand, row: Record<string, Value>, as: ColumnType | null): Value => {
    if (o.kind === 'col') {
      const v = row[o.name] ?? null;
      if (o.fn === undefined || typeof v !== 'string') return v;
      return o.fn === 'upper' ? v.toUpperCase() : v.toLowerCase();
    }
    if (o.value === null || as === null) return o.value;
    if (as === 'number') {
      const n = Number(o.value);
      if (Number.isNaN(n)) throw new SuiteQLError(`Search error occurred: Invalid number: ${o.value}.`);
      return n;
    }
    if (as === 'date') {
      const iso = toIsoDate(String(o.value));
      if (!iso) throw new SuiteQLError(`Search error occurred: Invalid date: ${o.value}.`);
      return iso;
    }
    return String(o.value);
  };
  const typeFor = (...operands: Operand[]): ColumnType | null => {
    for (const o of operands) if (o.kind === 'col') return typeOf(o.name);
    return null;
  };
  const compare = (a: Value, b: Value): number | null => {
    if (a === null || b === null) return null;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    const x = String(a);
    const y = String(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

  type Truth = boolean | null;
  const evaluate = (c: Cond, row: Record<string, Value>): Truth => {
    switch (c.kind) {
      case 'and': {
        const l = evaluate(c.left, row);
        const r = evaluate(c.right, row);
        return l === false || r === false ? false : l === null || r === null ? null : true;
      }
      case 'or': {
        const l = evaluate(c.left, row);
        const r = evaluate(c.right, row);
        return l === true || r === true ? true : l === null || r === null ? null : false;
      }
      case 'not': {
        const v = evaluate(c.cond, row);
        return v === null ? null : !v;
      }
      case 'null': {
        typeFor(c.operand);
        const isNull = value(c.operand, row, null) === null;
        return c.negated ? !isNull : isNull;
      }
      case 'cmp': {
        const type = typeFor(c.left, c.right);
        const diff = compare(value(c.left, row, type), value(c.right, row, type));
        if (diff === null) return null;
        switch (c.op) {
          case '=': return diff === 0;
          case '!=': return diff !== 0;
          case '<': return diff < 0;
          case '>': return diff > 0;
          case '<=': return diff <= 0;
          default: return diff >= 0;
        }
      }
      case 'in': {
        const type = typeFor(c.operand);
        const v = value(c.operand, row, type);
        if (v === null) return null;
        const found = c.values.some((o) => compare(v, value(o, row, type)) === 0);
        return c.negated ? !found : found;
      }
      case 'like': {
        typeFor(c.operand);
        const v = value(c.operand, row, null);
        if (v === null) return null;
        const regex = new RegExp(`^${c.pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')}$`, 's');
        const hit = regex.test(String(v));
        return c.negated ? !hit : hit;
      }
    }
  };

  const selected: { name: string; as: string; format?: string }[] = query.columns === '*'
    ? Object.keys(def.columns).map((name) => ({ name, as: name }))
    : query.columns;
  for (const column of selected) {
    if (column.format !== undefined && typeOf(column.name) !== 'date') throw unsupported();
    typeOf(column.name);
  }
  for (const order of query.orderBy) typeOf(order.name);
  if (query.where) evaluate(query.where, Object.fromEntries(Object.keys(def.columns).map((k) => [k, null]))); // type-check once

  const rows = def.rows().filter((row) => !query.where || evaluate(query.where, row) === true);
  if (query.orderBy.length > 0) {
    rows.sort((a, b) => {
      for (const { name, desc } of query.orderBy) {
        const x = a[name] ?? null;
        const y = b[name] ?? null;
        if (x === y) continue;
        // Oracle's default: NULLs sort last ascending, first descending.
        if (x === null) return desc ? -1 : 1;
        if (y === null) return desc ? 1 : -1;
        const diff = compare(x, y)!;
        if (diff !== 0) return desc ? -diff : diff;
      }
      return 0;
    });
  }
  return rows.map((row) => {
    const out: Record<string, string> = {};
    for (const { name, as, format: pattern } of selected) {
      const v = row[name];
      if (v !== null && v !== undefined) out[as] = format(v, def.columns[name], pattern);
    }
    return out;
  });
}
