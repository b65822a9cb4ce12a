/**
 * Business Central shapes -> canonical ERP records, and the cross-system links.
 *
 * Links. BC's API v2.0 customer has no external-reference field, so the canonical customer id is
 * the customer's `number` (BC's "No."); a billing invoice id is the sales invoice's (or credit
 * memo's) `externalDocumentNumber`, BC's own field for the other party's document number. Both are
 * Code fields: BC stores them upper-case (and "No." holds at most 20 characters, external document
 * numbers 35), while canonical ids are case-sensitive (Salesforce and Stripe ids). `toCode` keeps
 * the case recoverable: an id that is already upper-case, or an 18-character Salesforce id (whose
 * last 3 characters already encode its case), is stored as it is; any other id gets a suffix `~`
 * + one character per 5 characters telling which letters were lower-case. `fromCode` undoes it.
 */
import type { ErpCustomerProfile, ErpCustomerRecord, ErpPosting, ErpTransaction } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { fromDecimal } from '../../core/money';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** Salesforce's 15 -> 18 suffix: which of each 5 characters are upper-case. */
function caseSuffix(id: string, upper: (c: string) => boolean): string {
  let suffix = '';
  for (let chunk = 0; chunk < Math.ceil(id.length / 5); chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id[chunk * 5 + i];
      if (c !== undefined && upper(c)) bits |= 1 << i;
    }
    suffix += ALPHABET[bits];
  }
  return suffix;
}

const isUpperLetter = (c: string) => c >= 'A' && c <= 'Z';
const isLowerLetter = (c: string) => c >= 'a' && c <= 'z';

function isSalesforceId(id: string): boolean {
  return /^[A-Za-z0-9]{18}$/.test(id) && caseSuffix(id.slice(0, 15), isUpperLetter) === id.slice(15).toUpperCase();
}

/** Restore an upper-cased 18-character Salesforce id from its suffix (null if it is not one). */
function restoreSalesforceId(code: string): string | null {
  if (!/^[A-Z0-9]{18}$/.test(code)) return null;
  let id = '';
  for (let i = 0; i < 15; i++) {
    const bits = ALPHABET.indexOf(code[15 + Math.floor(i / 5)]);
    if (bits < 0) return null;
    const c = code[i];
    id += isUpperLetter(c) && !(bits & (1 << i % 5)) ? c.toLowerCase() : c;
  }
  return id + code.slice(15);
}

/** Characters BC's Code fields and OData literals take without surprises. */
const CODE_SAFE = /^[A-Za-z0-9_.:/-]+$/;

/** The Code value that holds `id` (max `max` characters), or BAD_USER_INPUT when it cannot. */
export function toCode(id: string, max: number, what: string): string {
  if (!CODE_SAFE.test(id)) throw new ConcordError('BAD_USER_INPUT', `${what} must contain only letters, digits and _ . : / - to be an ERP reference`);
  const code = id === id.toUpperCase() || isSalesforceId(id) ? id.toUpperCase() : `${id.toUpperCase()}~${caseSuffix(id, isLowerLetter)}`;
  if (code.length > max) throw new ConcordError('BAD_USER_INPUT', `${what} is too long for Business Central (at most ${max} characters as stored)`);
  return code;
}

/** True when `id` can be stored (toCode would not refuse it). */
export function fitsCode(id: string, max: number): boolean {
  try {
    toCode(id, max, 'id');
    return true;
  } catch {
    return false;
  }
}

/** The canonical id a Code value holds. */
export function fromCode(code: string): string {
  const marked = /^(.*)~([A-Z0-5]+)$/.exec(code);
  if (marked) {
    const [, upper, suffix] = marked;
    let id = '';
    for (let i = 0; i < upper.length; i++) {
      const bits = ALPHABET.indexOf(suffix[Math.floor(i / 5)] ?? 'A');
      id += bits & (1 << i % 5) ? upper[i].toLowerCase() : upper[i];
    }
    return id;
  }
  return restoreSalesforceId(code) ?? code;
}

/** Max lengths of the two Code fields used as links. */
export const CUSTOMER_NUMBER_MAX = 20;
export const EXTERNAL_DOCUMENT_MAX = 35;

type Wire = Record<string, unknown>;

const decimalOf = (value: unknown, currency: string) => fromDecimal(typeof value === 'number' || typeof value === 'string' ? value : 0, currency);

/**
 * creditHold is `blocked` = "Ship" (or stricter): BC then refuses to ship to the customer, which
 * is what an ERP credit hold means. " " is no block.
 */
export function profileFromCustomer(customer: Wire, currency: string): ErpCustomerProfile {
  return {
    internalId: String(customer.id ?? ''),
    customerId: fromCode(String(customer.number ?? '')),
    customerNumber: String(customer.number ?? ''),
    companyName: String(customer.displayName ?? ''),
    creditLimit: customer.creditLimit === undefined || customer.creditLimit === null ? null : decimalOf(customer.creditLimit, currency),
    creditHold: customer.blocked === 'Ship' || customer.blocked === 'Invoice' || customer.blocked === 'All',
    taxRegistration: typeof customer.taxRegistrationNumber === 'string' && customer.taxRegistrationNumber !== '' ? customer.taxRegistrationNumber : null,
    arBalance: decimalOf(customer.balanceDue, currency),
  };
}

export function customerRecord(customer: Wire, currency: string): ErpCustomerRecord {
  return { ...profileFromCustomer(customer, currency), email: typeof customer.email === 'string' && customer.email !== '' ? customer.email : null };
}

export function notPosted(invoiceId: string, error: string | null = null): ErpPosting {
  return { invoiceId, status: 'NOT_POSTED', internalId: null, documentNumber: null, period: null, postedAt: null, total: null, error };
}

/** The billing invoice id a BC document holds. */
export const invoiceIdOf = (document: Wire) => fromCode(String(document.externalDocumentNumber ?? ''));

/**
 * A sales invoice or credit memo as a posting. A draft is not in the ledger yet and a canceled
 * document no longer is: both NOT_POSTED (a canceled one says so in `error`).
 */
export function postingFromDocument(document: Wire, currency: string, invoiceId = invoiceIdOf(document)): ErpPosting {
  const status = String(document.status ?? '');
  if (status === 'Draft' || status === '' || status === 'In Review') return notPosted(invoiceId);
  if (status === 'Canceled') return notPosted(invoiceId, `ERP document ${String(document.number ?? '')} is canceled`);
  const date = typeof document.postingDate === 'string' ? document.postingDate : null;
  return {
    invoiceId,
    status: 'POSTED',
    internalId: String(document.id ?? ''),
    documentNumber: typeof document.number === 'string' ? document.number : null,
    period: date ? date.slice(0, 7) : null,
    postedAt: date ? `${date}T00:00:00.000Z` : null,
    total: decimalOf(document.totalAmountIncludingTax, currency),
    error: null,
  };
}

const TRANSACTION_STATUS: Record<string, ErpTransaction['status']> = { Open: 'OPEN', Paid: 'PAID', Canceled: 'VOIDED', Corrective: 'VOIDED' };

export function transactionFromDocument(document: Wire, type: ErpTransaction['type'], currency: string): ErpTransaction {
  const date = typeof document.postingDate === 'string' ? document.postingDate : null;
  const total = decimalOf(document.totalAmountIncludingTax, currency);
  return {
    internalId: String(document.id ?? ''),
    invoiceId: document.externalDocumentNumber ? invoiceIdOf(document) : null,
    type,
    customerInternalId: String(document.customerId ?? ''),
    documentNumber: typeof document.number === 'string' ? document.number : null,
    date,
    period: date ? date.slice(0, 7) : null,
    total,
    // Credit memos carry no remainingAmount in API v2.0: an unapplied one credits its total.
    amountRemaining: document.remainingAmount === undefined ? (String(document.status) === 'Open' ? total : decimalOf(0, currency)) : decimalOf(document.remainingAmount, currency),
    status: TRANSACTION_STATUS[String(document.status ?? '')] ?? 'OPEN',
  };
}
