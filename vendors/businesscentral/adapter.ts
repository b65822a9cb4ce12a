/**
 * ErpPort over Dynamics 365 Business Central API v2.0. Records are found by their cross-system
 * links (mapping.ts): a customer by its `number` (the canonical id), a sales invoice or credit memo
 * by its `externalDocumentNumber` (the billing invoice id). Bulk reads put many `$filter` reads in
 * one JSON `$batch` call. A posting is BC's own two steps: a draft created with its lines in one
 * deep insert, then `Microsoft.NAV.post`; a reversal is `Microsoft.NAV.cancel` (BC's corrective
 * credit memo: a posted document is never deleted). Every write looks the record up first, so a
 * replay after an uncertain outcome finds what the first attempt made instead of adding another;
 * customer updates carry the record's @odata.etag in If-Match. Failures: errors.ts.
 */
import type { ErpCustomerProfile, ErpPosting, Money } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { toMinorUnits } from '../../core/money';
import { withRetries } from '../../core/retry';
import type { ErpDocumentInput, ErpPort, ErpWriteOptions } from '../../subgraphs/erp/port';
import { createBusinessCentralClient, odataString, type BatchOperation, type BusinessCentralClient, type BusinessCentralClientOptions, type BusinessCentralRequest, type BusinessCentralResponse } from './client';
import { errorFromBusinessCentral } from './errors';
import {
  CUSTOMER_NUMBER_MAX,
  EXTERNAL_DOCUMENT_MAX,
  customerRecord,
  fitsCode,
  notPosted,
  postingFromDocument,
  profileFromCustomer,
  toCode,
  transactionFromDocument,
} from './mapping';
import { businessCentralRetry } from './retry';

export interface BusinessCentralAdapterOptions extends BusinessCentralClientOptions {
  /** Company id (GUID). Default: the environment's only company (or the one named `companyName`), looked up once. */
  companyId?: string;
  companyName?: string;
  /** The company's local currency, for Money values. Default 'USD'. */
  currency?: string;
  /** G/L account number credited by invoice lines (revenue). Default '40100'. */
  revenueAccount?: string;
  /** G/L account number of the tax billing computed (sales tax payable). Default '22300'. */
  taxAccount?: string;
  /** Retries of a failed read inside the call. Default businessCentralRetry.readRetries (2). */
  readRetries?: number;
  /** The process's client, shared with the change feed. Default: one of its own. */
  client?: BusinessCentralClient;
}

/** Ids per `$filter` (`number eq 'A' or number eq 'B' ...`): keeps each URL short. */
const IDS_PER_FILTER = 25;
/** Operations per $batch (BC's limit is 100). */
const OPS_PER_BATCH = 100;
const MAX_FIRST = 1000;

type Wire = Record<string, unknown>;
type DocumentKind = 'salesInvoices' | 'salesCreditMemos';

const unique = (ids: readonly string[]) => [...new Set(ids)];
const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Of several documents with one external document number: the posted one, else a draft, else a canceled one. */
function preferred(documents: Wire[]): Wire | undefined {
  const rank = (d: Wire) => (d.status === 'Open' || d.status === 'Paid' ? 0 : d.status === 'Draft' ? 1 : 2);
  return [...documents].sort((a, b) => rank(a) - rank(b))[0];
}

export function createBusinessCentralAdapter(options: BusinessCentralAdapterOptions): ErpPort {
  const { currency = 'USD', revenueAccount = '40100', taxAccount = '22300', readRetries = businessCentralRetry.readRetries } = options;
  const client = options.client ?? createBusinessCentralClient(options);
  const policy = { baseDelayMs: businessCentralRetry.baseDelayMs, maxDelayMs: businessCentralRetry.maxDelayMs, retryAfterMaxMs: businessCentralRetry.retryAfterMaxMs };

  /** One request; anything but 2xx becomes a ConcordError. `write`: a lost answer is an uncertain outcome. */
  async function call(request: BusinessCentralRequest, write: boolean): Promise<BusinessCentralResponse> {
    let response: BusinessCentralResponse;
    try {
      response = await client.request(request);
    } catch (error) {
      throw errorFromBusinessCentral({ error }, { operation: request.operation, write });
    }
    if (response.status >= 200 && response.status < 300) return response;
    throw errorFromBusinessCentral({ response }, { operation: request.operation, write });
  }
  const read = (request: BusinessCentralRequest) => withRetries(() => call(request, false), { ...policy, retries: readRetries });
  /**
   * A read that is a step of a write (the look-up before it, the read-back after it): retried like
   * a read, but a lost answer is reported as the write's uncertain outcome, since the caller cannot
   * tell from it how far the write got.
   */
  const stepRead = (request: BusinessCentralRequest) => withRetries(() => call(request, true), { ...policy, retries: readRetries });
  /** Writes are not retried here: the saga engine retries them, one call per attempt. */
  const write = (request: BusinessCentralRequest) => call(request, true);

  let company: Promise<string> | null = options.companyId ? Promise.resolve(options.companyId) : null;
  function companyPath(): Promise<string> {
    company ??= read({ method: 'GET', path: 'companies', operation: 'companies.list' })
      .then((response) => {
        const companies = ((response.body as { value?: Wire[] } | null)?.value ?? []);
        const found = options.companyName ? companies.find((c) => c.name === options.companyName) : companies.length === 1 ? companies[0] : undefined;
        if (!found) throw new ConcordError('VENDOR_UNAVAILABLE', `Business Central company ${options.companyName ? `'${options.companyName}' ` : ''}not found (set BUSINESSCENTRAL_COMPANY_ID)`, { system: 'ERP', retryable: false });
        return String(found.id);
      })
      .catch((error: unknown) => {
        company = null;
        throw error;
      });
    return company.then((id) => `companies(${id})`);
  }

  const valuesOf = (body: unknown): Wire[] => {
    const value = (body as { value?: unknown } | null)?.value;
    if (!Array.isArray(value)) throw new ConcordError('VENDOR_UNAVAILABLE', 'Business Central returned an unreadable collection', { system: 'ERP' });
    return value as Wire[];
  };

  /** Every row of a collection read, following @odata.nextLink. */
  async function readAll(path: string, query: Record<string, string | number>, operation: string, step = false): Promise<Wire[]> {
    const rows: Wire[] = [];
    let request: BusinessCentralRequest = { method: 'GET', path, query, operation };
    for (;;) {
      const response = await (step ? stepRead(request) : read(request));
      rows.push(...valuesOf(response.body));
      const next = (response.body as { '@odata.nextLink'?: string })['@odata.nextLink'];
      if (!next) return rows;
      request = { method: 'GET', path: next, operation };
    }
  }

  /** Many collection reads in as few $batch calls as possible; each read's rows (no server paging expected). */
  async function batchRead(urls: string[], operation: string): Promise<Wire[][]> {
    const results: Wire[][] = [];
    for (const group of chunks(urls, OPS_PER_BATCH)) {
      const answers = await withRetries(async () => {
        const operations: BatchOperation[] = group.map((url, i) => ({ id: String(i + 1), method: 'GET', url }));
        let out;
        try {
          out = await client.batch(operations, operation);
        } catch (error) {
          throw errorFromBusinessCentral({ error }, { operation, write: false });
        }
        const failed = out.find((r) => r.status < 200 || r.status >= 300);
        if (failed) throw errorFromBusinessCentral({ response: { status: failed.status, body: failed.body } }, { operation, write: false });
        return out.map((r) => valuesOf(r.body));
      }, { ...policy, retries: readRetries });
      results.push(...answers);
    }
    return results;
  }

  const orFilter = (field: string, codes: string[]) => codes.map((code) => `${field} eq ${odataString(code)}`).join(' or ');
  const urlOf = (path: string, query: Record<string, string | number>) =>
    `${path}?${Object.entries(query).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&')}`;

  async function findCustomer(customerId: string): Promise<Wire | undefined> {
    const code = toCode(customerId, CUSTOMER_NUMBER_MAX, 'customerId');
    const rows = await readAll(`${await companyPath()}/customers`, { $filter: `number eq ${odataString(code)}` }, 'customers.find', true);
    return rows[0];
  }

  async function findDocuments(kind: DocumentKind, invoiceId: string): Promise<Wire[]> {
    const code = toCode(invoiceId, EXTERNAL_DOCUMENT_MAX, 'invoiceId');
    return readAll(`${await companyPath()}/${kind}`, { $filter: `externalDocumentNumber eq ${odataString(code)}` }, `${kind}.find`, true);
  }

  const decimal = (money: Money, field: string): number => {
    if (money.currency.toUpperCase() !== currency.toUpperCase()) {
      throw new ConcordError('VALIDATION_FAILED', `${field} is in ${money.currency}; the ERP company books in ${currency}`);
    }
    return Number(money.amount);
  };

  /** Document lines: revenue lines (a unit price BC can hold exactly, else one line of the amount), the tax billing computed, the correlation id as a comment. */
  function documentLines(input: ErpDocumentInput, correlationId: string): Wire[] {
    const lines: Wire[] = [];
    let cents = 0;
    for (const line of input.lines) {
      const amount = toMinorUnits(String(decimal(line.amount, 'line amount').toFixed(2)), currency);
      cents += amount;
      const unit = line.quantity > 0 ? Math.round((amount / line.quantity) * 1000) / 100_000 : 0;
      const exact = line.quantity > 0 && Math.round(unit * line.quantity * 100) === amount;
      lines.push({ lineType: 'Account', lineObjectNumber: revenueAccount, description: line.description.slice(0, 100), quantity: exact ? line.quantity : 1, unitPrice: exact ? unit : amount / 100 });
    }
    const tax = toMinorUnits(String(decimal(input.tax, 'tax').toFixed(2)), currency);
    if (tax !== 0) lines.push({ lineType: 'Account', lineObjectNumber: taxAccount, description: 'Tax', quantity: 1, unitPrice: tax / 100 });
    const total = toMinorUnits(String(decimal(input.total, 'total').toFixed(2)), currency);
    if (total !== cents + tax) lines.push({ lineType: 'Account', lineObjectNumber: revenueAccount, description: 'Adjustment to the billed total', quantity: 1, unitPrice: (total - cents - tax) / 100 });
    lines.push({ lineType: 'Comment', description: `Concord correlation id ${correlationId}`.slice(0, 100) });
    return lines;
  }

  /** Post (create + post) the document whose external document number is the billing invoice id. */
  async function postDocument(kind: DocumentKind, input: ErpDocumentInput, correlationId: string): Promise<ErpPosting> {
    const externalDocumentNumber = toCode(input.invoiceId, EXTERNAL_DOCUMENT_MAX, 'invoiceId');
    const customerNumber = toCode(input.customerId, CUSTOMER_NUMBER_MAX, 'customerId');
    const date = input.documentDate.slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(date))) throw new ConcordError('BAD_USER_INPUT', 'documentDate must be an ISO date');
    const lines = documentLines(input, correlationId);
    const root = `${await companyPath()}/${kind}`;
    const label = kind === 'salesInvoices' ? 'salesInvoice' : 'salesCreditMemo';

    const existing = await findDocuments(kind, input.invoiceId);
    const posted = existing.find((d) => d.status === 'Open' || d.status === 'Paid');
    if (posted) {
      // A replay: what was asked is already in the ledger.
      if (Number(posted.totalAmountIncludingTax).toFixed(2) === Number(input.total.amount).toFixed(2)) return postingFromDocument(posted, currency, input.invoiceId);
      // Changed since it was posted: BC never edits a posted document. Cancel it (PERIOD_CLOSED when
      // its period is closed) and post the new one.
      await write({ method: 'POST', path: `${root}(${String(posted.id)})/Microsoft.NAV.cancel`, operation: `${label}.cancel` });
    }
    // A draft left by an attempt that stopped before posting: start again from the current input.
    for (const draft of existing.filter((d) => d.status === 'Draft')) {
      await write({ method: 'DELETE', path: `${root}(${String(draft.id)})`, operation: `${label}.deleteDraft` });
    }
    const created = await write({
      method: 'POST',
      path: root,
      body: {
        externalDocumentNumber,
        customerNumber,
        [kind === 'salesInvoices' ? 'invoiceDate' : 'creditMemoDate']: date,
        postingDate: date,
        ...(kind === 'salesInvoices' ? { dueDate: date } : {}),
        [kind === 'salesInvoices' ? 'salesInvoiceLines' : 'salesCreditMemoLines']: lines,
      },
      operation: `${label}.create`,
    });
    const id = String((created.body as Wire | null)?.id ?? '');
    try {
      await write({ method: 'POST', path: `${root}(${id})/Microsoft.NAV.post`, operation: `${label}.post` });
    } catch (error) {
      if (error instanceof ConcordError && !error.retryable) {
        // Refused (a closed period, a blocked customer): leave nothing half-written behind.
        await write({ method: 'DELETE', path: `${root}(${id})`, operation: `${label}.deleteDraft` }).catch(() => undefined);
      }
      throw error;
    }
    const response = await stepRead({ method: 'GET', path: `${root}(${id})`, operation: `${label}.get` });
    return postingFromDocument(response.body as Wire, currency, input.invoiceId);
  }

  /** Undo a posting: cancel the posted document, delete a draft; none left counts as done. */
  async function reverseDocument(kind: DocumentKind, invoiceId: string): Promise<void> {
    const root = `${await companyPath()}/${kind}`;
    const label = kind === 'salesInvoices' ? 'salesInvoice' : 'salesCreditMemo';
    for (const doc of await findDocuments(kind, invoiceId)) {
      if (doc.status === 'Draft') await write({ method: 'DELETE', path: `${root}(${String(doc.id)})`, operation: `${label}.deleteDraft` });
      // Canceling is idempotent in effect: after a lost answer the retry finds it Canceled and skips it.
      else if (doc.status === 'Open' || doc.status === 'Paid') await write({ method: 'POST', path: `${root}(${String(doc.id)})/Microsoft.NAV.cancel`, operation: `${label}.cancel` });
    }
  }

  async function patchCustomer(customer: Wire, body: Wire, operation: string): Promise<ErpCustomerProfile> {
    const response = await write({
      method: 'PATCH',
      path: `${await companyPath()}/customers(${String(customer.id)})`,
      headers: { 'if-match': String(customer['@odata.etag'] ?? '*') },
      body,
      operation,
    });
    return profileFromCustomer(response.body as Wire, currency);
  }

  const checkFirst = (first: number) => {
    if (!Number.isInteger(first) || first < 1 || first > MAX_FIRST) throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 1 and ${MAX_FIRST}`);
    return first;
  };
  const CURSOR = /^[A-Z0-9_.:/~-]{1,35}$/;
  const SAFE_TERM = /^[A-Za-z0-9 ._@/-]{1,80}$/;

  return {
    vendor: 'businesscentral',

    async getCustomerProfiles(customerIds) {
      const wanted = unique(customerIds).filter((id) => fitsCode(id, CUSTOMER_NUMBER_MAX));
      const byCode = new Map(wanted.map((id) => [toCode(id, CUSTOMER_NUMBER_MAX, 'customerId'), id]));
      const path = `${await companyPath()}/customers`;
      const pages = await batchRead(chunks([...byCode.keys()], IDS_PER_FILTER).map((codes) => urlOf(path, { $filter: orFilter('number', codes) })), 'customers.batch');
      const profiles = new Map<string, ErpCustomerProfile>();
      for (const row of pages.flat()) {
        const id = byCode.get(String(row.number));
        if (id) profiles.set(id, { ...profileFromCustomer(row, currency), customerId: id });
      }
      return profiles;
    },

    async getPostings(invoiceIds) {
      const postings = new Map<string, ErpPosting>(unique(invoiceIds).map((id) => [id, notPosted(id)]));
      const byCode = new Map([...postings.keys()].filter((id) => fitsCode(id, EXTERNAL_DOCUMENT_MAX)).map((id) => [toCode(id, EXTERNAL_DOCUMENT_MAX, 'invoiceId'), id]));
      const path = `${await companyPath()}/salesInvoices`;
      const pages = await batchRead(chunks([...byCode.keys()], IDS_PER_FILTER).map((codes) => urlOf(path, { $filter: orFilter('externalDocumentNumber', codes) })), 'salesInvoices.batch');
      const grouped = new Map<string, Wire[]>();
      for (const row of pages.flat()) {
        const id = byCode.get(String(row.externalDocumentNumber));
        if (id) grouped.set(id, [...(grouped.get(id) ?? []), row]);
      }
      for (const [id, documents] of grouped) postings.set(id, postingFromDocument(preferred(documents)!, currency, id));
      return postings;
    },

    async upsertCustomer(input, _options: ErpWriteOptions) {
      // The correlation id has no place on a BC customer (API v2.0 has no free field on it).
      const number = toCode(input.customerId, CUSTOMER_NUMBER_MAX, 'customerId');
      const fields: Wire = {
        displayName: input.companyName.slice(0, 100),
        ...(input.email !== undefined ? { email: input.email ?? '' } : {}),
        ...(input.taxRegistration !== undefined ? { taxRegistrationNumber: input.taxRegistration ?? '' } : {}),
      };
      const existing = await findCustomer(input.customerId);
      if (existing) return { ...(await patchCustomer(existing, fields, 'customers.update')), customerId: input.customerId };
      const created = await write({ method: 'POST', path: `${await companyPath()}/customers`, body: { number, type: 'Company', ...fields }, operation: 'customers.create' });
      return { ...profileFromCustomer(created.body as Wire, currency), customerId: input.customerId };
    },

    async postInvoice(input, { correlationId }: ErpWriteOptions) {
      return postDocument('salesInvoices', input, correlationId);
    },

    async reverseInvoice(invoiceId) {
      await reverseDocument('salesInvoices', invoiceId);
    },

    async setCreditHold(customerId, hold, _options: ErpWriteOptions) {
      const customer = await findCustomer(customerId);
      if (!customer) throw new ConcordError('NOT_FOUND', 'Business Central customers.find: no such customer in the ERP', { system: 'ERP', retryable: false });
      // "Ship" blocks shipments to the customer; " " lifts the block.
      return { ...(await patchCustomer(customer, { blocked: hold ? 'Ship' : ' ' }, 'customers.setCreditHold')), customerId };
    },

    async postCreditMemo(input, { correlationId }: ErpWriteOptions) {
      return postDocument('salesCreditMemos', input, correlationId);
    },

    async reverseCreditMemo(invoiceId) {
      await reverseDocument('salesCreditMemos', invoiceId);
    },

    async listCustomers({ first, after }) {
      const limit = checkFirst(first);
      if (after && !CURSOR.test(after)) throw new ConcordError('BAD_USER_INPUT', 'after must be a cursor from a previous page');
      const response = await read({
        method: 'GET',
        path: `${await companyPath()}/customers`,
        query: { ...(after ? { $filter: `number gt ${odataString(after)}` } : {}), $orderby: 'number', $top: limit + 1 },
        operation: 'customers.list',
      });
      const rows = valuesOf(response.body);
      const items = rows.slice(0, limit);
      return { items: items.map((row) => customerRecord(row, currency)), hasNextPage: rows.length > limit, endCursor: items.length ? String(items.at(-1)!.number) : null };
    },

    async listTransactions({ first, after }) {
      const limit = checkFirst(first);
      const cursor = after ? /^([IC]):(.+)$/.exec(after) : null;
      if (after && (!cursor || !CURSOR.test(cursor[2]))) throw new ConcordError('BAD_USER_INPUT', 'after must be a cursor from a previous page');
      const root = await companyPath();
      const page = (kind: DocumentKind, from: string | null) =>
        urlOf(`${root}/${kind}`, { $filter: `status ne 'Draft'${from ? ` and number gt ${odataString(from)}` : ''}`, $orderby: 'number', $top: limit + 1 });
      const phase = cursor?.[1] ?? 'I';
      // Invoices first, then credit memos, both keyset-paged by number; one $batch call per page.
      const [invoices, credits] = phase === 'I'
        ? await batchRead([page('salesInvoices', cursor?.[2] ?? null), page('salesCreditMemos', null)], 'transactions.batch')
        : [[], ...(await batchRead([page('salesCreditMemos', cursor![2])], 'transactions.batch'))];
      const items = [
        ...invoices.slice(0, limit).map((d) => ({ d, t: transactionFromDocument(d, 'INVOICE', currency), c: `I:${String(d.number)}` })),
      ];
      let hasNextPage = invoices.length > limit;
      if (!hasNextPage) {
        const room = limit - items.length;
        items.push(...credits.slice(0, room).map((d) => ({ d, t: transactionFromDocument(d, 'CREDIT_MEMO', currency), c: `C:${String(d.number)}` })));
        hasNextPage = credits.length > room;
      }
      return { items: items.map((i) => i.t), hasNextPage, endCursor: items.at(-1)?.c ?? null };
    },

    async closedPeriods() {
      const rows = await readAll(`${await companyPath()}/accountingPeriods`, { $filter: 'closed eq true', $orderby: 'startingDate' }, 'accountingPeriods.list');
      return rows.map((row) => String(row.startingDate ?? '').slice(0, 7)).filter((p) => /^\d{4}-\d{2}$/.test(p));
    },

    async findCustomerCandidates({ nameTokens, taxRegistration, emailDomain }, limit = 200) {
      // BC's filters compare as stored (case-sensitive): each term is asked for in its usual casings.
      const casings = (t: string) => unique([t, t.toLowerCase(), t.toUpperCase(), t.charAt(0).toUpperCase() + t.slice(1).toLowerCase()]);
      const clauses = [
        ...nameTokens.filter((t) => SAFE_TERM.test(t)).slice(0, 5).flatMap((t) => casings(t).map((c) => `contains(displayName,${odataString(c)})`)),
        ...(taxRegistration && SAFE_TERM.test(taxRegistration) ? casings(taxRegistration).map((c) => `taxRegistrationNumber eq ${odataString(c)}`) : []),
        ...(emailDomain && SAFE_TERM.test(emailDomain) ? casings(emailDomain).map((c) => `endswith(email,${odataString(`@${c}`)})`) : []),
      ];
      if (clauses.length === 0) return [];
      const response = await read({
        method: 'GET',
        path: `${await companyPath()}/customers`,
        query: { $filter: clauses.join(' or '), $orderby: 'number', $top: Math.max(1, Math.min(limit, MAX_FIRST)) },
        operation: 'customers.search',
      });
      return valuesOf(response.body).map((row) => customerRecord(row, currency));
    },

    async ping() {
      await read({ method: 'GET', path: `${await companyPath()}/accountingPeriods`, query: { $top: 1 }, operation: 'ping' });
    },
  };
}
