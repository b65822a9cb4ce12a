/**
 * Salesforce REST API v62.0 simulator: enough of the real wire protocol (SOQL query and paging,
 * sObject rows, external-ID upsert, sObject Collections, describe, limits) that jsforce works
 * against it unchanged, with Salesforce's error envelope, daily API budget and Sforce-Limit-Info.
 * The shared shell (simulators/common/sim-server.ts) adds the /__sim/ control API and faults.
 */
import { buildSeed, type Seed } from '../common/seed';
import { createSimServer, type SimRequest, type SimResponse, type SimRoute, type SimServer } from '../common/sim-server';
import { applyCollection, checkSize, readCollection, takeId, typeOf, typeOfId } from './collections';
import { QueryCursors, runQuery } from './query';
import { SCHEMA, SOBJECT_NAMES, findField, findObject, type SObjectDef } from './schema';
import { MultipleRecordsError, SalesforceStore } from './store';
import { API_BASE, SalesforceApiError, formatDateTime, notFound, parseTime } from './wire';

export interface SalesforceSimulatorOptions {
  /** Records to start with. Default `buildSeed()` (50 customers, shared with the other simulators). */
  seed?: Seed;
  /** Daily API request limit; past it every request gets 403 REQUEST_LIMIT_EXCEEDED. Default 15000. */
  apiLimit?: number;
  /**
   * The only bearer token accepted; any other gets 401 INVALID_SESSION_ID. Default: any non-empty
   * token is accepted (a missing Authorization header is still rejected).
   */
  requiredToken?: string;
  /** Query batch size (records per page before nextRecordsUrl). Default 2000, as Salesforce. */
  pageSize?: number;
}

const error = (e: SalesforceApiError): SimResponse => ({ status: e.status, body: [e.entry] });

function parseBody(req: SimRequest): unknown {
  if (req.body.trim() === '') return undefined;
  try {
    return JSON.parse(req.body);
  } catch {
    throw new SalesforceApiError(400, 'JSON_PARSER_ERROR', 'Unexpected character in the request body: it is not valid JSON');
  }
}

function sobject(name: string): SObjectDef {
  const def = findObject(name);
  if (!def) throw notFound();
  return def;
}

function describe(def: SObjectDef) {
  return {
    name: def.name,
    label: def.label,
    keyPrefix: def.keyPrefix,
    custom: false,
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    fields: def.fields.map((f) => ({
      name: f.name,
      label: f.label,
      type: f.type,
      createable: f.writable,
      updateable: f.writable,
      nillable: !f.required && f.writable,
      externalId: Boolean(f.externalId),
      unique: Boolean(f.unique),
      idLookup: f.name === 'Id' || Boolean(f.externalId),
      referenceTo: f.referenceTo ? [f.referenceTo] : [],
      relationshipName: f.relationshipName ?? null,
      picklistValues: (f.values ?? []).map((value) => ({ value, label: value, active: true, defaultValue: false })),
    })),
    childRelationships: def.children.map((c) => ({ childSObject: c.childObject, field: c.field, relationshipName: c.relationshipName })),
    urls: {
      sobject: `${API_BASE}/sobjects/${def.name}`,
      describe: `${API_BASE}/sobjects/${def.name}/describe`,
      rowTemplate: `${API_BASE}/sobjects/${def.name}/{ID}`,
    },
  };
}

/** Create (not yet listening) a Salesforce simulator; `listen(port)` starts it. */
export function createSalesforceSimulator(options: SalesforceSimulatorOptions = {}): {
  listen(port?: number, host?: string): Promise<SimServer>;
} {
  const { seed = buildSeed(), apiLimit = 15_000, requiredToken, pageSize = 2000 } = options;
  const store = new SalesforceStore(seed);
  const cursors = new QueryCursors();
  let apiUsage = 0;

  /** Sforce-Query-Options: batchSize=N (200..2000) overrides the default batch size. */
  const batchSize = (req: SimRequest): number => {
    const asked = /batchSize=(\d+)/i.exec(String(req.headers['sforce-query-options'] ?? ''));
    return asked ? Math.min(2000, Math.max(200, Number(asked[1]))) : pageSize;
  };

  const route = (method: string, path: string, handler: (req: SimRequest) => SimResponse): SimRoute => ({
    method,
    pattern: `${API_BASE}${path}`,
    handler: (req) => {
      try {
        return handler(req);
      } catch (e) {
        if (e instanceof SalesforceApiError) return error(e);
        throw e;
      }
    },
  });

  const query = (req: SimRequest): SimResponse => {
    const soql = req.query.get('q');
    if (!soql) throw new SalesforceApiError(400, 'MALFORMED_QUERY', 'The query parameter q is required');
    return { status: 200, body: cursors.start(runQuery(store, soql), batchSize(req)) };
  };

  const fieldsParam = (def: SObjectDef, req: SimRequest) => {
    const names = req.query.get('fields');
    if (!names) return undefined;
    return names.split(',').map((name) => {
      const f = findField(def, name.trim());
      if (!f) throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${name.trim()}' on entity '${def.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`);
      return f;
    });
  };

  /** Records of `def` whose external-ID field equals `value` (case-insensitive, as Salesforce matches). */
  const byExternalId = (def: SObjectDef, fieldName: string, value: string) => {
    const f = findField(def, fieldName);
    if (!f || !(f.externalId || f.name === 'Id')) {
      throw new SalesforceApiError(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${fieldName}`);
    }
    if (f.name === 'Id') return [store.require(def.name, value)];
    return store.list(def.name).filter((r) => String(r[f.name] ?? '').toLowerCase() === value.toLowerCase());
  };

  const routes: SimRoute[] = [
    route('GET', '/query', query),
    // Deleted records are purged rather than kept in a recycle bin, so queryAll sees what query sees.
    route('GET', '/queryAll', query),
    route('GET', '/query/:locator', (req) => ({ status: 200, body: cursors.next(req.params.locator, batchSize(req)) })),
    route('GET', '/limits', () => ({
      status: 200,
      body: { DailyApiRequests: { Max: apiLimit, Remaining: Math.max(0, apiLimit - apiUsage) } },
    })),
    route('GET', '/sobjects', () => ({
      status: 200,
      body: { encoding: 'UTF-8', maxBatchSize: 200, sobjects: SOBJECT_NAMES.map((n) => ({ name: n, label: SCHEMA[n].label, keyPrefix: SCHEMA[n].keyPrefix })) },
    })),
    route('GET', '/sobjects/:type/describe', (req) => ({ status: 200, body: describe(sobject(req.params.type)) })),
    route('GET', '/sobjects/:type/updated', (req) => {
      const def = sobject(req.params.type);
      const start = parseTime(req.query.get('start') ?? '');
      const end = parseTime(req.query.get('end') ?? '');
      if (Number.isNaN(start) || Number.isNaN(end) || start > end) {
        throw new SalesforceApiError(400, 'INVALID_REPLICATION_DATE', 'start and end must be valid dateTimes with start before end');
      }
      const covered = Math.min(end, Date.now());
      return { status: 200, body: { ids: store.updatedBetween(def.name, start, end), latestDateCovered: formatDateTime(new Date(covered)) } };
    }),
    route('POST', '/sobjects/:type', (req) => {
      const id = store.create(sobject(req.params.type).name, parseBody(req));
      return { status: 201, body: { id, success: true, errors: [] } };
    }),
    route('GET', '/sobjects/:type/:id', (req) => {
      const def = sobject(req.params.type);
      const fields = fieldsParam(def, req);
      return { status: 200, body: store.wire(def.name, store.require(def.name, req.params.id), fields) };
    }),
    route('PATCH', '/sobjects/:type/:id', (req) => {
      store.update(sobject(req.params.type).name, req.params.id, parseBody(req));
      return { status: 204 };
    }),
    route('DELETE', '/sobjects/:type/:id', (req) => {
      store.remove(sobject(req.params.type).name, req.params.id);
      return { status: 204 };
    }),
    route('GET', '/sobjects/:type/:field/:value', (req) => {
      const def = sobject(req.params.type);
      const matches = byExternalId(def, req.params.field, req.params.value);
      if (matches.length === 0) throw notFound();
      if (matches.length > 1) return { status: 300, body: matches.map((r) => `${API_BASE}/sobjects/${def.name}/${r.Id}`) };
      return { status: 200, body: store.wire(def.name, matches[0], fieldsParam(def, req)) };
    }),
    route('PATCH', '/sobjects/:type/:field/:value', (req) => {
      // Since v46.0: 201 with created:true on insert, 200 with created:false on update, 300 when ambiguous.
      try {
        const { id, created } = store.upsert(sobject(req.params.type).name, req.params.field, req.params.value, parseBody(req));
        return { status: created ? 201 : 200, body: { id, success: true, errors: [], created } };
      } catch (e) {
        if (e instanceof MultipleRecordsError) return { status: 300, body: e.urls };
        throw e;
      }
    }),
    route('POST', '/composite/sobjects', (req) => {
      const { allOrNone, records } = readCollection(parseBody(req));
      const results = applyCollection(store, records, allOrNone, (record) => {
        const { attributes: _attributes, ...fields } = record;
        return { id: store.create(typeOf(record), fields) };
      });
      return { status: 200, body: results };
    }),
    route('PATCH', '/composite/sobjects', (req) => {
      const { allOrNone, records } = readCollection(parseBody(req));
      const results = applyCollection(store, records, allOrNone, (record) => {
        const { id, fields } = takeId(record);
        return { id: store.update(typeOf(record), id, fields) };
      });
      return { status: 200, body: results };
    }),
    route('DELETE', '/composite/sobjects', (req) => {
      const ids = (req.query.get('ids') ?? '').split(',').filter(Boolean);
      checkSize(ids.length);
      const results = applyCollection(store, ids, req.query.get('allOrNone') === 'true', (id) => {
        const type = typeOfId(id);
        store.remove(type, id);
        return { id: store.parseId(type, id) };
      });
      return { status: 200, body: results };
    }),
    route('POST', '/composite/sobjects/:type', (req) => {
      const def = sobject(req.params.type);
      const { ids, fields } = (parseBody(req) ?? {}) as { ids?: unknown; fields?: unknown };
      if (!Array.isArray(ids) || !Array.isArray(fields)) throw new SalesforceApiError(400, 'JSON_PARSER_ERROR', 'ids and fields are required');
      checkSize(ids.length);
      const wanted = fields.map((name) => {
        const f = findField(def, String(name));
        if (!f) throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${String(name)}' on entity '${def.name}'`);
        return f;
      });
      const records = ids.map((raw) => {
        const record = store.get(def.name, store.parseId(def.name, String(raw)));
        return record ? store.wire(def.name, record, wanted) : null;
      });
      return { status: 200, body: records };
    }),
    route('PATCH', '/composite/sobjects/:type/:field', (req) => {
      const def = sobject(req.params.type);
      const { allOrNone, records } = readCollection(parseBody(req));
      const results = applyCollection(store, records, allOrNone, (record) => {
        const key = Object.keys(record).find((k) => k.toLowerCase() === req.params.field.toLowerCase());
        const value = key ? record[key] : undefined;
        if (typeof value !== 'string' && typeof value !== 'number') {
          throw new SalesforceApiError(400, 'MISSING_ARGUMENT', `${req.params.field} not specified`, []);
        }
        const { attributes: _attributes, ...fields } = record;
        return store.upsert(def.name, req.params.field, String(value), fields);
      });
      return { status: 200, body: results };
    }),
  ];

  return createSimServer({
    name: 'salesforce',
    routes,
    state: () => Object.fromEntries(SOBJECT_NAMES.map((n) => [n, store.list(n).map((r) => store.wire(n, r))])),
    authenticate: (req) => {
      const match = /^(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ''));
      if (!match || (requiredToken !== undefined && match[1] !== requiredToken)) {
        return error(new SalesforceApiError(401, 'INVALID_SESSION_ID', 'Session expired or invalid'));
      }
      // Requests are counted against the org's daily budget only once the session is known.
      if (apiUsage >= apiLimit) return error(new SalesforceApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'));
      apiUsage += 1;
      return null;
    },
    decorate: (_req, res) => {
      res.headers = { ...(res.headers ?? {}), 'Sforce-Limit-Info': `api-usage=${apiUsage}/${apiLimit}` };
    },
    faultResponse: (kind) => {
      switch (kind) {
        case '429':
        case 'concurrency':
          // Salesforce has no 429: too many long-running requests at once is a 403 as well.
          return error(new SalesforceApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.'));
        case '500':
          return error(new SalesforceApiError(500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)'));
        case '503':
          return error(new SalesforceApiError(503, 'SERVER_UNAVAILABLE', 'Server is temporarily unavailable; please try again later.'));
      }
    },
    notFound: () => error(notFound()),
    onReset: () => {
      apiUsage = 0;
    },
  });
}

/** Start a Salesforce simulator on `port` (default 0 = any free port) and 127.0.0.1. */
export function startSalesforceSimulator(options: SalesforceSimulatorOptions & { port?: number } = {}): Promise<SimServer> {
  const { port = 0, ...rest } = options;
  return createSalesforceSimulator(rest).listen(port);
}
