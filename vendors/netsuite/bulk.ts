/**
 * The ErpPort's reconciliation and customer-master methods over NetSuite: keyset-paged SuiteQL reads
 * of every customer and AR transaction (`WHERE id > :last ORDER BY id`, a page per call, so a
 * read of any size costs rows / 1000 calls and never meets SuiteQL's offset ceiling), the closed
 * accounting periods, a duplicate search, and credit memos (external-id upserts, like invoices).
 * Split from netsuite-adapter.ts, which owns the client, retries and error mapping they share.
 */
import type { ErpCustomerRecord, ErpPosting, ErpTransaction, Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { fromDecimal } from '../../core/money';
import type { NetSuiteRequest, NetSuiteResponse } from './client';
import type { ErpDocumentInput, ErpPort, ErpWriteOptions } from '../../subgraphs/erp/port';
import { postingFromRecord, profileFromRow } from './mapping';

/** SuiteQL's largest page. */
const PAGE = 1000;

const CUSTOMER_COLUMNS = 'id, entityid, companyname, externalid, creditlimit, creditholdoverride, balance, vatregnumber, email';
const TRANSACTION_COLUMNS =
  "id, tranid, externalid, type, entity, TO_CHAR(trandate, 'YYYY-MM-DD') AS trandate, foreigntotal, foreignamountremaining, status";

type Row = Record<string, string | undefined>;

export interface NetSuiteBulkDeps {
  /** A read (retried by policy); non-2xx becomes a ConcordError. */
  read(request: NetSuiteRequest): Promise<NetSuiteResponse>;
  /** A write (an upsert or delete by external id, so retrying it is safe). */
  write(request: NetSuiteRequest): Promise<NetSuiteResponse>;
  /** Every row of a SuiteQL query. */
  suiteql(q: string): Promise<Row[]>;
  currency: string;
  requireExternalId(id: string, what: string): void;
  /** The upsert body of an invoice or credit memo (validates the date and currency). */
  documentBody(input: ErpDocumentInput, correlationId: string): Record<string, unknown>;
}

type BulkMethods = Pick<ErpPort, 'postCreditMemo' | 'reverseCreditMemo' | 'listCustomers' | 'listTransactions' | 'closedPeriods' | 'findCustomerCandidates'>;

const RECORD = '/services/rest/record/v1';
const SUITEQL = '/services/rest/query/v1/suiteql';

function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > PAGE) throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 1 and ${PAGE}`);
  return first;
}

/** A keyset cursor is an internal id: digits only, which also keeps it safe inside the query text. */
function afterClause(after: string | null | undefined): string {
  if (after === null || after === undefined || after === '') return '';
  if (!/^\d{1,18}$/.test(after)) throw new ConcordError('BAD_USER_INPUT', 'after must be a cursor from a previous page');
  return ` AND id > ${after}`;
}

/** Letters, digits and the separators of domains and tax ids: safe in a SuiteQL literal as they are. */
const SAFE_TERM = /^[A-Za-z0-9 ._@/-]{1,80}$/;

const TRANSACTION_STATUS: Record<string, ErpTransaction['status']> = { A: 'OPEN', B: 'PAID', V: 'VOIDED' };

export function transactionFromRow(row: Row, currency: string): ErpTransaction {
  const credit = row.type === 'CustCred';
  const amount = (value: string | undefined) => {
    const money = fromDecimal(value ?? '0', currency);
    // Credit memos carry negative amounts in the transaction table; the canonical record says "credit" by its type.
    return money.amount.startsWith('-') ? { ...money, amount: money.amount.slice(1) } : money;
  };
  const date = row.trandate ?? null;
  return {
    internalId: row.id ?? '',
    invoiceId: row.externalid ?? null,
    type: credit ? 'CREDIT_MEMO' : 'INVOICE',
    customerInternalId: row.entity ?? '',
    documentNumber: row.tranid ?? null,
    date,
    // The posting period follows the transaction date (NetSuite's default).
    period: date ? date.slice(0, 7) : null,
    total: amount(row.foreigntotal),
    amountRemaining: amount(row.foreignamountremaining),
    status: TRANSACTION_STATUS[row.status ?? ''] ?? 'OPEN',
  };
}

function customerRecord(row: Row, currency: string): ErpCustomerRecord {
  return { ...profileFromRow(row, currency), email: row.email ?? null };
}

export function netsuiteBulk(deps: NetSuiteBulkDeps): BulkMethods {
  const { read, write, suiteql, currency, requireExternalId, documentBody } = deps;

  /** One page of a keyset query: `limit` rows, and whether more follow. */
  async function suiteqlPage(q: string, limit: number): Promise<{ rows: Row[]; hasMore: boolean }> {
    const response = await read({
      method: 'POST',
      path: SUITEQL,
      query: { limit, offset: 0 },
      headers: { prefer: 'transient' },
      body: { q },
      operation: 'suiteql',
    });
    const body = response.body as { items?: Row[]; hasMore?: boolean } | null;
    if (!body || !Array.isArray(body.items)) throw new ConcordError('VENDOR_UNAVAILABLE', 'NetSuite suiteql returned no items', { system: 'ERP' });
    return { rows: body.items, hasMore: body.hasMore === true };
  }

  function keysetPage<T>(rows: Row[], hasMore: boolean, map: (row: Row) => T): Page<T> {
    return { items: rows.map(map), hasNextPage: hasMore, endCursor: rows.at(-1)?.id ?? null };
  }

  const creditPath = (invoiceId: string) => `${RECORD}/creditMemo/eid:${invoiceId}`;

  return {
    async postCreditMemo(input: ErpDocumentInput, { correlationId }: ErpWriteOptions): Promise<ErpPosting> {
      requireExternalId(input.invoiceId, 'invoiceId');
      requireExternalId(input.customerId, 'customerId');
      await write({
        method: 'PUT',
        path: creditPath(input.invoiceId),
        query: { replace: 'item' },
        body: documentBody(input, correlationId),
        operation: 'creditMemo.upsert',
      });
      const response = await read({ method: 'GET', path: creditPath(input.invoiceId), operation: 'creditMemo.get' });
      return postingFromRecord(response.body as Record<string, unknown>, currency);
    },

    async reverseCreditMemo(invoiceId) {
      requireExternalId(invoiceId, 'invoiceId');
      try {
        // Deleting is idempotent in effect; a retry after a lost answer meets the 404 below.
        await write({ method: 'DELETE', path: creditPath(invoiceId), operation: 'creditMemo.delete' });
      } catch (error) {
        if (error instanceof ConcordError && error.code === 'NOT_FOUND') return;
        throw error;
      }
    },

    async listCustomers({ first, after }) {
      const limit = checkFirst(first);
      const { rows, hasMore } = await suiteqlPage(`SELECT ${CUSTOMER_COLUMNS} FROM customer WHERE id > 0${afterClause(after)} ORDER BY id`, limit);
      return keysetPage(rows, hasMore, (row) => customerRecord(row, currency));
    },

    async listTransactions({ first, after }) {
      const limit = checkFirst(first);
      const { rows, hasMore } = await suiteqlPage(
        `SELECT ${TRANSACTION_COLUMNS} FROM transaction WHERE (type = 'CustInvc' OR type = 'CustCred')${afterClause(after)} ORDER BY id`,
        limit,
      );
      return keysetPage(rows, hasMore, (row) => transactionFromRow(row, currency));
    },

    async closedPeriods() {
      const rows = await suiteql(
        "SELECT TO_CHAR(startdate, 'YYYY-MM') AS period FROM accountingperiod WHERE closed = 'T' AND isquarter = 'F' AND isyear = 'F' ORDER BY startdate",
      );
      return rows.map((row) => row.period ?? '').filter((p) => /^\d{4}-\d{2}$/.test(p));
    },

    async findCustomerCandidates({ nameTokens, taxRegistration, emailDomain }, limit = 200) {
      // UPPER(): Oracle's LIKE and = are case-sensitive, company names are not.
      const clauses = [
        ...nameTokens.filter((t) => SAFE_TERM.test(t)).slice(0, 5).map((t) => `UPPER(companyname) LIKE '%${t.toUpperCase()}%'`),
        ...(taxRegistration && SAFE_TERM.test(taxRegistration) ? [`UPPER(vatregnumber) = '${taxRegistration.toUpperCase()}'`] : []),
        ...(emailDomain && SAFE_TERM.test(emailDomain) ? [`UPPER(email) LIKE '%@${emailDomain.toUpperCase()}'`] : []),
      ];
      if (clauses.length === 0) return [];
      const { rows } = await suiteqlPage(
        `SELECT ${CUSTOMER_COLUMNS} FROM customer WHERE ${clauses.join(' OR ')} ORDER BY id`,
        Math.max(1, Math.min(limit, PAGE)),
      );
      return rows.map((row) => customerRecord(row, currency));
    },
  };
}
