/**
 * Canonical records: what the ports speak. Adapters map vendor shapes to these and back; resolvers
 * map these to the GraphQL schema. Nothing here knows a vendor.
 *
 * Identity: the CRM is the system of record, so a customer's canonical id is its CRM account id.
 * Links to the other systems live in the vendors' own external-reference fields (Stripe customer
 * metadata `concord_customer_id`, NetSuite customer `externalId`), so a wiped cache loses nothing.
 */
import type { Money } from './money';
import type { SystemName } from './errors';

export type { Money } from './money';
export type { SystemName } from './errors';

/** ISO-8601 timestamp string. */
export type DateTime = string;

export interface ExternalRef {
  system: SystemName;
  /** 'salesforce' | 'stripe' | 'netsuite' | ... */
  vendor: string;
  id: string;
}

// ---------------------------------------------------------------- CRM

export interface CrmAccount {
  /** Canonical customer id (the CRM account id). */
  id: string;
  name: string;
  domain: string | null;
  parentId: string | null;
  /** Billing system's customer id, written back by order-to-cash. */
  billingCustomerId: string | null;
  /** ERP's customer internal id, written back by order-to-cash. */
  erpCustomerId: string | null;
  /** Concord's account status as last written back (for example 'Active', 'Credit Hold'). */
  status: string | null;
}

export interface CrmOpportunity {
  id: string;
  accountId: string;
  name: string;
  stage: string;
  isWon: boolean;
  isClosed: boolean;
  amount: Money | null;
  closeDate: DateTime | null;
  /** Ids written back once the deal is billed and posted (null until then). */
  billingSubscriptionId: string | null;
  billingInvoiceId: string | null;
  erpInvoiceId: string | null;
  /** Concord's order-to-cash status as written back to the CRM. */
  orderStatus: string | null;
}

export interface CrmOpportunityLine {
  id: string;
  opportunityId: string;
  /** Product code shared with the billing catalog (Stripe price lookup_key). */
  productCode: string;
  description: string | null;
  quantity: number;
  unitPrice: Money;
  totalPrice: Money;
}

/** Fields order-to-cash writes back to the CRM opportunity. Undefined = leave as is. */
export interface OpportunityWriteBack {
  billingSubscriptionId?: string;
  billingInvoiceId?: string;
  erpInvoiceId?: string;
  orderStatus?: string;
  correlationId?: string;
}

/** Fields written back to the CRM account. Undefined = leave as is. */
export interface AccountWriteBack {
  billingCustomerId?: string;
  erpCustomerId?: string;
  status?: string;
  correlationId?: string;
  /** Customer master fields (upsertCustomer): the company name, web domain and parent account. */
  name?: string;
  domain?: string;
  /** null clears the parent account. */
  parentId?: string | null;
}

/** A contract as the CRM records it (Salesforce Contract), linked to its billing subscription. */
export interface CrmContract {
  id: string;
  accountId: string;
  /** The CRM's own status, for example 'Draft' or 'Activated'. */
  status: string;
  startDate: DateTime | null;
  /** Set once the contract ended or was canceled (or is scheduled to end). */
  endDate: DateTime | null;
  /** The billing system's subscription id. */
  billingSubscriptionId: string | null;
}

// ---------------------------------------------------------------- Billing

export type ContractStatus = 'DRAFT' | 'ACTIVE' | 'PAST_DUE' | 'CANCELED' | 'ENDED';
export type InvoiceStatus = 'DRAFT' | 'OPEN' | 'PAID' | 'VOID' | 'UNCOLLECTIBLE';

export interface BillingCustomer {
  /** The billing system's own id (Stripe `cus_...`). */
  id: string;
  /** Canonical customer id, from the billing record's external reference. */
  customerId: string;
  name: string | null;
  email: string | null;
  currency: string | null;
}

export interface ContractItem {
  id: string;
  productCode: string | null;
  description: string | null;
  quantity: number;
  unitPrice: Money;
}

export interface BillingContract {
  /** The billing system's subscription id (Stripe `sub_...`). */
  id: string;
  customerId: string;
  billingCustomerId: string;
  status: ContractStatus;
  startDate: DateTime | null;
  endDate: DateTime | null;
  items: ContractItem[];
  /** CRM opportunity the contract came from, when known. */
  opportunityId: string | null;
}

export interface InvoiceLine {
  id: string;
  description: string | null;
  quantity: number | null;
  amount: Money;
}

export interface BillingInvoice {
  /** The billing system's invoice id (Stripe `in_...`). */
  id: string;
  number: string | null;
  customerId: string;
  billingCustomerId: string;
  contractId: string | null;
  status: InvoiceStatus;
  subtotal: Money;
  tax: Money;
  total: Money;
  /** What is still owed now: 0 once paid or voided (the API's Invoice.amountDue). */
  amountDue: Money;
  /** What the invoice asked for when it was finalized, as the billing system keeps it (Stripe `amount_due`). */
  billedAmountDue: Money;
  amountPaid: Money;
  /** What is still owed, as the billing system reports it (Stripe `amount_remaining`). */
  amountRemaining: Money;
  issuedAt: DateTime | null;
  dueAt: DateTime | null;
  lines: InvoiceLine[];
}

// ---------------------------------------------------------------- ERP

export interface ErpCustomerProfile {
  /** The ERP's internal id. */
  internalId: string;
  /** Canonical customer id (the ERP record's externalId). */
  customerId: string;
  customerNumber: string;
  companyName: string;
  creditLimit: Money | null;
  creditHold: boolean;
  taxRegistration: string | null;
  arBalance: Money;
}

/** A customer record as a bulk read of the ERP returns it. */
export interface ErpCustomerRecord extends ErpCustomerProfile {
  email: string | null;
}

/**
 * An AR transaction of the ERP, as reconciliation reads them in bulk: an invoice, or a credit memo
 * (a downgrade's proration). Amounts are positive for both; `type` says which way they go.
 */
export interface ErpTransaction {
  internalId: string;
  /** The billing invoice id it posts (its externalId), null for a document keyed by hand. */
  invoiceId: string | null;
  type: 'INVOICE' | 'CREDIT_MEMO';
  /** The ERP customer's internal id. */
  customerInternalId: string;
  documentNumber: string | null;
  /** Document date, YYYY-MM-DD. */
  date: string | null;
  /** Accounting period, YYYY-MM. */
  period: string | null;
  total: Money;
  amountRemaining: Money;
  status: 'OPEN' | 'PAID' | 'VOIDED';
}

export type PostingStatus = 'NOT_POSTED' | 'POSTED' | 'FAILED';

export interface ErpPosting {
  /** Billing invoice id this posting is for (the ERP invoice's externalId). */
  invoiceId: string;
  status: PostingStatus;
  /** ERP internal id, null when not posted. */
  internalId: string | null;
  documentNumber: string | null;
  /** Accounting period as YYYY-MM. */
  period: string | null;
  postedAt: DateTime | null;
  total: Money | null;
  error: string | null;
}

/** A page of results from a list read. */
export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  /** Opaque cursor of the last item, to pass as `after`. */
  endCursor: string | null;
}
