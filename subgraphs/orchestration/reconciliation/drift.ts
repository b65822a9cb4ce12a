/**
 * What reconciliation reports: drifts between the systems, each with the systems' values side by
 * side, and either the repair that heals it through the orchestrator or what a human must do.
 */
import { createHash } from 'node:crypto';
import type { SystemName } from '../../../core/canonical';
import type { RepairAction } from '../workflow-model';

export const DRIFT_KINDS = [
  'MISSING_IN_BILLING',
  'MISSING_IN_ERP',
  'MISSING_IN_CRM',
  'INVOICE_NOT_POSTED',
  'AMOUNT_MISMATCH',
  'STATUS_MISMATCH',
  'DUPLICATE_CUSTOMER',
  // A deal billed more than once: two live contracts tagged with one CRM opportunity.
  'DUPLICATE_FULFILMENT',
  // An invoice still asking for money (or a draft Stripe will finalize) on an order that was cancelled.
  'ORPHANED_INVOICE',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export type DriftSubjectType = 'CUSTOMER' | 'CONTRACT' | 'INVOICE';

/** One system's value of one field, shown next to the others'. Null = the system has no such record. */
export interface DriftValue {
  system: SystemName;
  field: string;
  value: string | null;
}

/** How a drift is healed: by a repair run, or by a person (with what to do). */
export type DriftRemedy = { action: RepairAction; humanAction: null } | { action: null; humanAction: string };

/** A drift as the comparison finds it (reconciler.ts gives it its id and report). */
export interface DriftFinding {
  kind: DriftKind;
  /** The system that is out of step: where a repair acts, or where the problem shows. */
  system: SystemName;
  subjectType: DriftSubjectType;
  /** The customer's canonical id, the contract (subscription) id or the invoice id, per subjectType. */
  subjectId: string;
  detail: string;
  values: DriftValue[];
  customerId: string | null;
  contractId: string | null;
  invoiceId: string | null;
  /** A CRM record other than the account that a repair aligns (the CRM contract of a contract drift). */
  crmRecordId: string | null;
  remedy: DriftRemedy;
}

export interface Drift extends DriftFinding {
  id: string;
  reportId: string;
  detectedAt: string;
}

export const repair = (action: RepairAction): DriftRemedy => ({ action, humanAction: null });
export const human = (humanAction: string): DriftRemedy => ({ action: null, humanAction });

/** A drift's id: stable within its report, distinct across reports (a repair is keyed by it). */
export function driftId(reportId: string, finding: Pick<DriftFinding, 'kind' | 'system' | 'subjectType' | 'subjectId'>): string {
  const digest = createHash('sha256')
    .update(`${reportId}|${finding.kind}|${finding.system}|${finding.subjectType}|${finding.subjectId}`)
    .digest('hex')
    .slice(0, 20);
  return `drf_${digest}`;
}
