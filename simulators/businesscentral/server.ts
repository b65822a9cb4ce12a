/**
 * Dynamics 365 Business Central simulator: API v2.0 (`/v2.0/{tenant}/{environment}/api/v2.0/...`)
 * for companies, customers, salesInvoices (+ salesInvoiceLines, Microsoft.NAV.post / cancel),
 * salesCreditMemos (the same) and accountingPeriods; OData query options ($filter, $orderby, $top,
 * $skip, $select, server paging with @odata.nextLink), @odata.etag with If-Match on PATCH (412 when
 * stale), JSON $batch (at most 100 operations), and the Microsoft identity platform's
 * client-credentials token endpoint (`/{tenant}/oauth2/v2.0/token`), whose bearer token every API
 * call needs. BC's limits are enforced per user (the token's client): 6,000 requests in any 5
 * minutes and 100 at once, both answered 429 with BC's error body. Errors are BC's
 * `{"error":{"code","message"}}` envelope. On the shared shell (routing, stats, faults, /__sim/).
 *
 * Wire details follow Microsoft's API v2.0 reference (resource types customer, salesInvoice,
 * salesCreditMemo, accountingPeriod) and "Working with API limits in Dynamics 365 Business Central".
 */
import crypto from 'node:crypto';
import { createSimServer, type SimRequest, type SimResponse, type SimServer } from '../common/sim-server';
import { buildSeed, type Seed } from '../common/seed';
import { ODataError, runQuery, type Row } from './odata';
import { stableGuid } from './seed';
import {
  BcError,
  codeValue,
  createBcStore,
  documentTotal,
  lineAmount,
  remaining,
  textValue,
  type BcCustomer,
  type BcDocument,
  type BcDocumentKind,
  type BcLine,
  type BcStore,
} from './store';

export const BC_SCOPE = 'https://api.businesscentral.dynamics.com/.default';

export interface BusinessCentralSimulatorOptions {
  seed?: Seed;
  /** Entra tenant id (a GUID or a domain). Default 'concord-sim-tenant'. */
  tenant?: string;
  /** Environment name. Default 'production'. */
  environment?: string;
  /** The client (application) id and secret the token endpoint accepts. Default: any non-empty pair. */
  clientId?: string;
  clientSecret?: string;
  /** Requests a user may make in `windowMs` (BC: 6,000 in 5 minutes). Survives /__sim/reset. */
  rateLimit?: { requests: number; windowMs: number };
  /** Requests in flight at once (BC: 100 per user). */
  concurrency?: number;
  /** Largest page the server returns before @odata.nextLink (BC: 20,000). */
  maxPageSize?: number;
  /** Token lifetime in seconds (Entra: about an hour). Default 3599. */
  tokenLifetimeSeconds?: number;
  closedPeriods?: string[];
}

const API = '/v2.0/:tenant/:environment/api/v2.0';
const MONEY = (cents: number) => Math.round(cents) / 100;
const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

function bcError(status: number, code: string, message: string, headers: Record<string, string> = {}): SimResponse {
  // BC appends the request's correlation id to every message.
  return { status, headers: { 'content-type': 'application/json; odata.metadata=minimal', ...headers }, body: { error: { code, message: `${message}  CorrelationId:  ${crypto.randomUUID()}.` } } };
}

const etagOf = (kind: string, id: string, version: number) => `W/"${Buffer.from(`${kind}:${id};${version};`).toString('base64')}"`;

export function createBusinessCentralSimulator(options: BusinessCentralSimulatorOptions = {}): { listen(port?: number, host?: string): Promise<SimServer> } {
  const {
    seed = buildSeed(),
    tenant = 'concord-sim-tenant',
    environment = 'production',
    clientId,
    clientSecret,
    concurrency = 100,
    maxPageSize = 20_000,
    tokenLifetimeSeconds = 3599,
    closedPeriods = [],
  } = options;
  let rateLimit = options.rateLimit ?? { requests: 6000, windowMs: 5 * 60_000 };
  const store: BcStore = createBcStore(seed, closedPeriods);
  const companyId = stableGuid('company', tenant);
  const tokens = new Map<string, { user: string; expiresAt: number }>();
  const windows = new Map<string, number[]>();
  let base = 'http://127.0.0.1';

  // ------------------------------------------------------------------ wire shapes

  const customerFields = ['id', 'number', 'displayName', 'type', 'email', 'balanceDue', 'creditLimit', 'taxRegistrationNumber', 'currencyCode', 'blocked', 'lastModifiedDateTime'] as const;
  function customerJson(c: BcCustomer): Row {
    return {
      '@odata.etag': etagOf('customer', c.id, c.version),
      id: c.id,
      number: c.number,
      displayName: c.displayName,
      type: 'Company',
      addressLine1: '',
      addressLine2: '',
      city: '',
      state: '',
      country: '',
      postalCode: '',
      phoneNumber: '',
      email: c.email,
      website: '',
      salespersonCode: '',
      balanceDue: MONEY(store.balanceDue(c.id)),
      creditLimit: MONEY(c.creditLimit),
      taxLiable: false,
      taxAreaId: ZERO_GUID,
      taxAreaDisplayName: '',
      taxRegistrationNumber: c.taxRegistrationNumber,
      currencyId: ZERO_GUID,
      currencyCode: 'USD',
      paymentTermsId: ZERO_GUID,
      shipmentMethodId: ZERO_GUID,
      paymentMethodId: ZERO_GUID,
      blocked: c.blocked,
      lastModifiedDateTime: c.lastModifiedDateTime,
    };
  }

  const documentFields = [
    'id', 'number', 'externalDocumentNumber', 'invoiceDate', 'creditMemoDate', 'postingDate', 'dueDate', 'customerPurchaseOrderReference',
    'customerId', 'customerNumber', 'customerName', 'currencyCode', 'totalAmountExcludingTax', 'totalTaxAmount', 'totalAmountIncludingTax',
    'remainingAmount', 'status', 'lastModifiedDateTime',
  ] as const;
  function documentJson(doc: BcDocument): Row {
    const customer = store.customers.get(doc.customerId);
    const total = MONEY(documentTotal(doc));
    const common: Row = {
      '@odata.etag': etagOf(doc.kind, doc.id, doc.version),
      id: doc.id,
      number: doc.number,
      externalDocumentNumber: doc.externalDocumentNumber,
      ...(doc.kind === 'salesInvoice' ? { invoiceDate: doc.documentDate } : { creditMemoDate: doc.documentDate }),
      postingDate: doc.postingDate,
      dueDate: doc.dueDate,
      ...(doc.kind === 'salesInvoice' ? { customerPurchaseOrderReference: doc.customerPurchaseOrderReference } : {}),
      customerId: doc.customerId,
      customerNumber: customer?.number ?? '',
      customerName: customer?.displayName ?? '',
      billToName: customer?.displayName ?? '',
      billToCustomerId: doc.customerId,
      billToCustomerNumber: customer?.number ?? '',
      currencyId: ZERO_GUID,
      currencyCode: 'USD',
      paymentTermsId: ZERO_GUID,
      shipmentMethodId: ZERO_GUID,
      salesperson: '',
      pricesIncludeTax: false,
      discountAmount: 0,
      discountAppliedBeforeTax: true,
      totalAmountExcludingTax: total,
      totalTaxAmount: 0,
      totalAmountIncludingTax: total,
      ...(doc.kind === 'salesInvoice' ? { remainingAmount: MONEY(remaining(doc)) } : { invoiceId: ZERO_GUID, invoiceNumber: '' }),
      status: doc.status,
      lastModifiedDateTime: doc.lastModifiedDateTime,
      phoneNumber: '',
      email: customer?.email ?? '',
    };
    return common;
  }

  const lineFields = ['id', 'documentId', 'sequence', 'lineType', 'lineObjectNumber', 'description', 'quantity', 'unitPrice', 'amountIncludingTax'] as const;
  function lineJson(line: BcLine): Row {
    const amount = MONEY(lineAmount(line));
    return {
      '@odata.etag': etagOf('line', line.id, 1),
      id: line.id,
      documentId: line.documentId,
      sequence: line.sequence,
      itemId: ZERO_GUID,
      accountId: ZERO_GUID,
      lineType: line.lineType,
      lineObjectNumber: line.lineObjectNumber,
      description: line.description,
      unitOfMeasureCode: '',
      quantity: line.quantity,
      unitPrice: line.unitPrice,
      discountAmount: 0,
      discountPercent: 0,
      amountExcludingTax: amount,
      taxCode: '',
      taxPercent: 0,
      totalTaxAmount: 0,
      amountIncludingTax: amount,
      netAmount: amount,
      netTaxAmount: 0,
      netAmountIncludingTax: amount,
    };
  }

  const periodFields = ['id', 'startingDate', 'name', 'newFiscalYear', 'closed', 'dateLocked', 'lastModifiedDateTime'] as const;
  const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  function periodJson(period: string): Row {
    const month = Number(period.slice(5, 7));
    return {
      '@odata.etag': etagOf('period', period, store.closed.has(period) ? 2 : 1),
      id: stableGuid('accountingPeriod', period),
      startingDate: `${period}-01`,
      name: MONTHS[month - 1],
      newFiscalYear: month === 1,
      closed: store.closed.has(period),
      dateLocked: store.closed.has(period),
      lastModifiedDateTime: '2025-01-01T00:00:00Z',
    };
  }

  // ------------------------------------------------------------------ helpers

  const context = (set: string, single = false) => `${base}/v2.0/${tenant}/${environment}/api/v2.0/$metadata#companies(${companyId})/${set}${single ? '/$entity' : ''}`;

  function parseJson(body: string): Record<string, unknown> {
    if (!body) return {};
    try {
      const parsed = JSON.parse(body) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch {
      throw new BcError(400, 'BadRequest', 'Invalid Request Body');
    }
  }

  function collection(set: string, rows: Row[], query: URLSearchParams, fields: readonly string[], selfUrl: string): SimResponse {
    const { rows: page, nextSkip } = runQuery(rows, query, fields, maxPageSize);
    const body: Record<string, unknown> = { '@odata.context': context(set), value: page };
    if (nextSkip !== null) {
      const next = new URL(selfUrl);
      next.searchParams.set('$skiptoken', String(nextSkip));
      body['@odata.nextLink'] = next.toString();
    }
    return { status: 200, headers: { 'content-type': 'application/json; odata.metadata=minimal' }, body };
  }

  const single = (set: string, row: Row, status = 200): SimResponse => ({
    status,
    headers: { 'content-type': 'application/json; odata.metadata=minimal', etag: String(row['@odata.etag']) },
    body: { '@odata.context': context(set, true), ...row },
  });

  function checkIfMatch(headers: Record<string, string | string[] | undefined>, etag: string): void {
    const given = headers['if-match'];
    if (given === undefined) throw new BcError(428, 'Request_PreconditionRequired', 'An If-Match header with the record\'s @odata.etag (or *) is required to change it.');
    if (given !== '*' && given !== etag) throw new BcError(412, 'Request_EntityChanged', 'Another user has already changed the record.');
  }

  function postingAllowed(date: string): void {
    if (store.closed.has(date.slice(0, 7))) {
      throw new BcError(400, 'Application_DialogException', 'Posting Date is not within your range of allowed posting dates.');
    }
  }

  const isoDate = (value: unknown, field: string): string => {
    const text = String(value ?? '');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(text))) throw new BcError(400, 'BadRequest', `Cannot convert the literal '${text}' to the expected type 'Edm.Date' (${field}).`);
    return text;
  };

  function decimal(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new BcError(400, 'BadRequest', `Cannot convert a value to target type 'Edm.Decimal' (${field}).`);
    return value;
  }

  function parseLines(doc: BcDocument, raw: unknown): BcLine[] {
    if (raw === undefined) return [];
    if (!Array.isArray(raw)) throw new BcError(400, 'BadRequest', 'Invalid Request Body');
    return raw.map((item, i) => {
      const line = item as Record<string, unknown>;
      const lineType = String(line.lineType ?? 'Item') as BcLine['lineType'];
      if (!['Comment', 'Account', 'Item', 'Resource', 'Fixed Asset', 'Charge'].includes(lineType)) throw new BcError(400, 'BadRequest', `Invalid lineType '${lineType}'.`);
      return {
        id: store.newId('line'),
        documentId: doc.id,
        sequence: (doc.lines.length + i + 1) * 10000,
        lineType,
        lineObjectNumber: codeValue(line.lineObjectNumber, 'lineObjectNumber', 20),
        description: textValue(line.description, 100),
        quantity: line.quantity === undefined ? 0 : decimal(line.quantity, 'quantity'),
        unitPrice: line.unitPrice === undefined ? 0 : decimal(line.unitPrice, 'unitPrice'),
      };
    });
  }

  const touch = <T extends { version: number; lastModifiedDateTime: string }>(record: T) => {
    record.version += 1;
    record.lastModifiedDateTime = store.now();
  };

  // ------------------------------------------------------------------ entity sets

  function customers(method: string, key: string | null, query: URLSearchParams, headers: SimRequest['headers'], body: string, selfUrl: string): SimResponse {
    if (key === null) {
      if (method === 'GET') return collection('customers', [...store.customers.values()].map(customerJson), query, customerFields, selfUrl);
      if (method === 'POST') {
        const input = parseJson(body);
        const number = input.number === undefined ? `C${String(store.customers.size + 10000)}` : codeValue(input.number, 'number', 20);
        if ([...store.customers.values()].some((c) => c.number === number)) {
          throw new BcError(400, 'Internal_EntityWithSameKeyExists', `The record in table Customer already exists. Identification fields and values: No.='${number}'`);
        }
        const customer: BcCustomer = {
          id: store.newId('customer'),
          number,
          displayName: textValue(input.displayName, 100),
          email: textValue(input.email, 80),
          creditLimit: input.creditLimit === undefined ? 0 : Math.round(decimal(input.creditLimit, 'creditLimit') * 100),
          blocked: blockedValue(input.blocked ?? ' '),
          taxRegistrationNumber: textValue(input.taxRegistrationNumber, 20),
          lastModifiedDateTime: store.now(),
          version: 1,
        };
        store.customers.set(customer.id, customer);
        return single('customers', customerJson(customer), 201);
      }
    } else {
      const customer = store.customers.get(key);
      if (!customer) throw new BcError(404, 'BadRequest_NotFound', `The Customer does not exist. Identification fields and values: Id='${key}'`);
      if (method === 'GET') return single('customers', customerJson(customer));
      if (method === 'PATCH') {
        checkIfMatch(headers, etagOf('customer', customer.id, customer.version));
        const input = parseJson(body);
        if (input.number !== undefined && codeValue(input.number, 'number', 20) !== customer.number) throw new BcError(400, 'BadRequest', 'The number of a customer cannot be changed through the API.');
        if (input.displayName !== undefined) customer.displayName = textValue(input.displayName, 100);
        if (input.email !== undefined) customer.email = textValue(input.email, 80);
        if (input.taxRegistrationNumber !== undefined) customer.taxRegistrationNumber = textValue(input.taxRegistrationNumber, 20);
        if (input.creditLimit !== undefined) customer.creditLimit = Math.round(decimal(input.creditLimit, 'creditLimit') * 100);
        if (input.blocked !== undefined) customer.blocked = blockedValue(input.blocked);
        touch(customer);
        return single('customers', customerJson(customer));
      }
      if (method === 'DELETE') {
        if ([...store.documents.values()].some((d) => d.customerId === customer.id && d.status !== 'Draft')) {
          throw new BcError(400, 'Application_DialogException', `You cannot delete Customer ${customer.number} because there are one or more outstanding ledger entries.`);
        }
        store.customers.delete(customer.id);
        return { status: 204 };
      }
    }
    throw new BcError(405, 'BadRequest_MethodNotAllowed', `'${method}' requests for 'customers' of EdmType 'Entity' are not allowed within Dynamics 365 Business Central OData web services.`);
  }

  function blockedValue(value: unknown): BcCustomer['blocked'] {
    const text = String(value);
    if (text === ' ' || text === '' ) return ' ';
    if (text === 'Ship' || text === 'Invoice' || text === 'All') return text;
    throw new BcError(400, 'BadRequest', `Requested value '${text}' was not found for the enum 'NAV.customerBlocked'.`);
  }

  function documents(kind: BcDocumentKind, method: string, key: string | null, sub: string | null, query: URLSearchParams, headers: SimRequest['headers'], body: string, selfUrl: string): SimResponse {
    const set = `${kind}s`;
    const label = kind === 'salesInvoice' ? 'Sales Invoice' : 'Sales Credit Memo';
    const linesSet = kind === 'salesInvoice' ? 'salesInvoiceLines' : 'salesCreditMemoLines';
    const ofKind = () => [...store.documents.values()].filter((d) => d.kind === kind);
    if (key === null) {
      if (method === 'GET') return collection(set, ofKind().map(documentJson), query, documentFields, selfUrl);
      if (method === 'POST') {
        const input = parseJson(body);
        const customer = input.customerId !== undefined
          ? store.customers.get(String(input.customerId))
          : [...store.customers.values()].find((c) => c.number === codeValue(input.customerNumber, 'customerNumber', 20));
        if (!customer) {
          throw new BcError(400, 'Internal_RecordNotFound', `The field Customer No. of table ${label} contains a value (${String(input.customerNumber ?? input.customerId ?? '')}) that cannot be found in the related table (Customer).`);
        }
        const dateField = kind === 'salesInvoice' ? 'invoiceDate' : 'creditMemoDate';
        const documentDate = input[dateField] === undefined ? store.now().slice(0, 10) : isoDate(input[dateField], dateField);
        const doc: BcDocument = {
          kind,
          id: store.newId(kind),
          number: store.nextNumber(kind, false),
          externalDocumentNumber: codeValue(input.externalDocumentNumber, 'externalDocumentNumber', 35),
          customerPurchaseOrderReference: kind === 'salesInvoice' ? textValue(input.customerPurchaseOrderReference, 35) : '',
          documentDate,
          postingDate: input.postingDate === undefined ? documentDate : isoDate(input.postingDate, 'postingDate'),
          dueDate: input.dueDate === undefined ? documentDate : isoDate(input.dueDate, 'dueDate'),
          customerId: customer.id,
          status: 'Draft',
          lines: [],
          paid: 0,
          lastModifiedDateTime: store.now(),
          version: 1,
        };
        // Deep insert: the lines come in the same request.
        doc.lines = parseLines(doc, input[linesSet]);
        store.documents.set(doc.id, doc);
        return single(set, documentJson(doc), 201);
      }
    } else {
      const doc = store.documents.get(key);
      if (!doc || doc.kind !== kind) throw new BcError(404, 'BadRequest_NotFound', `The ${label} does not exist. Identification fields and values: Id='${key}'`);
      if (sub === null) {
        if (method === 'GET') return single(set, documentJson(doc));
        if (method === 'DELETE') {
          if (doc.status !== 'Draft') throw new BcError(400, 'Application_DialogException', `You cannot delete a posted ${label.toLowerCase()}. Cancel it instead.`);
          store.documents.delete(doc.id);
          return { status: 204 };
        }
        if (method === 'PATCH') {
          checkIfMatch(headers, etagOf(kind, doc.id, doc.version));
          if (doc.status !== 'Draft') throw new BcError(400, 'Application_DialogException', `You cannot change a posted ${label.toLowerCase()}.`);
          const input = parseJson(body);
          if (input.externalDocumentNumber !== undefined) doc.externalDocumentNumber = codeValue(input.externalDocumentNumber, 'externalDocumentNumber', 35);
          if (input.postingDate !== undefined) doc.postingDate = isoDate(input.postingDate, 'postingDate');
          touch(doc);
          return single(set, documentJson(doc));
        }
      } else if (sub === linesSet) {
        if (method === 'GET') return collection(linesSet, doc.lines.map(lineJson), query, lineFields, selfUrl);
        if (method === 'POST') {
          if (doc.status !== 'Draft') throw new BcError(400, 'Application_DialogException', `You cannot change a posted ${label.toLowerCase()}.`);
          const [line] = parseLines(doc, [parseJson(body)]);
          doc.lines.push(line);
          touch(doc);
          return single(linesSet, lineJson(line), 201);
        }
      } else if (sub === 'Microsoft.NAV.post' && method === 'POST') {
        if (doc.status !== 'Draft') throw new BcError(400, 'Application_DialogException', `The ${label.toLowerCase()} ${doc.number} has already been posted.`);
        if (doc.lines.length === 0) throw new BcError(400, 'Application_DialogException', 'There is nothing to post.');
        postingAllowed(doc.postingDate);
        doc.number = store.nextNumber(kind, true);
        doc.status = documentTotal(doc) === 0 ? 'Paid' : 'Open';
        touch(doc);
        return { status: 204 };
      } else if (sub === 'Microsoft.NAV.cancel' && method === 'POST') {
        if (doc.status === 'Draft') throw new BcError(400, 'Application_DialogException', `The ${label.toLowerCase()} ${doc.number} is not posted.`);
        if (doc.status === 'Canceled') throw new BcError(400, 'Application_DialogException', `The ${label.toLowerCase()} ${doc.number} has already been canceled.`);
        if (doc.paid > 0) throw new BcError(400, 'Application_DialogException', `You cannot cancel ${doc.number} because it has been fully or partially paid.`);
        // The corrective document is posted on the original's posting date.
        postingAllowed(doc.postingDate);
        doc.status = 'Canceled';
        touch(doc);
        return { status: 204 };
      }
    }
    throw new BcError(405, 'BadRequest_MethodNotAllowed', `'${method}' requests for '${set}${sub ? `/${sub}` : ''}' are not allowed within Dynamics 365 Business Central OData web services.`);
  }

  /** One API request below `/v2.0/{tenant}/{environment}/api/v2.0/` (also each $batch operation). */
  function dispatch(method: string, relative: string, query: URLSearchParams, headers: SimRequest['headers'], body: string): SimResponse {
    const selfUrl = `${base}/v2.0/${tenant}/${environment}/api/v2.0/${relative}${[...query].length ? `?${query.toString()}` : ''}`;
    try {
      const segments = relative.split('/').filter(Boolean).map(decodeURIComponent);
      if (segments.length === 1 && segments[0] === 'companies' && method === 'GET') {
        return collection('companies', [{ id: companyId, systemVersion: '25.0.23364.0', timestamp: 1, name: 'CRONUS USA, Inc.', displayName: 'CRONUS USA, Inc.', businessProfileId: '', systemCreatedAt: '2025-01-01T00:00:00Z', systemCreatedBy: ZERO_GUID, systemModifiedAt: '2025-01-01T00:00:00Z', systemModifiedBy: ZERO_GUID }], query, ['id', 'name', 'displayName'], selfUrl);
      }
      const company = /^companies\(([^)]+)\)$/.exec(segments[0] ?? '');
      if (!company) throw new BcError(404, 'BadRequest_NotFound', `The request URI is not valid. Since the segment '${segments[0] ?? ''}' refers to a collection, this must be the last segment in the request URI or it must be followed by an function or action that can be bound to it otherwise all intermediate segments must refer to a single resource.`);
      if (company[1] !== companyId) throw new BcError(404, 'BadRequest_NotFound', `The Company does not exist. Identification fields and values: Id='${company[1]}'`);
      const entity = /^([A-Za-z]+)(?:\(([^)]+)\))?$/.exec(segments[1] ?? '');
      if (!entity) throw new BcError(404, 'BadRequest_NotFound', `Resource not found for the segment '${segments[1] ?? ''}'.`);
      const [, set, key = null] = entity;
      const sub = segments[2] ?? null;
      if (segments.length > 3) throw new BcError(404, 'BadRequest_NotFound', `Resource not found for the segment '${segments[3]}'.`);
      switch (set) {
        case 'customers':
          if (sub) break;
          return customers(method, key, query, headers, body, selfUrl);
        case 'salesInvoices':
          return documents('salesInvoice', method, key, sub, query, headers, body, selfUrl);
        case 'salesCreditMemos':
          return documents('salesCreditMemo', method, key, sub, query, headers, body, selfUrl);
        case 'accountingPeriods':
          if (method === 'GET' && key === null && !sub) return collection('accountingPeriods', store.periods().map(periodJson), query, periodFields, selfUrl);
          throw new BcError(405, 'BadRequest_MethodNotAllowed', `'${method}' requests for 'accountingPeriods' are not allowed within Dynamics 365 Business Central OData web services.`);
      }
      throw new BcError(404, 'BadRequest_NotFound', `Resource not found for the segment '${set}'.`);
    } catch (error) {
      if (error instanceof BcError) return bcError(error.status, error.code, error.message);
      if (error instanceof ODataError) return bcError(400, 'BadRequest', error.message);
      throw error;
    }
  }

  function batch(req: SimRequest): SimResponse {
    let parsed: { requests?: unknown };
    try {
      parsed = JSON.parse(req.body || '{}') as { requests?: unknown };
    } catch {
      return bcError(400, 'BadRequest', 'Invalid Request Body');
    }
    const requests = parsed.requests;
    if (!Array.isArray(requests)) return bcError(400, 'BadRequest', "The batch request body must hold a 'requests' array.");
    if (requests.length > 100) return bcError(400, 'BadRequest', `The batch holds ${requests.length} operations; at most 100 are allowed.`);
    const prefix = `/v2.0/${tenant}/${environment}/api/v2.0/`;
    const responses = requests.map((raw) => {
      const op = raw as { id?: unknown; method?: unknown; url?: unknown; headers?: Record<string, string>; body?: unknown };
      let url = String(op.url ?? '');
      if (/^https?:/.test(url)) url = new URL(url).pathname + new URL(url).search;
      if (url.startsWith(prefix)) url = url.slice(prefix.length);
      const [path, search = ''] = url.split('?');
      const headers = Object.fromEntries(Object.entries(op.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      const result = dispatch(String(op.method ?? 'GET').toUpperCase(), path.replace(/^\//, ''), new URLSearchParams(search), headers, op.body === undefined ? '' : JSON.stringify(op.body));
      return { id: String(op.id ?? ''), status: result.status, headers: result.headers ?? {}, ...(result.body === undefined ? {} : { body: result.body }) };
    });
    return { status: 200, headers: { 'content-type': 'application/json; odata.metadata=minimal' }, body: { responses } };
  }

  function apiRoute(req: SimRequest): SimResponse {
    if (req.params.tenant !== tenant) return bcError(404, 'BadRequest_NotFound', `Tenant '${req.params.tenant}' does not exist.`);
    if (req.params.environment !== environment) return bcError(404, 'NoEnvironment', `The environment '${req.params.environment}' does not exist.`);
    const relative = req.path.replace(/^\/v2\.0\/[^/]+\/[^/]+\/api\/v2\.0\/?/, '');
    if (relative === '$batch' && req.method === 'POST') return batch(req);
    return dispatch(req.method, relative, req.query, req.headers, req.body);
  }

  // ------------------------------------------------------------------ identity platform

  function token(req: SimRequest): SimResponse {
    const form = new URLSearchParams(req.body);
    const aad = (status: number, error: string, code: number, description: string): SimResponse => ({
      status,
      body: { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: crypto.randomUUID(), correlation_id: crypto.randomUUID() },
    });
    if (req.params.tenant !== tenant) return aad(400, 'invalid_request', 90002, `Tenant '${req.params.tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return aad(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const id = form.get('client_id') ?? '';
    const secret = form.get('client_secret') ?? '';
    if (!id || (clientId !== undefined && id !== clientId)) return aad(400, 'unauthorized_client', 700016, `Application with identifier '${id}' was not found in the directory.`);
    if (!secret || (clientSecret !== undefined && secret !== clientSecret)) return aad(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    if (form.get('scope') !== BC_SCOPE) return aad(400, 'invalid_scope', 70011, `The provided value for the input parameter 'scope' is not valid.`);
    const accessToken = crypto.randomBytes(32).toString('base64url');
    tokens.set(accessToken, { user: id, expiresAt: Date.now() + tokenLifetimeSeconds * 1000 });
    return { status: 200, body: { token_type: 'Bearer', expires_in: tokenLifetimeSeconds, ext_expires_in: tokenLifetimeSeconds, access_token: accessToken } };
  }

  /** Sliding-window rate limit per user: true when this request is over it. */
  function overLimit(user: string): boolean {
    const now = Date.now();
    const log = (windows.get(user) ?? []).filter((at) => at > now - rateLimit.windowMs);
    windows.set(user, log);
    if (log.length >= rateLimit.requests) return true;
    log.push(now);
    return false;
  }

  const tooMany = () => bcError(429, 'Application_TooManyRequests', 'Too many requests reached. Actual (6000). Maximum (6000). Please retry later.');

  const shell = createSimServer({
    name: 'businesscentral',
    routes: [
      { method: 'POST', pattern: '/:tenant/oauth2/v2.0/token', handler: token },
      { method: 'POST', pattern: `${API}/$batch`, handler: apiRoute },
      ...['GET', 'POST', 'PATCH', 'DELETE'].flatMap((method) => [
        { method, pattern: `${API}/:entity`, handler: apiRoute },
        { method, pattern: `${API}/:company/:entity`, handler: apiRoute },
        { method, pattern: `${API}/:company/:entity/:sub`, handler: apiRoute },
      ]),
    ],
    defaults: { concurrency },
    controlRoutes: [
      { method: 'GET', pattern: '/__sim/periods', handler: () => ({ status: 200, body: { closed: [...store.closed].sort() } }) },
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
          store.closed = new Set(list as string[]);
          return { status: 200, body: { closed: [...store.closed].sort() } };
        },
      },
      { method: 'GET', pattern: '/__sim/limits', handler: () => ({ status: 200, body: { rateLimit, concurrency } }) },
      {
        method: 'POST', pattern: '/__sim/limits', handler: (req) => {
          const parsed = JSON.parse(req.body || '{}') as { requests?: unknown; windowMs?: unknown };
          if (!Number.isInteger(parsed.requests) || !Number.isInteger(parsed.windowMs)) return { status: 400, body: { error: 'requests and windowMs must be integers' } };
          rateLimit = { requests: parsed.requests as number, windowMs: parsed.windowMs as number };
          windows.clear();
          return { status: 200, body: { rateLimit } };
        },
      },
    ],
    onReset: () => windows.clear(),
    state: () => ({
      customers: [...store.customers.values()].map(customerJson),
      salesInvoices: [...store.documents.values()].filter((d) => d.kind === 'salesInvoice').map((d) => ({ ...documentJson(d), salesInvoiceLines: d.lines.map(lineJson) })),
      salesCreditMemos: [...store.documents.values()].filter((d) => d.kind === 'salesCreditMemo').map((d) => ({ ...documentJson(d), salesCreditMemoLines: d.lines.map(lineJson) })),
      accountingPeriods: store.periods().map(periodJson),
    }),
    authenticate: (req) => {
      if (/^\/[^/]+\/oauth2\/v2\.0\/token$/.test(req.path)) return null;
      const match = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''));
      const session = match ? tokens.get(match[1]) : undefined;
      if (!session || session.expiresAt <= Date.now()) {
        return bcError(401, 'Authentication_InvalidCredentials', 'The server has rejected the client credentials.', { 'www-authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="invalid_token"' });
      }
      return overLimit(session.user) ? tooMany() : null;
    },
    faultResponse: (kind) => {
      switch (kind) {
        case '429':
        case 'concurrency':
          return tooMany();
        case '500':
          return bcError(500, 'Internal_ServerError', 'An unexpected error occurred.');
        case '503':
          return bcError(503, 'Unavailable', 'The service is temporarily unavailable. Please try again later.');
      }
    },
    notFound: (req) => bcError(404, 'BadRequest_NotFound', `No HTTP resource was found that matches the request URI '${req.path}'.`),
  });

  return {
    async listen(port = 0, host = '127.0.0.1') {
      const server = await shell.listen(port, host);
      base = server.url;
      return server;
    },
  };
}

/** Create and start a Business Central simulator (port 0 = any free port). */
export function startBusinessCentralSimulator(options: BusinessCentralSimulatorOptions & { port?: number; host?: string } = {}): Promise<SimServer> {
  const { port, host, ...rest } = options;
  return createBusinessCentralSimulator(rest).listen(port, host);
}
