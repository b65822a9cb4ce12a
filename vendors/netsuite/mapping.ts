/**
 * NetSuite shapes -> canonical ERP records, for both read paths: SuiteQL rows (lower-case columns,
 * every value a string) and REST records (camelCase, numbers, `{ id, refName }` references).
 */
import type { ErpCustomerProfile, ErpPosting } from '../../core/canonical';
import { fromDecimal } from '../../core/money';

/** External ids NetSuite accepts: letters, digits, underscore and hyphen. Also keeps SuiteQL literals safe. */
const EXTERNAL_ID = /^[A-Za-z0-9_-]+$/;

export function isExternalId(id: string): boolean {
  return EXTERNAL_ID.test(id);
}

/** A SuiteQL string list: 'a', 'b'. Quotes are doubled even though validated ids hold none. */
export function sqlList(ids: readonly string[]): string {
  return ids.map((id) => `'${id.replace(/'/g, "''")}'`).join(', ');
}

export const PROFILE_QUERY = (ids: readonly string[]) =>
  `SELECT id, entityid, companyname, externalid, creditlimit, creditholdoverride, balance, vatregnumber FROM customer WHERE externalid IN (${sqlList(ids)})`;

/** TO_CHAR: the default date format follows the token user's preferences, ISO does not. */
export const POSTING_QUERY = (ids: readonly string[]) =>
  `SELECT id, tranid, externalid, TO_CHAR(trandate, 'YYYY-MM-DD') AS trandate, foreigntotal, status FROM transaction WHERE type = 'CustInvc' AND externalid IN (${sqlList(ids)})`;

type Row = Record<string, string | undefined>;

/**
 * creditHold is NetSuite's explicit override ON. AUTO lets NetSuite hold orders when the limit
 * is exceeded, which is a consequence of the balance, not a decision someone made.
 */
export function profileFromRow(row: Row, currency: string): ErpCustomerProfile {
  return {
    internalId: row.id ?? '',
    customerId: row.externalid ?? '',
    customerNumber: row.entityid ?? '',
    companyName: row.companyname ?? '',
    creditLimit: row.creditlimit === undefined ? null : fromDecimal(row.creditlimit, currency),
    creditHold: row.creditholdoverride === 'ON',
    taxRegistration: row.vatregnumber ?? null,
    arBalance: fromDecimal(row.balance ?? '0', currency),
  };
}

interface RecordRef {
  id?: string;
  refName?: string;
}

/** A customer record from GET /record/v1/customer/... */
export function profileFromRecord(record: Record<string, unknown>, currency: string): ErpCustomerProfile {
  const amount = (value: unknown) => (typeof value === 'number' || typeof value === 'string' ? fromDecimal(value, currency) : null);
  return {
    internalId: String(record.id ?? ''),
    customerId: String(record.externalId ?? ''),
    customerNumber: String(record.entityId ?? ''),
    companyName: String(record.companyName ?? ''),
    creditLimit: amount(record.creditLimit),
    creditHold: (record.creditHoldOverride as RecordRef | undefined)?.id === 'ON',
    taxRegistration: typeof record.vatRegNumber === 'string' ? record.vatRegNumber : null,
    arBalance: amount(record.balance) ?? fromDecimal(0, currency),
  };
}

export function notPosted(invoiceId: string, error: string | null = null): ErpPosting {
  return { invoiceId, status: 'NOT_POSTED', internalId: null, documentNumber: null, period: null, postedAt: null, total: null, error };
}

/**
 * A voided ERP invoice has no effect on the ledger any more, so it is not a posting: NOT_POSTED,
 * with the voided document named in `error` so that operators see why.
 */
function voided(invoiceId: string, tranId: string | undefined): ErpPosting {
  return notPosted(invoiceId, tranId ? `ERP invoice ${tranId} is voided` : 'ERP invoice is voided');
}

/** SuiteQL transaction.status: 'V' is Voided for invoices ('A' Open, 'B' Paid In Full). */
export function postingFromRow(row: Row, currency: string): ErpPosting {
  const invoiceId = row.externalid ?? '';
  if (row.status === 'V' || /void/i.test(row.status ?? '')) return voided(invoiceId, row.tranid);
  const date = row.trandate ?? null;
  return {
    invoiceId,
    status: 'POSTED',
    internalId: row.id ?? null,
    documentNumber: row.tranid ?? null,
    // The posting period follows the transaction date (NetSuite's default).
    period: date ? date.slice(0, 7) : null,
    postedAt: date ? `${date}T00:00:00.000Z` : null,
    total: row.foreigntotal === undefined ? null : fromDecimal(row.foreigntotal, currency),
    error: null,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** 'Nov 2026' -> '2026-11'; null for anything else (quarters, adjustment periods). */
function periodFromName(name: string | undefined): string | null {
  const m = /^([A-Z][a-z]{2}) (\d{4})$/.exec(name ?? '');
  const month = m ? MONTHS.indexOf(m[1]) + 1 : 0;
  return m && month > 0 ? `${m[2]}-${String(month).padStart(2, '0')}` : null;
}

/** An invoice record from GET /record/v1/invoice/... */
export function postingFromRecord(record: Record<string, unknown>, currency: string): ErpPosting {
  const invoiceId = String(record.externalId ?? '');
  const status = record.status as RecordRef | undefined;
  if (status?.refName === 'Voided') return voided(invoiceId, record.tranId as string | undefined);
  const tranDate = typeof record.tranDate === 'string' ? record.tranDate : null;
  const total = record.total;
  return {
    invoiceId,
    status: 'POSTED',
    internalId: String(record.id ?? ''),
    documentNumber: typeof record.tranId === 'string' ? record.tranId : null,
    period: periodFromName((record.postingPeriod as RecordRef | undefined)?.refName) ?? tranDate?.slice(0, 7) ?? null,
    postedAt: tranDate ? `${tranDate}T00:00:00.000Z` : null,
    total: typeof total === 'number' || typeof total === 'string' ? fromDecimal(total, currency) : null,
    error: null,
  };
}
