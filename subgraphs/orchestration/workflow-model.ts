/**
 * Runs besides order-to-cash that keep the systems in step: the customer master's sync
 * (upsertCustomer), contract amendments (amendContract) and drift repairs (repairDrift). They are
 * runs of the same engine (durable steps, leases, versioned saves, retries by policy, compensation,
 * dead letters and redrive); what they work on and learn is kept in `Run.workflow`, a union tagged
 * by kind, as plain JSON like the rest of a run.
 */
import type { ContractStatus, Money, SystemName } from '../../core/canonical';
import type { AmendedItem } from '../billing/port';

export const WORKFLOW_KINDS = ['CUSTOMER_SYNC', 'CONTRACT_AMENDMENT', 'DRIFT_REPAIR'] as const;
export type WorkflowKind = (typeof WORKFLOW_KINDS)[number];

/** Which system each workflow step talks to; steps run on that system's work queue. */
export const WORKFLOW_STEP_SYSTEM = {
  // customer master (and the repair of a customer missing in one system)
  readCustomerMaster: 'CRM',
  syncErpCustomer: 'ERP',
  syncBillingCustomer: 'BILLING',
  linkCrmAccount: 'CRM',
  // amendments
  amendSubscription: 'BILLING',
  postAmendment: 'ERP',
  finalizeAmendment: 'BILLING',
  // repairs
  readBillingInvoice: 'BILLING',
  postMissingInvoice: 'ERP',
  reverseErpPosting: 'ERP',
  readErpCreditStatus: 'ERP',
  alignCrmAccountStatus: 'CRM',
  readBillingContract: 'BILLING',
  alignCrmContract: 'CRM',
  cancelDuplicateContract: 'BILLING',
  reverseVoidedPostings: 'ERP',
  voidOrphanedInvoice: 'BILLING',
} as const satisfies Record<string, SystemName>;
export type WorkflowStepName = keyof typeof WORKFLOW_STEP_SYSTEM;

/** Run ids of workflows start with this (order-to-cash runs with `run_`): the queues' jobs say which engine. */
export const WORKFLOW_RUN_PREFIX = 'wf_';

export function isWorkflowRunId(runId: string): boolean {
  return runId.startsWith(WORKFLOW_RUN_PREFIX);
}

/** The customer master's fields that a sync pushes to billing and the ERP. */
export interface CustomerFields {
  customerId: string;
  name: string;
  email: string | null;
  taxRegistration: string | null;
}

/** What the sync learned: the other systems' ids, and the ERP's credit hold for the CRM status. */
export interface CustomerLinks {
  erpCustomerId: string | null;
  billingCustomerId: string | null;
  creditHold: boolean | null;
}

/** An invoice's figures as billing computed them, for the ERP to post as they are. */
export interface DocumentFigures {
  lines: { description: string; quantity: number; amount: Money }[];
  tax: Money;
  total: Money;
}

export interface CustomerSyncWorkflow {
  kind: 'CUSTOMER_SYNC';
  customer: CustomerFields;
  /** True when upsertCustomer created the CRM account (CUSTOMER_CREATED), false for an update. */
  created: boolean;
  links: CustomerLinks;
}

export interface AmendmentWorkflow {
  kind: 'CONTRACT_AMENDMENT';
  contractId: string;
  customerId: string;
  items: AmendedItem[];
  /** New scheduled end; null removes it; absent leaves it. */
  endDate?: string | null;
  /** Unix seconds the billing system prorates for, pinned at the start so that a resend prorates the same. */
  prorationDate: number;
  /** The contract's items and scheduled end before the amendment, to put it back when it is undone. */
  before: { items: { productCode: string; quantity: number }[]; endDate: string | null };
  /** The proration invoice billing made (a draft until the ERP has the adjustment), or null. */
  invoice: { id: string; figures: DocumentFigures } | null;
  /** The ERP adjustment: an invoice for an increase, a credit memo for a decrease. */
  erpDocument: { type: 'INVOICE' | 'CREDIT_MEMO'; internalId: string | null } | null;
}

/** What a repair does, by the drift it heals (reconciliation/drift.ts decides which). */
export type RepairAction =
  | 'CREATE_BILLING_CUSTOMER'
  | 'CREATE_ERP_CUSTOMER'
  | 'POST_INVOICE'
  | 'REVERSE_POSTING'
  | 'ALIGN_CRM_ACCOUNT_STATUS'
  | 'ALIGN_CRM_CONTRACT'
  | 'CANCEL_DUPLICATE_CONTRACT'
  | 'VOID_ORPHANED_INVOICE';

export interface RepairWorkflow {
  kind: 'DRIFT_REPAIR';
  driftId: string;
  reportId: string;
  action: RepairAction;
  customerId: string | null;
  contractId: string | null;
  invoiceId: string | null;
  /** The CRM record a status repair aligns (the CRM contract of a contract drift), when not the customer. */
  crmRecordId: string | null;
  /** Read from the CRM by the first step of a customer repair. */
  customer: CustomerFields | null;
  links: CustomerLinks;
  /** Read from billing by the first step of an invoice repair. */
  invoice: { figures: DocumentFigures; customerId: string; customerName: string | null; issuedAt: string | null; status: string } | null;
  /** Read by the first step of a status repair: the value the system of record holds. */
  truth: { creditHold?: boolean; contractStatus?: ContractStatus; contractEndDate?: string | null } | null;
  /** What the repair found and did, for operators ("posted", "already consistent", ...). */
  outcome: string | null;
  /** Invoices a duplicate-contract repair voided, whose ERP postings it then removes. */
  voidedInvoiceIds?: string[];
}

export type WorkflowState = CustomerSyncWorkflow | AmendmentWorkflow | RepairWorkflow;

/** The steps of each repair action, in order. */
export const REPAIR_PLAN: Record<RepairAction, WorkflowStepName[]> = {
  CREATE_BILLING_CUSTOMER: ['readCustomerMaster', 'syncBillingCustomer', 'linkCrmAccount'],
  CREATE_ERP_CUSTOMER: ['readCustomerMaster', 'syncErpCustomer', 'linkCrmAccount'],
  POST_INVOICE: ['readBillingInvoice', 'postMissingInvoice'],
  REVERSE_POSTING: ['readBillingInvoice', 'reverseErpPosting'],
  ALIGN_CRM_ACCOUNT_STATUS: ['readErpCreditStatus', 'alignCrmAccountStatus'],
  ALIGN_CRM_CONTRACT: ['readBillingContract', 'alignCrmContract'],
  // The extra contract is cancelled, its invoices voided, and their ERP postings removed.
  CANCEL_DUPLICATE_CONTRACT: ['readBillingContract', 'cancelDuplicateContract', 'reverseVoidedPostings'],
  VOID_ORPHANED_INVOICE: ['readBillingInvoice', 'voidOrphanedInvoice', 'reverseErpPosting'],
};

/** The steps of a customer sync and of an amendment, in order. */
export const CUSTOMER_SYNC_PLAN: WorkflowStepName[] = ['syncErpCustomer', 'syncBillingCustomer', 'linkCrmAccount'];
export const AMENDMENT_PLAN: WorkflowStepName[] = ['amendSubscription', 'postAmendment', 'finalizeAmendment'];

/**
 * Workflows whose forward failure (one that is not retried) is undone at once rather than left for
 * an operator: an amendment must never stay half-applied (billing changed, ERP without it).
 */
export function compensatesOnFailure(workflow: WorkflowState | undefined): boolean {
  return workflow?.kind === 'CONTRACT_AMENDMENT';
}
