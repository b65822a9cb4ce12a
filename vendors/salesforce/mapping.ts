/**
 * Salesforce shapes <-> canonical CRM records: the SOQL field lists, record mapping, write-back
 * bodies, id validation and literal escaping. Pure functions, no I/O.
 */
import type {
  AccountWriteBack,
  CrmAccount,
  CrmContract,
  CrmOpportunity,
  CrmOpportunityLine,
  OpportunityWriteBack,
} from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { fromDecimal } from '../../core/money';

/** A row as jsforce returns it (field name -> JSON value). */
export type SalesforceRow = { [field: string]: unknown };

export const ACCOUNT_FIELDS = ['Id', 'Name', 'Website', 'ParentId', 'Billing_Customer_Id__c', 'ERP_Customer_Id__c', 'Concord_Status__c'].join(', ');

export const OPPORTUNITY_FIELDS = [
  'Id', 'AccountId', 'Name', 'StageName', 'IsWon', 'IsClosed', 'Amount', 'CloseDate',
  'Billing_Subscription_Id__c', 'Billing_Invoice_Id__c', 'ERP_Invoice_Id__c', 'Concord_Order_Status__c',
].join(', ');

export const LINE_FIELDS = ['Id', 'OpportunityId', 'ProductCode', 'Name', 'Description', 'Quantity', 'UnitPrice', 'TotalPrice'].join(', ');

export const CONTRACT_FIELDS = ['Id', 'AccountId', 'Status', 'StartDate', 'EndDate', 'Billing_Subscription_Id__c'].join(', ');

/** The Account external-id field that holds upsertCustomer's idempotency key. */
export const CUSTOMER_KEY_FIELD = 'Concord_Customer_Key__c';

const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

function checksum(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(id15[chunk * 5 + i])) bits |= 1 << i;
    suffix += SUFFIX[bits];
  }
  return suffix;
}

/**
 * A caller's id as Salesforce's canonical 18-character id, or BAD_USER_INPUT (before any vendor
 * call). 15-character ids get their suffix; 18-character ids are case-insensitive, so their case
 * is restored from the suffix, which must then check out.
 */
export function parseSalesforceId(value: string): string {
  const invalid = () => new ConcordError('BAD_USER_INPUT', `Not a Salesforce record id: ${JSON.stringify(String(value).slice(0, 40))}`);
  if (typeof value !== 'string' || !/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(value)) throw invalid();
  if (value.length === 15) return value + checksum(value);
  const suffix = value.slice(15).toUpperCase();
  const chars = value.slice(0, 15).split('');
  for (let chunk = 0; chunk < 3; chunk++) {
    const bits = SUFFIX.indexOf(suffix[chunk]);
    if (bits < 0) throw invalid();
    for (let i = 0; i < 5; i++) {
      const at = chunk * 5 + i;
      chars[at] = bits & (1 << i) ? chars[at].toUpperCase() : chars[at].toLowerCase();
    }
  }
  const id15 = chars.join('');
  if (checksum(id15) !== suffix) throw invalid();
  return id15 + suffix;
}

/** A SOQL string literal: backslash-escapes quotes, backslashes and control characters. */
export function soqlString(value: string): string {
  const escaped = value.replace(/[\\'"\n\r\t\b\f]/g, (c) => {
    const names: Record<string, string> = { '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f' };
    return `\\${names[c] ?? c}`;
  });
  return `'${escaped}'`;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** 'https://www.Acme.com/about' -> 'acme.com' */
export function domainFromWebsite(website: unknown): string | null {
  const value = text(website);
  if (!value) return null;
  const host = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/?#:]/)[0].replace(/^www\./i, '').toLowerCase();
  return host === '' ? null : host;
}

/** A Salesforce date ('2026-08-01') or datetime as an ISO-8601 datetime. */
function isoDateTime(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? Date.parse(`${raw}T00:00:00Z`) : Date.parse(raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

const money = (value: unknown, currency: string) =>
  typeof value === 'number' || (typeof value === 'string' && value !== '') ? fromDecimal(value, currency) : null;

export function toAccount(row: SalesforceRow): CrmAccount {
  return {
    id: String(row.Id),
    name: String(row.Name ?? ''),
    domain: domainFromWebsite(row.Website),
    parentId: text(row.ParentId),
    billingCustomerId: text(row.Billing_Customer_Id__c),
    erpCustomerId: text(row.ERP_Customer_Id__c),
    status: text(row.Concord_Status__c),
  };
}

export function toOpportunity(row: SalesforceRow, currency: string): CrmOpportunity {
  return {
    id: String(row.Id),
    accountId: String(row.AccountId ?? ''),
    name: String(row.Name ?? ''),
    stage: String(row.StageName ?? ''),
    isWon: row.IsWon === true,
    isClosed: row.IsClosed === true,
    amount: money(row.Amount, currency),
    closeDate: isoDateTime(row.CloseDate),
    billingSubscriptionId: text(row.Billing_Subscription_Id__c),
    billingInvoiceId: text(row.Billing_Invoice_Id__c),
    erpInvoiceId: text(row.ERP_Invoice_Id__c),
    orderStatus: text(row.Concord_Order_Status__c),
  };
}

export function toOpportunityLine(row: SalesforceRow, currency: string): CrmOpportunityLine {
  const quantity = Number(row.Quantity ?? 0);
  const unitPrice = money(row.UnitPrice, currency) ?? fromDecimal(0, currency);
  return {
    id: String(row.Id),
    opportunityId: String(row.OpportunityId),
    productCode: text(row.ProductCode) ?? '',
    // Description is usually empty on opportunity products; the product name is the useful text.
    description: text(row.Description) ?? text(row.Name),
    quantity,
    unitPrice,
    totalPrice: money(row.TotalPrice, currency) ?? fromDecimal(quantity * Number(unitPrice.amount), currency),
  };
}

/** Only the fields given; undefined leaves the Salesforce field as it is. */
function body(fields: object, names: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && names[key]) out[names[key]] = value;
  }
  return out;
}

export function toContract(row: SalesforceRow): CrmContract {
  return {
    id: String(row.Id),
    accountId: String(row.AccountId ?? ''),
    status: String(row.Status ?? ''),
    startDate: isoDateTime(row.StartDate),
    endDate: isoDateTime(row.EndDate),
    billingSubscriptionId: text(row.Billing_Subscription_Id__c),
  };
}

/** A SOQL LIKE pattern that matches `value` anywhere: `%`, `_` and quotes escaped. */
export function soqlContains(value: string): string {
  // Quotes and backslashes as in any literal; then % and _ as LIKE escapes (\% and \_), matching themselves.
  const inner = soqlString(value).slice(1, -1).replace(/[%_]/g, (c) => `\\${c}`);
  return `'%${inner}%'`;
}

export function opportunityWriteBody(fields: OpportunityWriteBack): Record<string, string> {
  return body(fields, {
    billingSubscriptionId: 'Billing_Subscription_Id__c',
    billingInvoiceId: 'Billing_Invoice_Id__c',
    erpInvoiceId: 'ERP_Invoice_Id__c',
    orderStatus: 'Concord_Order_Status__c',
    correlationId: 'Concord_Correlation_Id__c',
  });
}

export function accountWriteBody(fields: AccountWriteBack): Record<string, string> {
  return body(fields, {
    billingCustomerId: 'Billing_Customer_Id__c',
    erpCustomerId: 'ERP_Customer_Id__c',
    status: 'Concord_Status__c',
    correlationId: 'Concord_Correlation_Id__c',
    name: 'Name',
    domain: 'Website',
    parentId: 'ParentId',
  });
}
