/**
 * Runs a parsed SOQL query against the store and pages the result as the REST API does: a batch
 * of records, and a `nextRecordsUrl` locator (`/query/01g...-2000`) while more remain. Field and
 * object names are checked before any record is read, with Salesforce's error codes.
 */
import { salesforceId } from '../common/seed';
import { parseSoql, queryError, type Condition, type FieldRef, type Literal, type SoqlQuery } from './soql';
import { findChildRelationship, findField, findObject, findParentRelationship, type FieldDef, type SObjectDef } from './schema';
import type { FieldValue, SalesforceStore, SfRecord } from './store';
import { API_BASE, SalesforceApiError, normalizeId, parseTime, recordUrl } from './wire';

/** A field reference resolved against the schema: the parent hops, then the field. */
interface Resolved {
  hops: FieldDef[];
  field: FieldDef;
}

type Row = Record<string, unknown>;

export interface QueryEnvelope {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Row[];
}

const TEXT_TYPES = new Set(['string', 'url', 'picklist', 'textarea']);

/** Evaluates `soql` and returns every matching record in wire shape (paging is the cursor's job). */
export function runQuery(store: SalesforceStore, soql: string): { totalSize: number; records: Row[] } {
  const query = parseSoql(soql);
  const def = findObject(query.from.name);
  if (!def) {
    throw queryError(
      'INVALID_TYPE',
      soql,
      query.from.pos,
      `sObject type '${query.from.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  }
  const plan = compile(store, soql, def, query);
  const matched = plan.select(store.list(def.name));
  if (query.count) return { totalSize: matched.length, records: [] };
  return { totalSize: matched.length, records: matched.map(plan.shape) };
}

interface Plan {
  /** Filter, sort, offset and limit. */
  select(records: SfRecord[]): SfRecord[];
  /** One record in the shape the SELECT list asks for. */
  shape(record: SfRecord): Row;
}

function compile(store: SalesforceStore, soql: string, def: SObjectDef, query: SoqlQuery): Plan {
  const resolve = (ref: FieldRef): Resolved => {
    let current = def;
    const hops: FieldDef[] = [];
    for (const name of ref.path.slice(0, -1)) {
      const hop = findParentRelationship(current, name);
      if (!hop) {
        throw queryError('INVALID_FIELD', soql, ref.pos, `Didn't understand relationship '${name}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`);
      }
      hops.push(hop);
      current = findObject(hop.referenceTo!)!;
    }
    const last = ref.path[ref.path.length - 1];
    const field = findField(current, last);
    if (!field) {
      throw queryError('INVALID_FIELD', soql, ref.pos, `No such column '${last}' on entity '${current.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`);
    }
    return { hops, field };
  };

  const valueOf = (record: SfRecord, resolved: Resolved): FieldValue => {
    let current: SfRecord | undefined = record;
    for (const hop of resolved.hops) {
      const parentId: FieldValue | undefined = current?.[hop.name];
      current = typeof parentId === 'string' ? store.get(hop.referenceTo!, parentId) : undefined;
    }
    return current ? current[resolved.field.name] ?? null : null;
  };

  const test = compileCondition(soql, query.where, resolve, valueOf);
  const order = query.orderBy.map((item) => ({ ...item, resolved: resolve(item.ref) }));
  const select = (records: SfRecord[]): SfRecord[] => {
    const kept = records.filter(test);
    if (order.length > 0) {
      kept.sort((a, b) => {
        for (const item of order) {
          const x = valueOf(a, item.resolved);
          const y = valueOf(b, item.resolved);
          // NULLS FIRST/LAST holds whatever the direction; only non-null values are reversed by DESC.
          if (x === null || y === null) {
            if (x === y) continue;
            return (x === null) === item.nullsLast ? 1 : -1;
          }
          const diff = typeof x === 'boolean' ? Number(x) - Number(y) : compareValues(item.resolved.field, x, y);
          if (diff !== 0) return item.descending ? -diff : diff;
        }
        return 0;
      });
    }
    const offset = query.offset ?? 0;
    return kept.slice(offset, query.limit === undefined ? undefined : offset + query.limit);
  };

  // Resolve the SELECT list now so that a bad field fails the query even when nothing matches.
  const columns = query.select.map((item) => {
    if (item.kind === 'field') return { kind: 'field' as const, resolved: resolve(item.ref) };
    const relationship = findChildRelationship(def, item.query.from.name);
    if (!relationship) {
      throw queryError('INVALID_TYPE', soql, item.query.from.pos, `Didn't understand relationship '${item.query.from.name}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`);
    }
    const childDef = findObject(relationship.childObject)!;
    return { kind: 'children' as const, relationship, childDef, plan: compile(store, soql, childDef, item.query) };
  });

  const shape = (record: SfRecord): Row => {
    const row: Row = { attributes: { type: def.name, url: recordUrl(def.name, record.Id as string) } };
    for (const column of columns) {
      if (column.kind === 'children') {
        const children = column.plan.select(
          store.list(column.childDef.name).filter((child) => child[column.relationship.field] === record.Id),
        );
        row[column.relationship.relationshipName] =
          children.length === 0 ? null : { totalSize: children.length, done: true, records: children.map(column.plan.shape) };
        continue;
      }
      // Parent fields nest as { attributes, Name } under the relationship name, or null.
      let target = row;
      let current: SfRecord | undefined = record;
      for (const hop of column.resolved.hops) {
        const parentId: FieldValue = current[hop.name];
        current = typeof parentId === 'string' ? store.get(hop.referenceTo!, parentId) : undefined;
        const key = hop.relationshipName!;
        if (!current) {
          target[key] ??= null;
          break;
        }
        target[key] ??= { attributes: { type: hop.referenceTo, url: recordUrl(hop.referenceTo!, current.Id as string) } };
        target = target[key] as Row;
      }
      if (current) target[column.resolved.field.name] = current[column.resolved.field.name] ?? null;
    }
    return row;
  };

  return { select, shape };
}

function compileCondition(
  soql: string,
  condition: Condition | undefined,
  resolve: (ref: FieldRef) => Resolved,
  valueOf: (record: SfRecord, resolved: Resolved) => FieldValue,
): (record: SfRecord) => boolean {
  if (!condition) return () => true;
  switch (condition.kind) {
    case 'and':
    case 'or': {
      const parts = condition.items.map((item) => compileCondition(soql, item, resolve, valueOf));
      return condition.kind === 'and' ? (r) => parts.every((p) => p(r)) : (r) => parts.some((p) => p(r));
    }
    case 'not': {
      const inner = compileCondition(soql, condition.item, resolve, valueOf);
      return (r) => !inner(r);
    }
    case 'in': {
      const resolved = resolve(condition.ref);
      const values = condition.values.map((v) => literalFor(soql, resolved.field, v));
      return (r) => {
        const value = valueOf(r, resolved);
        const found = values.some((v) => compareValues(resolved.field, value, v) === 0);
        return condition.negated ? !found : found;
      };
    }
    case 'compare': {
      const resolved = resolve(condition.ref);
      const literal = literalFor(soql, resolved.field, condition.value);
      const { op } = condition;
      if (op === 'like') {
        if (!TEXT_TYPES.has(resolved.field.type) || typeof literal !== 'string') {
          throw queryError('INVALID_QUERY_FILTER_OPERATOR', soql, condition.ref.pos, `invalid operator on field: ${resolved.field.name}`);
        }
        const pattern = likePattern(literal);
        return (r) => {
          const value = valueOf(r, resolved);
          return typeof value === 'string' && pattern.test(value);
        };
      }
      return (r) => {
        const value = valueOf(r, resolved);
        if (literal === null || value === null) {
          return op === '=' ? value === literal : op === '!=' ? value !== literal : false;
        }
        const diff = compareValues(resolved.field, value, literal);
        switch (op) {
          case '=': return diff === 0;
          case '!=': return diff !== 0;
          case '<': return diff < 0;
          case '>': return diff > 0;
          case '<=': return diff <= 0;
          case '>=': return diff >= 0;
        }
      };
    }
  }
}

/** A literal checked against the field's type, as the value to compare with. */
function literalFor(soql: string, field: FieldDef, literal: Literal): FieldValue {
  if (literal.kind === 'null') return null;
  const wrongType = (expected: string, quoted: boolean) =>
    queryError('INVALID_QUERY_FILTER_OPERATOR', soql, literal.pos, `value of filter criterion for field '${field.name}' must be of type ${expected} and should ${quoted ? '' : 'not '}be enclosed in quotes`);
  switch (field.type) {
    case 'id':
    case 'reference': {
      if (literal.kind !== 'string') throw wrongType('id', true);
      const id = normalizeId(literal.value);
      if (!id) throw queryError('INVALID_QUERY_FILTER_OPERATOR', soql, literal.pos, `invalid ID field: ${literal.value}`);
      return id;
    }
    case 'boolean':
      if (literal.kind !== 'boolean') throw wrongType('boolean', false);
      return literal.value;
    case 'currency':
    case 'double':
    case 'int':
      if (literal.kind !== 'number') throw wrongType('double', false);
      return literal.value;
    case 'date':
      if (literal.kind !== 'date') throw wrongType('date', false);
      return literal.value;
    case 'datetime':
      if (literal.kind !== 'datetime') throw wrongType('dateTime', false);
      return literal.value;
    default:
      if (literal.kind !== 'string') throw wrongType('string', true);
      return literal.value;
  }
}

/** SOQL text comparisons are case-insensitive; ids compare exactly (after 15->18 normalisation). */
function compareValues(field: FieldDef, a: FieldValue, b: FieldValue): number {
  if (a === null || b === null) return a === b ? 0 : 1;
  if (field.type === 'datetime') return Math.sign(parseTime(String(a)) - parseTime(String(b)));
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return a === b ? 0 : 1;
  const [x, y] = TEXT_TYPES.has(field.type) ? [String(a).toLowerCase(), String(b).toLowerCase()] : [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function likePattern(value: string): RegExp {
  let source = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && (value[i + 1] === '%' || value[i + 1] === '_')) source += value[++i];
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

/** Open query cursors. Salesforce keeps a handful per user and expires the rest; so do we. */
export class QueryCursors {
  private cursors = new Map<string, Row[]>();
  private counter = 0;

  constructor(private readonly maxOpen = 50) {}

  /** The first batch of a result, registering a cursor when more remain. */
  start(result: { totalSize: number; records: Row[] }, batchSize: number): QueryEnvelope {
    if (result.records.length <= batchSize) return { totalSize: result.totalSize, done: true, records: result.records };
    const id = salesforceId('01g', ++this.counter);
    this.cursors.set(id, result.records);
    if (this.cursors.size > this.maxOpen) this.cursors.delete(this.cursors.keys().next().value!);
    return this.page(id, result.records, 0, batchSize, result.totalSize);
  }

  /** GET /query/{cursorId}-{offset} */
  next(locator: string, batchSize: number): QueryEnvelope {
    const match = /^(01g[a-zA-Z0-9]{15})-(\d+)$/.exec(locator);
    const records = match ? this.cursors.get(match[1]) : undefined;
    const offset = match ? Number(match[2]) : NaN;
    if (!match || !records || offset > records.length) {
      throw new SalesforceApiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    return this.page(match[1], records, offset, batchSize, records.length);
  }

  private page(id: string, records: Row[], offset: number, batchSize: number, totalSize: number): QueryEnvelope {
    const end = offset + batchSize;
    if (end >= records.length) {
      this.cursors.delete(id);
      return { totalSize, done: true, records: records.slice(offset) };
    }
    return { totalSize, done: false, nextRecordsUrl: `${API_BASE}/query/${id}-${end}`, records: records.slice(offset, end) };
  }
}
