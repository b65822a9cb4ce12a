/**
 * sObject Collections (`/composite/sobjects`): up to 200 records per call, each with its own
 * SaveResult, optionally all-or-none. Per-record errors use `statusCode` rather than `errorCode`,
 * as the real API does; with allOrNone a failure rolls back every record of the request.
 */
import { findObject, objectForId, type SObjectName } from './schema';
import type { SalesforceStore } from './store';
import { SalesforceApiError, normalizeId } from './wire';

export const MAX_COLLECTION_SIZE = 200;

interface SaveResult {
  id?: string;
  success: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
  created?: boolean;
}

type Outcome = { ok: { id: string; created?: boolean } } | { error: SalesforceApiError };

const ROLLBACK = Symbol('rollback');

/** Parses `{ allOrNone, records }` and checks the collection size. */
export function readCollection(body: unknown): { allOrNone: boolean; records: Record<string, unknown>[] } {
  const parsed = (body ?? {}) as { allOrNone?: unknown; records?: unknown };
  if (!Array.isArray(parsed.records) || parsed.records.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) {
    throw new SalesforceApiError(400, 'JSON_PARSER_ERROR', 'The request body must hold a records array of sObjects');
  }
  checkSize(parsed.records.length);
  return { allOrNone: parsed.allOrNone === true, records: parsed.records as Record<string, unknown>[] };
}

export function checkSize(count: number): void {
  if (count > MAX_COLLECTION_SIZE) {
    throw new SalesforceApiError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION_SIZE} records into this call`);
  }
}

/** The type named in a record's `attributes`, or INVALID_TYPE for that record. */
export function typeOf(record: Record<string, unknown>): SObjectName {
  const attributes = record.attributes as { type?: unknown } | undefined;
  const def = typeof attributes?.type === 'string' ? findObject(attributes.type) : undefined;
  if (!def) throw new SalesforceApiError(400, 'INVALID_TYPE', 'An sObject type must be specified in the attributes of each record');
  return def.name;
}

/** The record's id for an update (`id` or `Id`), removed from the fields. */
export function takeId(record: Record<string, unknown>): { id: string; fields: Record<string, unknown> } {
  const fields = { ...record };
  const key = Object.keys(fields).find((k) => k.toLowerCase() === 'id');
  const id = key ? fields[key] : undefined;
  if (key) delete fields[key];
  if (typeof id !== 'string' || id === '') throw new SalesforceApiError(400, 'MISSING_ARGUMENT', 'Id not specified in an update call', []);
  return { id, fields };
}

/** The type of a bare id (DELETE ?ids=), by key prefix. */
export function typeOfId(raw: string): SObjectName {
  const id = normalizeId(raw);
  const def = id ? objectForId(id) : undefined;
  if (!def) throw new SalesforceApiError(400, 'MALFORMED_ID', `malformed id ${raw}`, []);
  return def.name;
}

/** Applies `apply` to each item in order and returns the SaveResults. */
export function applyCollection<T>(
  store: SalesforceStore,
  items: readonly T[],
  allOrNone: boolean,
  apply: (item: T) => { id: string; created?: boolean },
): SaveResult[] {
  const run = (): Outcome[] =>
    items.map((item) => {
      try {
        return { ok: apply(item) };
      } catch (error) {
        if (error instanceof SalesforceApiError) return { error };
        throw error;
      }
    });

  let outcomes: Outcome[] = [];
  if (!allOrNone) {
    outcomes = run();
  } else {
    try {
      store.transaction(() => {
        outcomes = run();
        if (outcomes.some((o) => 'error' in o)) throw ROLLBACK;
      });
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
  }
  const failed = outcomes.some((o) => 'error' in o);
  return outcomes.map((outcome): SaveResult => {
    if ('error' in outcome) {
      const { errorCode, message, fields } = outcome.error;
      return { success: false, errors: [{ statusCode: errorCode, message, fields: fields ?? [] }] };
    }
    if (allOrNone && failed) {
      return {
        success: false,
        errors: [{
          statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
          message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
          fields: [],
        }],
      };
    }
    const result: SaveResult = { id: outcome.ok.id, success: true, errors: [] };
    if (outcome.ok.created !== undefined) result.created = outcome.ok.created;
    return result;
  });
}
