/**
 * An order-to-cash run: a durable state machine over the three systems. Runs and steps are plain
 * JSON so that any store (memory, Redis) can hold them; transitions live in engine.ts.
 */
import type { Money, SystemName } from '../../core/canonical';
import { WORKFLOW_STEP_SYSTEM, type WorkflowState, type WorkflowStepName } from './workflow-model';

export const STEP_NAMES = [
  'readOpportunity',
  'erpCustomer',
  'billingCustomer',
  'contract',
  'invoice',
  'erpPosting',
  'crmWriteBack',
] as const;
/** The steps of an order-to-cash run, in order. */
export type OrderToCashStepName = (typeof STEP_NAMES)[number];
/** Any step the engine runs: order-to-cash's, and those of the other workflows (workflow-model.ts). */
export type StepName = OrderToCashStepName | WorkflowStepName;

/** Which system each step talks to; steps run on that system's work queue. */
export const STEP_SYSTEM: Record<StepName, SystemName> = {
  ...WORKFLOW_STEP_SYSTEM,
  readOpportunity: 'CRM',
  erpCustomer: 'ERP',
  billingCustomer: 'BILLING',
  contract: 'BILLING',
  invoice: 'BILLING',
  erpPosting: 'ERP',
  crmWriteBack: 'CRM',
};

export type RunStatus =
  | 'PENDING'
  | 'RUNNING'
  | 'WAITING_RETRY'
  | 'COMPLETED'
  | 'COMPENSATING'
  | 'COMPENSATED'
  | 'DEAD_LETTERED';

export const RUN_STATUSES: readonly RunStatus[] = [
  'PENDING',
  'RUNNING',
  'WAITING_RETRY',
  'COMPLETED',
  'COMPENSATING',
  'COMPENSATED',
  'DEAD_LETTERED',
];

/** A run in one of these never moves again without an operator (retry or cancel). */
export function isSettled(status: RunStatus): boolean {
  switch (status) {
    case 'COMPLETED':
    case 'COMPENSATED':
    case 'DEAD_LETTERED':
      return true;
    case 'PENDING':
    case 'RUNNING':
    case 'WAITING_RETRY':
    case 'COMPENSATING':
      return false;
  }
}

export type StepStatus =
  | 'PENDING'
  | 'RUNNING'
  | 'WAITING_RETRY'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'COMPENSATED'
  | 'COMPENSATION_FAILED';

export interface StepError {
  code: string;
  message: string;
  retryable: boolean;
  system: SystemName | null;
}

export interface RunStep {
  name: StepName;
  system: SystemName;
  status: StepStatus;
  /** Forward attempts made (a crash mid-attempt counts as one). */
  attempts: number;
  lastError: StepError | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Id of what the step produced in its system (ERP customer, Stripe subscription, ...). */
  externalId: string | null;
  /** When a WAITING_RETRY step is due. */
  nextAttemptAt: string | null;
  /** Compensation attempts made, when the run is being undone. */
  compensationAttempts: number;
  /** `attempts` when an operator last redrove the step: the retry budget counts from here. */
  redriveBase: number;
}

/** What the steps learn and pass on, kept with the run so a restart resumes with it. */
export interface RunContext {
  customerId: string | null;
  customerName: string | null;
  lines: { productCode: string; quantity: number }[];
  amount: Money | null;
  erpCustomerId: string | null;
  billingCustomerId: string | null;
  contractId: string | null;
  invoiceId: string | null;
  /** The finalized invoice's figures, so the ERP step posts them without reading billing again. */
  invoice: { lines: { description: string; quantity: number; amount: Money }[]; tax: Money; total: Money } | null;
  erpInvoiceId: string | null;
}

export interface DeadLetterInfo {
  step: StepName;
  error: StepError;
  at: string;
  /** True when the failure happened while undoing the run. */
  duringCompensation: boolean;
}

export interface Run {
  id: string;
  correlationId: string;
  /** The caller's key in its stored, caller-scoped form (caller-keys.ts). */
  idempotencyKey: string;
  /** Scope of the caller that started the run (core/principal.ts callerScope); null/absent = internal. */
  owner?: string | null;
  /** Hash of the start input, to tell a replay from a reused key. */
  inputHash: string;
  opportunityId: string;
  status: RunStatus;
  /** Incremented by every save; stores refuse a save made from a stale copy. */
  version: number;
  steps: RunStep[];
  context: RunContext;
  /** Set by cancelOrderToCash; the worker turns the run round at the next step boundary. */
  cancelRequested: boolean;
  /**
   * Set on runs of the other workflows (customer sync, amendment, repair): what they work on and
   * learn. Absent on order-to-cash runs, whose state is `context`.
   */
  workflow?: WorkflowState;
  deadLetter: DeadLetterInfo | null;
  createdAt: string;
  updatedAt: string;
}

export function newStep(name: StepName): RunStep {
  return {
    name,
    system: STEP_SYSTEM[name],
    status: 'PENDING',
    attempts: 0,
    lastError: null,
    startedAt: null,
    finishedAt: null,
    externalId: null,
    nextAttemptAt: null,
    compensationAttempts: 0,
    redriveBase: 0,
  };
}

export function emptyContext(): RunContext {
  return {
    customerId: null,
    customerName: null,
    lines: [],
    amount: null,
    erpCustomerId: null,
    billingCustomerId: null,
    contractId: null,
    invoiceId: null,
    invoice: null,
    erpInvoiceId: null,
  };
}
