/**
 * NetSuite REST web services simulator: the record API (`/services/rest/record/v1/...`: customer,
 * invoice, customerPayment, creditMemo), SuiteQL (`/services/rest/query/v1/suiteql`, with
 * UPPER/LOWER), OAuth 1.0a TBA, NetSuite's error envelope, the account
 * concurrency limit and closed accounting periods, on the shared simulator shell (routing, stats,
 * faults, `/__sim/` control API). Only what NetSuite itself offers: no bulk shortcuts.
 */
import { createSimServer, type SimHandler, type SimRequest, type SimResponse, type SimRoute, type SimServer } from '../common/sim-server';
import { buildSeed, type Seed } from '../common/seed';
import { CONTENT_TYPE, MESSAGES, RecordError, netsuiteError, notFoundError } from './errors';
import { createOAuthVerifier, type TbaCredentials } from './oauth';
import { createRecordCodec, parseListFilter } from './records';
import { recordsFromSeed } from './seed-records';
import { periodDates, periodId, periodName } from './periods';
import { RECORD_TYPES, createNetSuiteStore, type NetSuiteStore, type RecordType } from './store';
import { SuiteQLError, runSuiteQL, type TableDef, type Value } from './suiteql';

export type { TbaCredentials } from './oauth';

export interface NetSuiteSimulatorOptions {
  /** Records to start with. Default: buildSeed() (50 customers, their posted invoices and payments). */
  seed?: Seed;
  /** Account id, the OAuth `realm`. Default 'TSTDRV1234567'. */
  accountId?: string;
  /**
   * TBA credentials to require. When set, every request's HMAC-SHA256 signature (query parameters
   * included), realm, consumer key, token, timestamp and nonce are checked and a failure gets
   * NetSuite's 401 INVALID_LOGIN. Default: any well-formed OAuth 1.0a header passes, as stripe-mock
   * accepts any key; a missing or malformed one still gets the 401.
   */
  credentials?: TbaCredentials;
  /** Account concurrency limit (requests in flight); more get 429. Default 5 (a developer account). Survives /__sim/reset. */
  concurrency?: number;
  /** Accounting periods (YYYY-MM) closed from the start. Default none. */
  closedPeriods?: string[];
}

const RECORD_ROOT = '/services/rest/record/v1';
const SUITEQL_PATH = '/services/rest/query/v1/suiteql';
/** SuiteQL and record list pages hold at most 1000 rows, as in NetSuite. */
const MAX_PAGE = 1000;

const SUBLISTS: Partial<Record<RecordType, string>> = { invoice: 'item', customerPayment: 'apply', creditMemo: 'item' };
const TRANSACTION_STATUS = { Open: 'A', 'Paid In Full': 'B', Voided: 'V' } as const;

/** SuiteQL views of the store, as NetSuite's analytics tables name and type their columns. */
function suiteqlTables(store: NetSuiteStore): Record<string, TableDef> {
  const dollars = (cents: number) => Math.round(cents) / 100;
  /** A table's rows, built once per store version: paging through 35,000 transactions reads them many times. */
  const cached = (build: () => Record<string, Value>[]) => {
    let at = -1;
    let rows: Record<string, Value>[] = [];
    return () => {
      if (at !== store.version()) {
        rows = build();
        at = store.version();
      }
      return rows;
    };
  };
  const tables: Record<string, TableDef> = {
    customer: {
      columns: {
        id: 'number', entityid: 'string', companyname: 'string', externalid: 'string', email: 'string',
        creditlimit: 'number', creditholdoverride: 'string', balance: 'number', vatregnumber: 'string',
        currency: 'number', isperson: 'string', datecreated: 'date', lastmodifieddate: 'date',
        custentity_concord_correlation_id: 'string',
      },
      rows: () => {
        // Balances in one pass: per customer, a scan of every transaction would be quadratic.
        const balances = store.derived.balances();
        return [...store.customers.values()].map((c) => ({
          id: c.id, entityid: c.entityId, companyname: c.companyName, externalid: c.externalId, email: c.email,
          creditlimit: c.creditLimit === null ? null : dollars(c.creditLimit), creditholdoverride: c.creditHoldOverride,
          balance: dollars(balances.get(c.id) ?? 0), vatregnumber: c.vatRegNumber, currency: 1, isperson: 'F',
          datecreated: c.dateCreated, lastmodifieddate: c.lastModifiedDate, custentity_concord_correlation_id: c.correlationId,
        }));
      },
    },
    transaction: {
      columns: {
        id: 'number', tranid: 'string', externalid: 'string', type: 'string', entity: 'number', trandate: 'date',
        postingperiod: 'number', foreigntotal: 'number', foreignamountremaining: 'number', status: 'string',
        memo: 'string', currency: 'number', createddate: 'date', lastmodifieddate: 'date',
        custbody_concord_correlation_id: 'string',
      },
      rows: () => {
        // Amounts applied per invoice in one pass: per invoice, a scan of every payment would be quadratic.
        const applied = store.derived.appliedByInvoice();
        return [
        ...[...store.invoices.values()].map((inv) => {
          const total = store.derived.total(inv);
          const remaining = inv.voided ? 0 : total - (applied.get(inv.id) ?? 0);
          const status = inv.voided ? 'Voided' : remaining <= 0 ? 'Paid In Full' : 'Open';
          return {
            id: inv.id, tranid: inv.tranId, externalid: inv.externalId, type: 'CustInvc', entity: inv.entity,
            trandate: inv.tranDate, postingperiod: periodId(inv.period), foreigntotal: dollars(total),
            foreignamountremaining: dollars(remaining), status: TRANSACTION_STATUS[status],
            memo: inv.memo, currency: 1, createddate: inv.dateCreated, lastmodifieddate: inv.lastModifiedDate,
            custbody_concord_correlation_id: inv.correlationId,
          };
        }),
        // Credit memos carry a negative total in the transaction table (they reduce what is owed).
        ...[...store.creditMemos.values()].map((cm) => ({
          id: cm.id, tranid: cm.tranId, externalid: cm.externalId, type: 'CustCred', entity: cm.entity,
          trandate: cm.tranDate, postingperiod: periodId(cm.period), foreigntotal: -dollars(store.derived.total(cm)),
          foreignamountremaining: -dollars(store.derived.total(cm)), status: 'A',
          memo: cm.memo, currency: 1, createddate: cm.dateCreated, lastmodifieddate: cm.lastModifiedDate,
          custbody_concord_correlation_id: cm.correlationId,
        })),
        ...[...store.payments.values()].map((p) => ({
          id: p.id, tranid: p.tranId, externalid: p.externalId, type: 'CustPymt', entity: p.customer,
          trandate: p.tranDate, postingperiod: periodId(p.period), foreigntotal: dollars(p.payment),
          foreignamountremaining: null, status: 'C', memo: p.memo, currency: 1, createddate: p.dateCreated,
          lastmodifieddate: p.lastModifiedDate, custbody_concord_correlation_id: null,
        })),
        ].sort((a, b) => a.id - b.id);
      },
    },
    accountingperiod: {
      columns: {
        id: 'number', periodname: 'string', startdate: 'date', enddate: 'date', closed: 'string',
        isquarter: 'string', isyear: 'string', isadjust: 'string', isposting: 'string',
      },
      rows: () =>
        store.periods().map((p) => ({
          id: periodId(p), periodname: periodName(p), startdate: periodDates(p).start, enddate: periodDates(p).end,
          closed: store.isClosed(p) ? 'T' : 'F', isquarter: 'F', isyear: 'F', isadjust: 'F', isposting: 'T',
        })),
    },
  };
  for (const name of ['customer', 'transaction']) tables[name] = { ...tables[name], rows: cached(tables[name].rows) };
  return tables;
}

/** Create (not yet listening) a NetSuite simulator; `listen(port)` starts it. */
export function createNetSuiteSimulator(options: NetSuiteSimulatorOptions = {}): {
  listen(port?: number, host?: string): Promise<SimServer>;
} {
  const { seed = buildSeed(), accountId = 'TSTDRV1234567', credentials, concurrency = 5, closedPeriods = [] } = options;
  const store = createNetSuiteStore(recordsFromSeed(seed), closedPeriods);
  const codec = createRecordCodec(store, seed);
  const tables = suiteqlTables(store);
  const verify = createOAuthVerifier({ accountId, credentials });
  let listeningUrl = 'http://127.0.0.1';

  const baseOf = (req: SimRequest) => (req.headers.host ? `http://${req.headers.host}` : listeningUrl);

  /** Route handler that turns refusals into NetSuite's error envelope. */
  const guard = (handler: SimHandler): SimHandler => async (req) => {
    try {
      return await handler(req);
    } catch (error) {
      if (error instanceof RecordError) return error.toResponse();
      if (error instanceof SuiteQLError) {
        return netsuiteError(400, 'INVALID_PARAMETER', MESSAGES.invalidSearch + error.message, { errorQueryParam: 'q' });
      }
      throw error;
    }
  };

  function paging(req: SimRequest): { limit: number; offset: number } {
    const read = (name: 'limit' | 'offset', fallback: number, min: number, max: number) => {
      const raw = req.query.get(name);
      if (raw === null) return fallback;
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < min || n > max) {
        throw new RecordError(400, 'INVALID_PARAMETER', `Invalid query parameter value: ${name}=${raw}. The value must be between ${min} and ${max}.`, { errorQueryParam: name });
      }
      return n;
    };
    return { limit: read('limit', MAX_PAGE, 1, MAX_PAGE), offset: read('offset', 0, 0, Number.MAX_SAFE_INTEGER) };
  }

  /** A NetSuite collection page with its navigation links. */
  function collection(href: string, all: Record<string, unknown>[], limit: number, offset: number): SimResponse {
    const items = all.slice(offset, offset + limit);
    const hasMore = offset + items.length < all.length;
    const at = (o: number) => `${href}${href.includes('?') ? '&' : '?'}limit=${limit}&offset=${o}`;
    const lastOffset = Math.max(0, Math.floor((all.length - 1) / limit) * limit);
    const links = [
      ...(offset > 0 ? [{ rel: 'previous', href: at(Math.max(0, offset - limit)) }] : []),
      { rel: 'first', href: at(0) },
      ...(hasMore ? [{ rel: 'next', href: at(offset + limit) }] : []),
      { rel: 'last', href: at(lastOffset) },
      { rel: 'self', href: at(offset) },
    ];
    return {
      status: 200,
      headers: { 'content-type': CONTENT_TYPE.collection },
      body: { links, count: items.length, hasMore, items, offset, totalResults: all.length },
    };
  }

  function found(type: RecordType, key: string): number {
    const id = store.resolve(type, key);
    if (id === undefined) throw notFoundError();
    return id;
  }

  function parseBody(req: SimRequest): unknown {
    if (!req.body) return {};
    try {
      return JSON.parse(req.body) as unknown;
    } catch {
      throw new RecordError(400, 'INVALID_CONTENT', 'Invalid content in the request body. The body is not valid JSON.');
    }
  }

  const written = (req: SimRequest, type: RecordType, id: number): SimResponse => ({
    status: 204,
    headers: { location: `${baseOf(req)}${RECORD_ROOT}/${type}/${id}` },
  });

  function recordRoutes(type: RecordType): SimRoute[] {
    const root = `${RECORD_ROOT}/${type}`;
    const replaceOf = (req: SimRequest) => (req.query.get('replace') ?? '').split(',').filter(Boolean);
    const routes: SimRoute[] = [
      {
        method: 'GET', pattern: root, handler: guard((req) => {
          const { limit, offset } = paging(req);
          const q = req.query.get('q');
          const filter = q ? parseListFilter(q) : null;
          const base = baseOf(req);
          const records = { customer: store.customers, invoice: store.invoices, customerPayment: store.payments, creditMemo: store.creditMemos }[type];
          const ids = [...records.keys()].sort((a, b) => a - b);
          const matching = filter ? ids.filter((id) => filter(codec.serialize(type, id, base, false)!)) : ids;
          const items = matching.map((id) => ({ links: [{ rel: 'self', href: `${base}${root}/${id}` }], id: String(id) }));
          const href = `${base}${root}${q ? `?q=${encodeURIComponent(q)}` : ''}`;
          return collection(href, items, limit, offset);
        }),
      },
      {
        method: 'POST', pattern: root, handler: guard((req) => {
          const id = store.create(type, codec.parse(type, parseBody(req), replaceOf(req)));
          return written(req, type, id);
        }),
      },
      {
        method: 'GET', pattern: `${root}/:id`, handler: guard((req) => {
          const id = found(type, req.params.id);
          const expand = req.query.get('expandSubResources') === 'true';
          return { status: 200, headers: { 'content-type': CONTENT_TYPE.singular }, body: codec.serialize(type, id, baseOf(req), expand) };
        }),
      },
      {
        method: 'PATCH', pattern: `${root}/:id`, handler: guard((req) => {
          const id = found(type, req.params.id);
          store.update(type, id, codec.parse(type, parseBody(req), replaceOf(req)));
          return { status: 204 };
        }),
      },
      {
        // Upsert: PUT on an external id creates the record or updates the one holding it.
        method: 'PUT', pattern: `${root}/:id`, handler: guard((req) => {
          const key = req.params.id;
          if (!key.startsWith('eid:') || key.length <= 4) {
            throw new RecordError(400, 'INVALID_PARAMETER', 'The upsert operation requires an external ID in the URL (eid:...).', { errorPath: 'id' });
          }
          const body = parseBody(req) as Record<string, unknown>;
          const externalId = key.slice(4);
          if (body && typeof body === 'object' && 'externalId' in body && body.externalId !== externalId) {
            throw new RecordError(400, 'USER_ERROR', 'Error while accessing a resource. The external ID in the body does not match the one in the URL.', { errorPath: 'externalId' });
          }
          const input = codec.parse(type, { ...body, externalId }, replaceOf(req));
          const existing = store.resolve(type, key);
          if (existing !== undefined) {
            store.update(type, existing, input);
            return written(req, type, existing);
          }
          return written(req, type, store.create(type, input));
        }),
      },
      {
        method: 'DELETE', pattern: `${root}/:id`, handler: guard((req) => {
          store.remove(type, found(type, req.params.id));
          return { status: 204 };
        }),
      },
    ];
    const sublist = SUBLISTS[type];
    if (sublist) {
      routes.push({
        method: 'GET', pattern: `${root}/:id/${sublist}`, handler: guard((req) => {
          const record = codec.serialize(type, found(type, req.params.id), baseOf(req), true)!;
          return { status: 200, headers: { 'content-type': CONTENT_TYPE.collection }, body: record[sublist] };
        }),
      });
    }
    return routes;
  }

  const suiteql: SimRoute = {
    method: 'POST', pattern: SUITEQL_PATH, handler: guard((req) => {
      // SuiteQL over REST requires `Prefer: transient` (the result is not stored server-side).
      if (!/\btransient\b/i.test(String(req.headers.prefer ?? ''))) {
        throw new RecordError(400, 'INVALID_HEADER', "Invalid value for the header 'Prefer'. Provide the value 'transient'.", { errorHeader: 'Prefer' });
      }
      const { limit, offset } = paging(req);
      const body = parseBody(req) as { q?: unknown };
      if (typeof body?.q !== 'string' || !body.q.trim()) {
        throw new RecordError(400, 'INVALID_PARAMETER', 'The request body must contain the parameter q with a SuiteQL query.', { errorPath: 'q' });
      }
      const rows = runSuiteQL(body.q, tables).map((row) => ({ links: [], ...row }));
      return collection(`${baseOf(req)}${SUITEQL_PATH}`, rows, limit, offset);
    }),
  };

  const periodsRoute: SimRoute[] = [
    { method: 'GET', pattern: '/__sim/periods', handler: () => ({ status: 200, body: { closed: store.closedPeriods() } }) },
    {
      method: 'POST', pattern: '/__sim/periods', handler: (req) => {
        let parsed: { closed?: unknown };
        try {
          parsed = JSON.parse(req.body || '{}') as { closed?: unknown };
        } catch {
          return { status: 400, body: { error: 'body must be JSON' } };
        }
        const list = parsed.closed;
        if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(p))) {
          return { status: 400, body: { error: 'closed must be an array of YYYY-MM periods' } };
        }
        store.setClosedPeriods(list as string[]);
        return { status: 200, body: { closed: store.closedPeriods() } };
      },
    },
  ];

  const shell = createSimServer({
    name: 'netsuite',
    routes: [...RECORD_TYPES.flatMap(recordRoutes), suiteql],
    controlRoutes: periodsRoute,
    defaults: { concurrency },
    state: () => {
      const all = (type: RecordType, ids: Iterable<number>) =>
        [...ids].sort((a, b) => a - b).map((id) => codec.serialize(type, id, listeningUrl, true)!);
      return {
        customer: all('customer', store.customers.keys()),
        invoice: all('invoice', store.invoices.keys()),
        customerPayment: all('customerPayment', store.payments.keys()),
        creditMemo: all('creditMemo', store.creditMemos.keys()),
        accountingperiod: runSuiteQL('SELECT * FROM accountingperiod ORDER BY id', tables),
      };
    },
    authenticate: (req) => {
      const verdict = verify(req);
      if (verdict.ok) return null;
      return netsuiteError(401, 'INVALID_LOGIN', MESSAGES.invalidLogin, {}, {
        'www-authenticate': `OAuth realm="${accountId}", error="token_rejected", error_description="Invalid login attempt."`,
      });
    },
    faultResponse: (kind) => {
      switch (kind) {
        case '429':
        case 'concurrency':
          // NetSuite sends no Retry-After here; clients back off on their own.
          return netsuiteError(429, 'CONCURRENCY_LIMIT_EXCEEDED', MESSAGES.concurrency);
        case '500':
          return netsuiteError(500, 'UNEXPECTED_ERROR', `An unexpected error occurred. Error ID: ${Date.now().toString(36)}`);
        case '503':
          return netsuiteError(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable. Try again later.');
      }
    },
    notFound: (req) => {
      const type = new RegExp(`^${RECORD_ROOT}/([^/]+)`).exec(req.path)?.[1];
      if (type && !(RECORD_TYPES as readonly string[]).includes(type)) {
        return netsuiteError(404, 'NONEXISTENT_ID', `Record type '${type}' does not exist.`);
      }
      return netsuiteError(404, 'NONEXISTENT_ID', `The requested resource ${req.method} ${req.path} does not exist.`);
    },
  });

  return {
    async listen(port = 0, host = '127.0.0.1') {
      const server = await shell.listen(port, host);
      listeningUrl = server.url;
      return server;
    },
  };
}

/** Create and start a NetSuite simulator (port 0 = any free port). */
export function startNetSuiteSimulator(options: NetSuiteSimulatorOptions & { port?: number; host?: string } = {}): Promise<SimServer> {
  const { port, host, ...rest } = options;
  return createNetSuiteSimulator(rest).listen(port, host);
}
