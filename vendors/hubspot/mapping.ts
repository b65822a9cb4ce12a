/**
 * HubSpot shapes <-> canonical CRM records: the property lists Concord reads, record mapping,
 * write-back bodies and id validation. Pure functions, no I/O.
 *
 * HubSpot objects: companies are Concord's accounts, deals its opportunities, line items (associated
 * with deals) their lines, and a custom object (HUBSPOT_CONTRACT_OBJECT_TYPE) its CRM contracts.
 * Every value travels as a string in `properties` (HubSpot CRM API v3, "Properties": number, date
 * and bool properties are serialised as strings). Concord's own fields are custom properties named
 * concord_*; concord_customer_key has "hasUniqueValue": true so it can be an upsert idProperty.
 */
import type { AccountWriteBack, CrmAccount, CrmContract, CrmOpportunity, CrmOpportunityLine, OpportunityWriteBack } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { fromDecimal } from '../../core/money';

/** A record as the SDK returns it: an id and string properties. */
export interface HubSpotRecord {
  id: string;
  properties: Record<string, string | null | undefined>;
}

export const COMPANY_PROPERTIES = [
  'name', 'domain', 'hs_parent_company_id', 'concord_billing_customer_id', 'concord_erp_customer_id', 'concord_status', 'concord_customer_key',
  'createdate', 'hs_lastmodifieddate',
];
export const DEAL_PROPERTIES = [
  'dealname', 'dealstage', 'pipeline', 'amount', 'closedate', 'deal_currency_code', 'hs_is_closed_won', 'hs_is_closed',
  'concord_billing_subscription_id', 'concord_billing_invoice_id', 'concord_erp_invoice_id', 'concord_order_status',
];
export const LINE_ITEM_PROPERTIES = ['name', 'description', 'hs_sku', 'quantity', 'price', 'amount'];
export const CONTRACT_PROPERTIES = ['concord_company_id', 'concord_contract_status', 'concord_start_date', 'concord_end_date', 'concord_billing_subscription_id'];

/** The unique-value company property that holds upsertAccountByKey's key. */
export const CUSTOMER_KEY_PROPERTY = 'concord_customer_key';

/**
 * Stage ids of HubSpot's default sales pipeline and their labels (HubSpot knowledge base, "Set up
 * and customize your deal pipelines and deal stages"). A portal's own stages are reported by id.
 */
export const DEAL_STAGE_LABELS: Record<string, string> = {
  appointmentscheduled: 'Appointment Scheduled',
  qualifiedtobuy: 'Qualified To Buy',
  presentationscheduled: 'Presentation Scheduled',
  decisionmakerboughtin: 'Decision Maker Bought-In',
  contractsent: 'Contract Sent',
  closedwon: 'Closed Won',
  closedlost: 'Closed Lost',
};

/** HubSpot record ids are positive integers (64-bit), sent as decimal strings. */
const RECORD_ID = /^[1-9]\d{0,18}$/;

export function isHubSpotId(value: unknown): value is string {
  return typeof value === 'string' && RECORD_ID.test(value);
}

/** A caller's id, or BAD_USER_INPUT before any vendor call (nothing else ever reaches a filter). */
export function parseHubSpotId(value: string): string {
  if (!isHubSpotId(value)) throw new ConcordError('BAD_USER_INPUT', `Not a HubSpot record id: ${JSON.stringify(String(value).slice(0, 40))}`);
  return value;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** 'https://www.Acme.com/about' or 'acme.com' -> 'acme.com' */
export function bareDomain(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  const host = raw.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/?#:]/)[0].replace(/^www\./i, '').toLowerCase();
  return host === '' ? null : host;
}

/** A HubSpot date or datetime property ('2026-08-01' or '2026-08-01T00:00:00Z' or epoch ms) as ISO-8601. */
function isoDateTime(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  const ms = /^\d+$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}$/.test(raw) ? Date.parse(`${raw}T00:00:00Z`) : Date.parse(raw);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

const money = (value: unknown, currency: string) => (typeof value === 'string' && value !== '' && Number.isFinite(Number(value)) ? fromDecimal(value, currency) : null);

export function toAccount(record: HubSpotRecord): CrmAccount {
  const p = record.properties;
  return {
    id: record.id,
    name: p.name ?? '',
    domain: bareDomain(p.domain),
    parentId: text(p.hs_parent_company_id),
    billingCustomerId: text(p.concord_billing_customer_id),
    erpCustomerId: text(p.concord_erp_customer_id),
    status: text(p.concord_status),
  };
}

export function toOpportunity(record: HubSpotRecord, companyId: string | null, currency: string): CrmOpportunity {
  const p = record.properties;
  const stage = p.dealstage ?? '';
  // hs_is_closed_won / hs_is_closed are HubSpot's calculated properties (a pipeline's own closed
  // stages count too); the default pipeline's stage ids are the fallback.
  const isWon = p.hs_is_closed_won != null ? p.hs_is_closed_won === 'true' : stage === 'closedwon';
  const isClosed = p.hs_is_closed != null ? p.hs_is_closed === 'true' : stage === 'closedwon' || stage === 'closedlost';
  const dealCurrency = text(p.deal_currency_code) ?? currency;
  return {
    id: record.id,
    accountId: companyId ?? '',
    name: p.dealname ?? '',
    stage: DEAL_STAGE_LABELS[stage] ?? stage,
    isWon,
    isClosed,
    amount: money(p.amount, dealCurrency),
    closeDate: isoDateTime(p.closedate),
    billingSubscriptionId: text(p.concord_billing_subscription_id),
    billingInvoiceId: text(p.concord_billing_invoice_id),
    erpInvoiceId: text(p.concord_erp_invoice_id),
    orderStatus: text(p.concord_order_status),
  };
}

export function toOpportunityLine(record: HubSpotRecord, dealId: string, currency: string): CrmOpportunityLine {
  const p = record.properties;
  const quantity = Number(p.quantity ?? 0);
  const unitPrice = money(p.price, currency) ?? fromDecimal(0, currency);
  return {
    id: record.id,
    opportunityId: dealId,
    productCode: text(p.hs_sku) ?? '',
    description: text(p.description) ?? text(p.name),
    quantity,
    unitPrice,
    totalPrice: money(p.amount, currency) ?? fromDecimal(quantity * Number(unitPrice.amount), currency),
  };
}

export function toContract(record: HubSpotRecord): CrmContract {
  const p = record.properties;
  return {
    id: record.id,
    accountId: p.concord_company_id ?? '',
    status: p.concord_contract_status ?? '',
    startDate: isoDateTime(p.concord_start_date),
    endDate: isoDateTime(p.concord_end_date),
    billingSubscriptionId: text(p.concord_billing_subscription_id),
  };
}

/** Only the fields given; undefined leaves the HubSpot property as it is. */
function body(fields: object, names: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null && names[key]) out[names[key]] = String(value);
  }
  return out;
}

export function dealWriteBody(fields: OpportunityWriteBack): Record<string, string> {
  return body(fields, {
    billingSubscriptionId: 'concord_billing_subscription_id',
    billingInvoiceId: 'concord_billing_invoice_id',
    erpInvoiceId: 'concord_erp_invoice_id',
    orderStatus: 'concord_order_status',
    correlationId: 'concord_correlation_id',
  });
}

/** Company properties of an account write-back (the parent is an association, written apart). */
export function companyWriteBody(fields: AccountWriteBack): Record<string, string> {
  return body(fields, {
    billingCustomerId: 'concord_billing_customer_id',
    erpCustomerId: 'concord_erp_customer_id',
    status: 'concord_status',
    correlationId: 'concord_correlation_id',
    name: 'name',
    domain: 'domain',
  });
}
