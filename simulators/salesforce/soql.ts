/**
 * A SOQL parser for the subset Concord and its tests use: field lists with parent paths and child
 * subqueries, COUNT(), WHERE with = != <> < > <= >= LIKE [NOT] IN, AND/OR/NOT and parentheses,
 * ORDER BY ... ASC|DESC NULLS FIRST|LAST, LIMIT and OFFSET. Syntax errors come back as Salesforce
 * words them (MALFORMED_QUERY with the row and column), so clients meet the real error shapes.
 */
import { SalesforceApiError } from './wire';

export interface FieldRef {
  /** ['Name'] or ['Account', 'Name'] */
  path: string[];
  pos: number;
}

export type Literal =
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'boolean'; value: boolean; pos: number }
  | { kind: 'null'; pos: number }
  | { kind: 'date'; value: string; pos: number }
  | { kind: 'datetime'; value: string; pos: number };

export type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=' | 'like';

export type Condition =
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'compare'; ref: FieldRef; op: CompareOp; value: Literal }
  | { kind: 'in'; ref: FieldRef; negated: boolean; values: Literal[] };

export type SelectItem = { kind: 'field'; ref: FieldRef } | { kind: 'subquery'; query: SoqlQuery; pos: number };

export interface OrderItem {
  ref: FieldRef;
  descending: boolean;
  nullsLast: boolean;
}

export interface SoqlQuery {
  /** True for SELECT COUNT() (no fields). */
  count: boolean;
  select: SelectItem[];
  from: { name: string; pos: number };
  where?: Condition;
  orderBy: OrderItem[];
  limit?: number;
  offset?: number;
}

type TokenType = 'ident' | 'string' | 'number' | 'date' | 'datetime' | 'op' | 'punct' | 'end';
interface Token {
  type: TokenType;
  value: string;
  pos: number;
}

/** Salesforce's query error text: the query, a caret under the offending column, then the reason. */
export function queryError(errorCode: string, soql: string, pos: number, reason: string): SalesforceApiError {
  const before = soql.slice(0, pos).split('\n');
  const row = before.length;
  const column = before[before.length - 1].length + 1;
  const line = soql.split('\n')[row - 1] ?? '';
  const message = `\n${line}\n${' '.repeat(column - 1)}^\nERROR at Row:${row}:Column:${column}\n${reason}`;
  return new SalesforceApiError(400, errorCode, message);
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![\d:T])/;
const NUMBER = /^-?\d+(?:\.\d+)?/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATORS = ['!=', '<>', '<=', '>=', '=', '<', '>'];
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '"': '"', "'": "'", '\\': '\\', _: '\\_', '%': '\\%' };

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < soql.length) {
    const rest = soql.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    if (rest[0] === "'") {
      let value = '';
      let j = i + 1;
      for (; j < soql.length && soql[j] !== "'"; j++) {
        if (soql[j] !== '\\') {
          value += soql[j];
          continue;
        }
        const escaped = ESCAPES[soql[j + 1]];
        if (escaped === undefined) throw queryError('MALFORMED_QUERY', soql, j, `Invalid string literal '${soql.slice(i, j + 2)}'. Illegal character sequence '\\${soql[j + 1] ?? ''}' in string literal.`);
        value += escaped;
        j += 1;
      }
      if (j >= soql.length) throw queryError('MALFORMED_QUERY', soql, i, 'unexpected token: <EOF>');
      tokens.push({ type: 'string', value, pos: i });
      i = j + 1;
      continue;
    }
    const match =
      (DATETIME.exec(rest) && { type: 'datetime' as const, text: DATETIME.exec(rest)![0] }) ||
      (DATE.exec(rest) && { type: 'date' as const, text: DATE.exec(rest)![0] }) ||
      (NUMBER.exec(rest) && { type: 'number' as const, text: NUMBER.exec(rest)![0] }) ||
      (IDENT.exec(rest) && { type: 'ident' as const, text: IDENT.exec(rest)![0] });
    if (match) {
      tokens.push({ type: match.type, value: match.text, pos: i });
      i += match.text.length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op) {
      tokens.push({ type: 'op', value: op === '<>' ? '!=' : op, pos: i });
      i += op.length;
      continue;
    }
    if ('(),.'.includes(rest[0])) {
      tokens.push({ type: 'punct', value: rest[0], pos: i });
      i += 1;
      continue;
    }
    throw queryError('MALFORMED_QUERY', soql, i, `unexpected token: '${rest[0]}'`);
  }
  tokens.push({ type: 'end', value: '<EOF>', pos: soql.length });
  return tokens;
}

/** Parses one SOQL statement; throws SalesforceApiError(MALFORMED_QUERY) on bad syntax. */
export function parseSoql(soql: string): SoqlQuery {
  const tokens = tokenize(soql);
  let at = 0;
  const peek = (offset = 0) => tokens[Math.min(at + offset, tokens.length - 1)];
  const next = () => tokens[at++];
  const isKeyword = (word: string, token = peek()) => token.type === 'ident' && token.value.toUpperCase() === word;
  const unexpected = (token = peek()): never => {
    throw queryError('MALFORMED_QUERY', soql, token.pos, `unexpected token: '${token.value}'`);
  };
  const expectKeyword = (word: string) => (isKeyword(word) ? next() : unexpected());
  const expectPunct = (p: string) => (peek().type === 'punct' && peek().value === p ? next() : unexpected());
  const acceptKeyword = (word: string) => (isKeyword(word) ? next() : null);

  const fieldRef = (): FieldRef => {
    const first = peek().type === 'ident' ? next() : unexpected();
    const path = [first.value];
    while (peek().type === 'punct' && peek().value === '.') {
      next();
      path.push(peek().type === 'ident' ? next().value : unexpected());
    }
    return { path, pos: first.pos };
  };

  const literal = (): Literal => {
    const token = next();
    switch (token.type) {
      case 'string':
        return { kind: 'string', value: token.value, pos: token.pos };
      case 'number':
        return { kind: 'number', value: Number(token.value), pos: token.pos };
      case 'date':
        return { kind: 'date', value: token.value, pos: token.pos };
      case 'datetime':
        return { kind: 'datetime', value: token.value, pos: token.pos };
      case 'ident': {
        const word = token.value.toUpperCase();
        if (word === 'TRUE' || word === 'FALSE') return { kind: 'boolean', value: word === 'TRUE', pos: token.pos };
        if (word === 'NULL') return { kind: 'null', pos: token.pos };
        return unexpected(token);
      }
      default:
        return unexpected(token);
    }
  };

  const comparison = (): Condition => {
    const ref = fieldRef();
    const negated = isKeyword('NOT') && isKeyword('IN', peek(1));
    if (negated) next();
    if (acceptKeyword('IN')) {
      expectPunct('(');
      const values = [literal()];
      while (peek().value === ',' && peek().type === 'punct') {
        next();
        values.push(literal());
      }
      expectPunct(')');
      return { kind: 'in', ref, negated, values };
    }
    if (acceptKeyword('LIKE')) return { kind: 'compare', ref, op: 'like', value: literal() };
    const op = peek().type === 'op' ? (next().value as CompareOp) : unexpected();
    return { kind: 'compare', ref, op, value: literal() };
  };

  const primary = (): Condition => {
    if (acceptKeyword('NOT')) return { kind: 'not', item: primary() };
    if (peek().type === 'punct' && peek().value === '(') {
      next();
      const inner = disjunction();
      expectPunct(')');
      return inner;
    }
    return comparison();
  };
  const conjunction = (): Condition => {
    const items = [primary()];
    while (acceptKeyword('AND')) items.push(primary());
    return items.length === 1 ? items[0] : { kind: 'and', items };
  };
  function disjunction(): Condition {
    const items = [conjunction()];
    while (acceptKeyword('OR')) items.push(conjunction());
    return items.length === 1 ? items[0] : { kind: 'or', items };
  }

  const integer = (): number => {
    const token = peek().type === 'number' && /^\d+$/.test(peek().value) ? next() : unexpected();
    return Number(token.value);
  };

  const query = (nested: boolean): SoqlQuery => {
    expectKeyword('SELECT');
    const select: SelectItem[] = [];
    let count = false;
    if (isKeyword('COUNT') && peek(1).value === '(' && peek(2).value === ')') {
      next();
      next();
      next();
      count = true;
    } else {
      do {
        if (select.length > 0) next();
        if (peek().type === 'punct' && peek().value === '(') {
          if (nested) unexpected();
          const pos = next().pos;
          select.push({ kind: 'subquery', query: query(true), pos });
          expectPunct(')');
        } else {
          select.push({ kind: 'field', ref: fieldRef() });
        }
      } while (peek().type === 'punct' && peek().value === ',');
    }
    expectKeyword('FROM');
    const fromToken = peek().type === 'ident' ? next() : unexpected();
    const result: SoqlQuery = { count, select, from: { name: fromToken.value, pos: fromToken.pos }, orderBy: [] };
    if (acceptKeyword('WHERE')) result.where = disjunction();
    if (acceptKeyword('ORDER')) {
      expectKeyword('BY');
      do {
        if (result.orderBy.length > 0) next();
        const ref = fieldRef();
        const descending = acceptKeyword('DESC') !== null;
        if (!descending) acceptKeyword('ASC');
        let nullsLast = false; // Salesforce sorts nulls first unless told otherwise, in either direction
        if (acceptKeyword('NULLS')) nullsLast = acceptKeyword('LAST') !== null || (expectKeyword('FIRST'), false);
        result.orderBy.push({ ref, descending, nullsLast });
      } while (peek().type === 'punct' && peek().value === ',');
    }
    if (acceptKeyword('LIMIT')) result.limit = integer();
    if (acceptKeyword('OFFSET')) result.offset = integer();
    if (!nested && peek().type !== 'end') unexpected();
    return result;
  };

  return query(false);
}
