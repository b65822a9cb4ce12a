/**
 * HubSpot CRM API simulator: the endpoints Concord calls, wire-faithful so that the official
 * @hubspot/api-client works against it unchanged (basePath = the simulator's URL). Shared shell
 * (sim-server.ts): /__sim/stats, reset, faults, state; plus /__sim/limits (the account's rate
 * limits and what they refused).
 *
 * What it is faithful to (HubSpot CRM API v3/v4 reference, "API usage guidelines and limits"):
 * - `Authorization: Bearer pat-...` (a private-app token); 401 INVALID_AUTHENTICATION otherwise.
 * - Errors as `{ status: 'error', message, correlationId, category, errors?, context? }`.
 * - /crm/v3/objects/{type}: list (limit <= 100, `after`), get, create, PATCH update; batch read,
 *   create, update and upsert (<= 100 inputs; read answers 207 with OBJECT_NOT_FOUND errors for
 *   unknown ids; upsert by a unique-value `idProperty`, `new` telling a creation); search (filter
 *   groups ORed, filters ANDed, <= 5 groups of <= 6 filters, `limit` <= 200, sorts, `after`
 *   offsets, dates filtered as epoch ms). Writes naming an unknown or read-only property are 400
 *   VALIDATION_ERROR (PROPERTY_DOESNT_EXIST / READ_ONLY_VALUE); a unique value held by another
 *   record is 400 too. Empty strings clear a property.
 * - /crm/v4/associations/{from}/{to}/batch/read (<= 1000 inputs, 207 NO_ASSOCIATIONS_FOUND for ids
 *   without any) and PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId}; the company
 *   child-to-parent type (14) sets hs_parent_company_id.
 * - /crm/v3/properties/{type}: the property definitions (concord_customer_key hasUniqueValue).
 * - Rate limits per token: a rolling ten-second window (default 190, private apps on Professional
 *   and Enterprise) and search's 5 a second, as 429 `{ status: 'error', errorType: 'RATE_LIMIT',
 *   category: 'RATE_LIMITS', policyName: 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY', ... }`;
 *   answers (but search's) carry X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds and,
 *   with a daily limit set, X-HubSpot-RateLimit-Daily/-Daily-Remaining.
 */
import { randomUUID } from 'node:crypto';
import type { Seed } from '../common/seed';
import { createSimServer, type SimRequest, type SimResponse, type SimRoute } from '../common/sim-server';
import { ASSOCIATION_TYPES, PROPERTIES, createHubSpotStore, objectTypeOf, type HsRecord, type ObjectType, type Props } from './store';

export interface HubSpotSimulatorOptions {
  seed: Seed;
  /** Only this token is accepted (else any `pat-...`). */
  requiredToken?: string;
  /** Requests per rolling ten seconds per token. Default 190; null: unlimited. */
  requestsPerTenSeconds?: number | null;
  /** Search requests a second. Default 5; null: unlimited. */
  searchPerSecond?: number | null;
  /** Requests a day; null (default): unlimited and no daily headers. */
  dailyLimit?: number | null;
}

class HsError extends Error {
  constructor(readonly status: number, readonly category: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

function errorBody(status: number, category: string, message: string, extra: Record<string, unknown> = {}): SimResponse {
  return { status, body: { status: 'error', message, correlationId: randomUUID(), category, ...extra } };
}

const rateLimited = (policyName: 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY', intervalMs?: number): SimResponse => ({
  ...errorBody(429, 'RATE_LIMITS', `You have reached your ${policyName.toLowerCase()} limit.`, { errorType: 'RATE_LIMIT', policyName, groupName: 'publicapi:private-app' }),
  headers: intervalMs ? { 'X-HubSpot-RateLimit-Interval-Milliseconds': String(intervalMs) } : {},
});

const json = (req: SimRequest): any => {
  if (!req.body) return {};
  try {
    return JSON.parse(req.body);
  } catch {
    throw new HsError(400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1');
  }
};

const typeParam = (req: SimRequest, name = 'type'): ObjectType => {
  const type = objectTypeOf(req.params[name]);
  if (!type) throw new HsError(400, 'VALIDATION_ERROR', `Unable to infer object type from: ${req.params[name]}`);
  return type;
};

/** A record as the API answers it: only the properties asked for (plus the defaults). */
function view(record: HsRecord, properties: string[] | undefined) {
  const names = new Set(['hs_object_id', 'createdate', 'hs_lastmodifieddate', ...(properties ?? [])]);
  const props: Props = {};
  for (const name of names) if (name in record.properties) props[name] = record.properties[name];
  return { id: record.id, properties: props, createdAt: record.createdAt, updatedAt: record.updatedAt, archived: record.archived };
}

const DATE = /^\d{4}-\d{2}-\d{2}(T.*)?$/;

/** A property value as a comparable: numbers and dates (as epoch ms) numerically, the rest as text. */
function comparable(type: ObjectType, name: string, value: string | null | undefined): number | string | null {
  if (value === null || value === undefined || value === '') return null;
  const def = PROPERTIES[type].find((d) => d.name === name);
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if ((def?.type === 'datetime' || def?.type === 'date') && DATE.test(value)) return Date.parse(value);
  return value.toLowerCase();
}

function matches(type: ObjectType, record: HsRecord, filter: { propertyName: string; operator: string; value?: string; values?: string[]; highValue?: string }): boolean {
  const actual = comparable(type, filter.propertyName, record.properties[filter.propertyName]);
  const expected = comparable(type, filter.propertyName, filter.value);
  switch (filter.operator) {
    case 'HAS_PROPERTY':
      return actual !== null;
    case 'NOT_HAS_PROPERTY':
      return actual === null;
    case 'EQ':
      return actual !== null && actual === expected;
    case 'NEQ':
      return actual !== expected;
    case 'GT':
      return actual !== null && expected !== null && actual > expected;
    case 'GTE':
      return actual !== null && expected !== null && actual >= expected;
    case 'LT':
      return actual !== null && expected !== null && actual < expected;
    case 'LTE':
      return actual !== null && expected !== null && actual <= expected;
    case 'BETWEEN': {
      const high = comparable(type, filter.propertyName, filter.highValue);
      return actual !== null && expected !== null && high !== null && actual >= expected && actual <= high;
    }
    case 'IN':
      return actual !== null && (filter.values ?? []).some((v) => comparable(type, filter.propertyName, v) === actual);
    case 'NOT_IN':
      return !(filter.values ?? []).some((v) => comparable(type, filter.propertyName, v) === actual);
    case 'CONTAINS_TOKEN': {
      // `*` is a wildcard; without one a token must equal a whole word.
      const raw = String(record.properties[filter.propertyName] ?? '').toLowerCase();
      const pattern = String(filter.value ?? '').toLowerCase();
      const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      return pattern.includes('*') ? regex.test(raw) : raw.split(/[^a-z0-9]+/).includes(pattern);
    }
    case 'NOT_CONTAINS_TOKEN':
      return !String(record.properties[filter.propertyName] ?? '').toLowerCase().includes(String(filter.value ?? '').replace(/\*/g, '').toLowerCase());
    default:
      throw new HsError(400, 'VALIDATION_ERROR', `Invalid operator: ${filter.operator}`);
  }
}

export function createHubSpotSimulator(options: HubSpotSimulatorOptions) {
  const store = createHubSpotStore(options.seed);
  const limits = {
    requestsPerTenSeconds: options.requestsPerTenSeconds === undefined ? 190 : options.requestsPerTenSeconds,
    searchPerSecond: options.searchPerSecond === undefined ? 5 : options.searchPerSecond,
    dailyLimit: options.dailyLimit ?? null,
  };
  const initialLimits = { ...limits };
  /** Arrival times per token of the requests each window let through. */
  const windows = new Map<string, { tenSeconds: number[]; search: number[]; day: number }>();
  const refused = { TEN_SECONDLY_ROLLING: 0, SECONDLY: 0, DAILY: 0 };
  let busiestTenSeconds = 0;

  function checkProperties(type: ObjectType, properties: Props, record: HsRecord | null): void {
    const errors: unknown[] = [];
    for (const name of Object.keys(properties ?? {})) {
      const def = PROPERTIES[type].find((d) => d.name === name);
      if (!def) errors.push({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name });
      else if (def.readOnly && name !== 'hs_object_id') errors.push({ isValid: false, message: `"${name}" is a read only property; its value cannot be set.`, error: 'READ_ONLY_VALUE', name });
      else if (def.hasUniqueValue && properties[name]) {
        const holder = [...store.objects[type].values()].find((r) => r.properties[name] === properties[name] && r !== record);
        if (holder) errors.push({ isValid: false, message: `${holder.id} already has that value.`, error: 'INVALID_INTEGER', name });
      }
    }
    if (errors.length > 0) throw new HsError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(errors)}`);
  }

  function found(type: ObjectType, id: string, idProperty?: string): HsRecord | undefined {
    if (!idProperty || idProperty === 'hs_object_id') return store.objects[type].get(id);
    return [...store.objects[type].values()].find((r) => r.properties[idProperty] === id);
  }

  const inputsOf = (body: any, max: number): any[] => {
    const inputs = body?.inputs;
    if (!Array.isArray(inputs)) throw new HsError(400, 'VALIDATION_ERROR', 'Invalid input JSON: inputs is required');
    if (inputs.length > max) throw new HsError(400, 'VALIDATION_ERROR', `Batch input size ${inputs.length} exceeds the limit of ${max}`);
    return inputs;
  };

  const stamp = () => new Date().toISOString();
  const batch = (results: unknown[], errors: unknown[] = []): SimResponse => ({
    status: errors.length ? 207 : 200,
    body: { status: 'COMPLETE', results, ...(errors.length ? { numErrors: errors.length, errors } : {}), startedAt: stamp(), completedAt: stamp() },
  });

  const handlers: Record<string, (req: SimRequest) => SimResponse> = {
    list(req) {
      const type = typeParam(req);
      const limit = Math.min(100, Number(req.query.get('limit') ?? 10));
      const after = req.query.get('after');
      const properties = req.query.getAll('properties').flatMap((v) => v.split(','));
      const all = [...store.objects[type].values()].filter((r) => !r.archived).sort((a, b) => Number(a.id) - Number(b.id));
      // `after` is the paging cursor HubSpot hands out: here the next record's id.
      const from = after ? all.filter((r) => Number(r.id) >= Number(after)) : all;
      const page = from.slice(0, limit);
      const next = from[limit];
      return { status: 200, body: { results: page.map((r) => view(r, properties)), ...(next ? { paging: { next: { after: next.id, link: `?after=${next.id}` } } } : {}) } };
    },
    get(req) {
      const type = typeParam(req);
      const record = found(type, req.params.id, req.query.get('idProperty') ?? undefined);
      if (!record) throw new HsError(404, 'OBJECT_NOT_FOUND', 'resource not found');
      return { status: 200, body: view(record, req.query.getAll('properties').flatMap((v) => v.split(','))) };
    },
    create(req) {
      const type = typeParam(req);
      const body = json(req);
      checkProperties(type, body.properties ?? {}, null);
      const record = store.create(type, { ...(body.properties ?? {}), hs_object_id: null });
      return { status: 201, body: view(record, Object.keys(body.properties ?? {})) };
    },
    update(req) {
      const type = typeParam(req);
      const record = found(type, req.params.id, req.query.get('idProperty') ?? undefined);
      if (!record) throw new HsError(404, 'OBJECT_NOT_FOUND', 'resource not found');
      const body = json(req);
      checkProperties(type, body.properties ?? {}, record);
      store.write(record, type, body.properties ?? {});
      return { status: 200, body: view(record, Object.keys(body.properties ?? {})) };
    },
    batchRead(req) {
      const type = typeParam(req);
      const body = json(req);
      const inputs = inputsOf(body, 100);
      const results: unknown[] = [];
      const missing: string[] = [];
      for (const input of inputs) {
        const record = found(type, String(input.id), body.idProperty);
        if (record) results.push(view(record, body.properties));
        else missing.push(String(input.id));
      }
      const errors = missing.length
        ? [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: `Could not get some ${type.toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`, context: { ids: missing } }]
        : [];
      return batch(results, errors);
    },
    batchCreate(req) {
      const type = typeParam(req);
      const inputs = inputsOf(json(req), 100);
      for (const input of inputs) checkProperties(type, input.properties ?? {}, null);
      return { ...batch(inputs.map((input) => view(store.create(type, { ...(input.properties ?? {}), hs_object_id: null }), Object.keys(input.properties ?? {})))), status: 201 };
    },
    batchUpdate(req) {
      const type = typeParam(req);
      const body = json(req);
      const inputs = inputsOf(body, 100);
      const records = inputs.map((input) => {
        const record = found(type, String(input.id), input.idProperty);
        if (!record) throw new HsError(404, 'OBJECT_NOT_FOUND', `Could not find ${type} ${input.id}`);
        checkProperties(type, input.properties ?? {}, record);
        return record;
      });
      records.forEach((record, i) => store.write(record, type, inputs[i].properties ?? {}));
      return batch(records.map((r, i) => view(r, Object.keys(inputs[i].properties ?? {}))));
    },
    batchUpsert(req) {
      const type = typeParam(req);
      const inputs = inputsOf(json(req), 100);
      const results = inputs.map((input) => {
        const idProperty = input.idProperty;
        const def = PROPERTIES[type].find((d) => d.name === idProperty);
        if (!def?.hasUniqueValue) throw new HsError(400, 'VALIDATION_ERROR', `${idProperty} is not a unique identifier property`);
        const properties = { ...(input.properties ?? {}), [idProperty]: String(input.id) };
        const existing = found(type, String(input.id), idProperty);
        checkProperties(type, properties, existing ?? null);
        if (existing) {
          store.write(existing, type, properties);
          return { ...view(existing, Object.keys(properties)), new: false };
        }
        return { ...view(store.create(type, { ...properties, hs_object_id: null }), Object.keys(properties)), new: true };
      });
      return batch(results);
    },
    search(req) {
      const type = typeParam(req);
      const body = json(req);
      const limit = body.limit ?? 10;
      if (limit > 200) throw new HsError(400, 'VALIDATION_ERROR', 'limit must be at most 200');
      const groups: any[] = body.filterGroups ?? [];
      if (groups.length > 5 || groups.some((g) => (g.filters ?? []).length > 6)) {
        throw new HsError(400, 'VALIDATION_ERROR', 'Too many filter groups or filters (at most 5 groups of 6 filters)');
      }
      let rows = [...store.objects[type].values()].filter((r) => !r.archived);
      if (groups.length > 0) rows = rows.filter((r) => groups.some((g) => (g.filters ?? []).every((f: any) => matches(type, r, f))));
      const sorts: { propertyName: string; direction?: string }[] = (body.sorts ?? []).map((s: any) => (typeof s === 'string' ? { propertyName: s.replace(/^-/, ''), direction: s.startsWith('-') ? 'DESCENDING' : 'ASCENDING' } : s));
      // Unsorted searches come back in id order; ties in a sort too.
      rows.sort((a, b) => {
        for (const sort of sorts) {
          const x = comparable(type, sort.propertyName, a.properties[sort.propertyName]);
          const y = comparable(type, sort.propertyName, b.properties[sort.propertyName]);
          if (x === y) continue;
          const order = x === null ? 1 : y === null ? -1 : x < y ? -1 : 1;
          return sort.direction === 'DESCENDING' ? -order : order;
        }
        return Number(a.id) - Number(b.id);
      });
      const offset = Number(body.after ?? 0);
      const page = rows.slice(offset, offset + limit);
      const more = offset + limit < rows.length;
      return { status: 200, body: { total: rows.length, results: page.map((r) => view(r, body.properties)), ...(more ? { paging: { next: { after: String(offset + limit), link: '' } } } : {}) } };
    },
    associationsRead(req) {
      const from = typeParam(req, 'from');
      const to = typeParam(req, 'to');
      const inputs = inputsOf(json(req), 1000);
      const results: unknown[] = [];
      const missing: string[] = [];
      for (const input of inputs) {
        const linked = store.associated(from, String(input.id), to);
        if (linked.length === 0) {
          missing.push(String(input.id));
          continue;
        }
        results.push({
          from: { id: String(input.id) },
          to: linked.map((l) => ({ toObjectId: Number(l.id), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: l.typeId, label: null }] })),
        });
      }
      const errors = missing.map((id) => ({ status: 'error', category: 'OBJECT_NOT_FOUND', subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND', message: `No ${to} is associated with ${from} ${id}.`, context: { fromObjectId: [id] } }));
      return batch(results, errors);
    },
    associate(req) {
      const from = typeParam(req, 'from');
      const to = typeParam(req, 'to');
      const record = store.objects[from].get(req.params.id);
      const target = store.objects[to].get(req.params.toId);
      if (!record || !target) throw new HsError(404, 'OBJECT_NOT_FOUND', 'One or more objects do not exist');
      const specs: { associationCategory: string; associationTypeId: number }[] = json(req);
      if (!Array.isArray(specs)) throw new HsError(400, 'VALIDATION_ERROR', 'body must be a list of association specs');
      for (const spec of specs) {
        if (from === 'companies' && to === 'companies' && spec.associationTypeId === ASSOCIATION_TYPES['companies->companies:child']) {
          // A company has one parent: the new one replaces the old.
          const old = record.properties.hs_parent_company_id;
          if (old) store.associations.get(`companies:${record.id}`)?.delete(`companies:${old}`);
          store.associate('companies', record.id, 'companies', target.id, ASSOCIATION_TYPES['companies->companies:child'], ASSOCIATION_TYPES['companies->companies:parent']);
          store.write(record, 'companies', {});
          record.properties.hs_parent_company_id = target.id;
        } else {
          store.associate(from, record.id, to, target.id, spec.associationTypeId, spec.associationTypeId);
        }
      }
      return { status: 201, body: { fromObjectTypeId: from, fromObjectId: Number(record.id), toObjectTypeId: to, toObjectId: Number(target.id), labels: [] } };
    },
    properties(req) {
      const type = typeParam(req);
      return { status: 200, body: { results: PROPERTIES[type].map((d) => ({ hidden: false, displayOrder: -1, description: '', options: [], formField: true, calculated: false, hasUniqueValue: false, modificationMetadata: { archivable: true, readOnlyDefinition: !d.name.startsWith('concord_'), readOnlyValue: d.readOnly ?? false }, ...d })) } };
    },
  };

  const route = (method: string, pattern: string, handler: (req: SimRequest) => SimResponse): SimRoute => ({
    method,
    pattern,
    handler: (req) => {
      try {
        return handler(req);
      } catch (error) {
        if (error instanceof HsError) return errorBody(error.status, error.category, error.message, error.extra);
        throw error;
      }
    },
  });

  const routes: SimRoute[] = [
    route('POST', '/crm/v3/objects/:type/batch/read', handlers.batchRead),
    route('POST', '/crm/v3/objects/:type/batch/create', handlers.batchCreate),
    route('POST', '/crm/v3/objects/:type/batch/update', handlers.batchUpdate),
    route('POST', '/crm/v3/objects/:type/batch/upsert', handlers.batchUpsert),
    route('POST', '/crm/v3/objects/:type/search', handlers.search),
    route('GET', '/crm/v3/objects/:type', handlers.list),
    route('POST', '/crm/v3/objects/:type', handlers.create),
    route('GET', '/crm/v3/objects/:type/:id', handlers.get),
    route('PATCH', '/crm/v3/objects/:type/:id', handlers.update),
    route('POST', '/crm/v4/associations/:from/:to/batch/read', handlers.associationsRead),
    route('PUT', '/crm/v4/objects/:from/:id/associations/:to/:toId', handlers.associate),
    route('GET', '/crm/v3/properties/:type', handlers.properties),
  ];

  /** The token's windows: refuses what HubSpot would, and counts what it lets through. */
  function admit(token: string, search: boolean): SimResponse | null {
    const now = performance.now();
    const w = windows.get(token) ?? { tenSeconds: [], search: [], day: 0 };
    windows.set(token, w);
    while (w.tenSeconds.length > 0 && w.tenSeconds[0] <= now - 10_000) w.tenSeconds.shift();
    while (w.search.length > 0 && w.search[0] <= now - 1000) w.search.shift();
    if (limits.dailyLimit !== null && w.day >= limits.dailyLimit) {
      refused.DAILY += 1;
      return rateLimited('DAILY');
    }
    if (limits.requestsPerTenSeconds !== null && w.tenSeconds.length >= limits.requestsPerTenSeconds) {
      refused.TEN_SECONDLY_ROLLING += 1;
      return rateLimited('TEN_SECONDLY_ROLLING', 10_000);
    }
    if (search && limits.searchPerSecond !== null && w.search.length >= limits.searchPerSecond) {
      refused.SECONDLY += 1;
      return rateLimited('SECONDLY', 1000);
    }
    w.tenSeconds.push(now);
    if (search) w.search.push(now);
    w.day += 1;
    busiestTenSeconds = Math.max(busiestTenSeconds, w.tenSeconds.length);
    return null;
  }

  const tokenOf = (req: SimRequest) => /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';

  return createSimServer({
    name: 'hubspot',
    routes,
    state: () => ({
      companies: [...store.objects.companies.values()].map((r) => ({ id: r.id, ...r.properties })),
      deals: [...store.objects.deals.values()].map((r) => ({ id: r.id, ...r.properties, companyIds: store.associated('deals', r.id, 'companies').map((l) => l.id) })),
      line_items: [...store.objects.line_items.values()].map((r) => ({ id: r.id, ...r.properties, dealIds: store.associated('line_items', r.id, 'deals').map((l) => l.id) })),
      contracts: [...store.objects.contracts.values()].map((r) => ({ id: r.id, ...r.properties })),
    }),
    faultResponse: (kind) => {
      if (kind === '429' || kind === 'concurrency') return rateLimited('TEN_SECONDLY_ROLLING', 10_000);
      if (kind === '503') return errorBody(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable. Please try again later.');
      return errorBody(500, 'INTERNAL_ERROR', 'An internal error occurred.');
    },
    authenticate: (req) => {
      const token = tokenOf(req);
      const valid = options.requiredToken ? token === options.requiredToken : /^pat-[a-z0-9]+-[A-Za-z0-9-]{8,}$/.test(token);
      if (!valid) {
        return errorBody(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview');
      }
      return admit(token, req.method === 'POST' && req.path.endsWith('/search'));
    },
    decorate: (req, res) => {
      if (res.status === 401 || req.path.endsWith('/search')) return;
      const w = windows.get(tokenOf(req));
      if (!w) return;
      const headers: Record<string, string> = { ...(res.headers ?? {}) };
      if (limits.requestsPerTenSeconds !== null) {
        headers['X-HubSpot-RateLimit-Interval-Milliseconds'] = '10000';
        headers['X-HubSpot-RateLimit-Max'] = String(limits.requestsPerTenSeconds);
        headers['X-HubSpot-RateLimit-Remaining'] = String(Math.max(0, limits.requestsPerTenSeconds - w.tenSeconds.length));
      }
      if (limits.dailyLimit !== null) {
        headers['X-HubSpot-RateLimit-Daily'] = String(limits.dailyLimit);
        headers['X-HubSpot-RateLimit-Daily-Remaining'] = String(Math.max(0, limits.dailyLimit - w.day));
      }
      res.headers = headers;
    },
    notFound: (req) => errorBody(404, 'OBJECT_NOT_FOUND', `No route for ${req.method} ${req.path}`),
    controlRoutes: [
      { method: 'GET', pattern: '/__sim/limits', handler: () => ({ status: 200, body: { ...limits, refused: { ...refused }, busiestTenSeconds } }) },
      {
        method: 'POST',
        pattern: '/__sim/limits',
        handler: (req) => {
          const body = req.body ? (JSON.parse(req.body) as Partial<typeof limits>) : {};
          Object.assign(limits, body);
          return { status: 200, body: limits };
        },
      },
    ],
    onReset: () => {
      // As the other simulators: counters and limits go back, the records stay.
      windows.clear();
      Object.assign(limits, initialLimits);
      refused.TEN_SECONDLY_ROLLING = refused.SECONDLY = refused.DAILY = 0;
      busiestTenSeconds = 0;
    },
  });
}
