/**
 * The order-to-cash steps: what each does forward, and how it is undone. Every vendor write carries
 * a key derived from (run id, step), so an attempt repeated after a crash or an uncertain outcome
 * finds or replays the first one's effect instead of making a second.
 */
import type { BillingInvoice, SystemName } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { BillingPort } from '../billing/port';
import type { CrmPort } from '../crm/port';
import type { ErpPort } from '../erp/port';
import type { EventLog } from '../../core/events/event-log';
import type { OrderToCashStepName, Run, RunContext, StepName } from './model';
import type { WorkflowState } from './workflow-model';
import { assertNotFulfilled } from './fulfilment';

export interface Ports {
  crm: CrmPort;
  billing: BillingPort;
  erp: ErpPort;
  /**
   * Where steps append business events (CUSTOMER_CREATED, CONTRACT_AMENDED, ...), de-duplicated by
   * run. Absent = no events (the log is optional until every deployment has one).
   */
  events?: EventLog;
}

export interface StepInput {
  run: Run;
  ports: Ports;
  /** `${run.id}:${step}`: the idempotency key of this step's writes. */
  key: string;
  correlationId: string;
  /** True when an earlier attempt may have taken effect (it crashed or its outcome was unknown). */
  uncertain: boolean;
  logger: Logger;
  /** Today as YYYY-MM-DD (the ERP document date). */
  today: string;
}

export interface StepResult {
  externalId: string | null;
  context?: Partial<RunContext>;
  /** Fields to merge into the run's `workflow` (runs other than order-to-cash). */
  workflow?: Partial<Omit<WorkflowState, 'kind'>> & Record<string, unknown>;
}

export interface StepDefinition {
  name: StepName;
  run(input: StepInput): Promise<StepResult>;
  /** Undo the step's effect; absent = nothing to undo (reads, and the customer master, which stays). */
  compensate?(input: StepInput): Promise<void>;
}

/** A business rule stops the run: no retry, dead-lettered with the reason. */
export class BusinessRuleError extends ConcordError {
  constructor(message: string, system?: SystemName) {
    super('VALIDATION_FAILED', message, { system, retryable: false });
    this.name = 'BusinessRuleError';
  }
}

function need<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new ConcordError('INTERNAL', `run state lacks ${what}`);
  return value;
}

/** The invoice Stripe created with the subscription (the oldest of the contract). */
function firstInvoice(invoices: BillingInvoice[]): BillingInvoice | null {
  return invoices.length === 0 ? null : invoices[invoices.length - 1];
}

/** Void every invoice of the contract that is a draft or open (paid ones need a refund, not this). */
async function neutraliseInvoices(ports: Ports, contractId: string, key: string, correlationId: string): Promise<void> {
  for (const invoice of await ports.billing.listInvoicesForContract(contractId)) {
    if (invoice.status === 'DRAFT' || invoice.status === 'OPEN' || invoice.status === 'UNCOLLECTIBLE') {
      await ports.billing.voidInvoice(invoice.id, { idempotencyKey: `${key}:void:${invoice.id}`, correlationId });
    }
  }
}

/** A contract step that failed with an unknown outcome may still have created the subscription. */
async function contractOfUncertainCreate(run: Run, ports: Ports): Promise<string | null> {
  if (!run.context.billingCustomerId) return null;
  const found = await ports.billing.findContractForOpportunity(run.context.billingCustomerId, run.opportunityId);
  return found && found.status !== 'CANCELED' && found.status !== 'ENDED' ? found.id : null;
}

/** The deal as order-to-cash needs it: Closed Won, its account and its lines (no fulfilment check). */
export async function readDeal(run: Run, ports: Ports): Promise<StepResult> {
  const opportunity = (await ports.crm.getOpportunities([run.opportunityId])).get(run.opportunityId);
  if (!opportunity) throw new BusinessRuleError(`opportunity ${run.opportunityId} does not exist`, 'CRM');
  if (!opportunity.isWon) throw new BusinessRuleError(`opportunity ${run.opportunityId} is ${opportunity.stage}, not Closed Won`, 'CRM');
  const [accounts, lines] = await Promise.all([
    ports.crm.getAccounts([opportunity.accountId]),
    ports.crm.getOpportunityLines([opportunity.id]),
  ]);
  const account = accounts.get(opportunity.accountId);
  if (!account) throw new BusinessRuleError(`account ${opportunity.accountId} of the opportunity does not exist`, 'CRM');
  const items = (lines.get(opportunity.id) ?? []).map((l) => ({ productCode: l.productCode, quantity: l.quantity }));
  if (items.length === 0) throw new BusinessRuleError(`opportunity ${opportunity.id} has no line items to bill`, 'CRM');
  return {
    externalId: opportunity.id,
    context: { customerId: account.id, customerName: account.name, lines: items, amount: opportunity.amount },
  };
}

export const STEPS: Record<OrderToCashStepName, StepDefinition> = {
  readOpportunity: {
    name: 'readOpportunity',
    // Done by startOrderToCash (a lost deal must not create a run), with a fast fulfilment check
    // there. When billing could not be read at the start (throttled), the start leaves this step
    // PENDING and the run's first job does it: the authoritative check, before any effect. A
    // redrive re-reads and checks again.
    async run({ run, ports }) {
      const deal = await readDeal(run, ports);
      await assertNotFulfilled(ports, run.opportunityId, deal.context?.customerId);
      return deal;
    },
  },

  erpCustomer: {
    name: 'erpCustomer',
    // External-id upsert: repeating it converges on one customer record.
    async run({ run, ports, correlationId }) {
      const profile = await ports.erp.upsertCustomer(
        { customerId: need(run.context.customerId, 'customerId'), companyName: need(run.context.customerName, 'customerName') },
        { correlationId },
      );
      if (profile.creditHold) {
        throw new BusinessRuleError(`customer ${profile.customerNumber} is on credit hold in the ERP`, 'ERP');
      }
      return { externalId: profile.internalId, context: { erpCustomerId: profile.internalId } };
    },
  },

  billingCustomer: {
    name: 'billingCustomer',
    async run({ run, ports, key, correlationId }) {
      const customer = await ports.billing.upsertCustomer(
        { customerId: need(run.context.customerId, 'customerId'), name: need(run.context.customerName, 'customerName') },
        { idempotencyKey: key, correlationId },
      );
      return { externalId: customer.id, context: { billingCustomerId: customer.id } };
    },
  },

  contract: {
    name: 'contract',
    async run({ run, ports, key, correlationId, uncertain }) {
      const billingCustomerId = need(run.context.billingCustomerId, 'billingCustomerId');
      if (uncertain) {
        // Read before retrying: the earlier attempt may have created the subscription.
        const existing = await ports.billing.findContractForOpportunity(billingCustomerId, run.opportunityId);
        if (existing) return { externalId: existing.id, context: { contractId: existing.id } };
      }
      const contract = await ports.billing.createContract(
        {
          customerId: need(run.context.customerId, 'customerId'),
          billingCustomerId,
          items: run.context.lines,
          opportunityId: run.opportunityId,
        },
        { idempotencyKey: key, correlationId },
      );
      return { externalId: contract.id, context: { contractId: contract.id } };
    },
    async compensate({ run, ports, key, correlationId }) {
      const id = run.context.contractId ?? (await contractOfUncertainCreate(run, ports));
      if (!id) return;
      await ports.billing.cancelContract(id, { idempotencyKey: `${key}:cancel`, correlationId });
      // Cancelling a subscription leaves its invoices as they are (Stripe), and its first invoice
      // is a draft with auto_advance: Stripe would finalize it about an hour later and bill the
      // customer for a cancelled order. Whatever the run stopped at (before, during or after the
      // invoice step), every invoice of the contract still asking for money is voided (a draft is
      // finalized with auto_advance=false first: Stripe voids only open invoices).
      await neutraliseInvoices(ports, id, key, correlationId);
    },
  },

  invoice: {
    name: 'invoice',
    async run({ run, ports, key, correlationId }) {
      const invoices = await ports.billing.listInvoicesForContract(need(run.context.contractId, 'contractId'));
      const invoice = firstInvoice(invoices);
      if (!invoice) throw new ConcordError('VENDOR_UNAVAILABLE', 'the first invoice of the contract is not there yet', { system: 'BILLING', retryable: true });
      // Finalizing fixes tax and number; the adapter treats an already-final invoice as done.
      const final = invoice.status === 'DRAFT' ? await ports.billing.finalizeInvoice(invoice.id, { idempotencyKey: key, correlationId }) : invoice;
      const figures = {
        lines: final.lines.map((l) => ({ description: l.description ?? 'Subscription', quantity: l.quantity ?? 1, amount: l.amount })),
        tax: final.tax,
        total: final.total,
      };
      return { externalId: final.id, context: { invoiceId: final.id, invoice: figures } };
    },
    async compensate({ run, ports, key, correlationId }) {
      let id = run.context.invoiceId;
      if (!id && run.context.contractId) {
        // The step failed before recording the invoice; the contract's first invoice is the one.
        const invoice = firstInvoice(await ports.billing.listInvoicesForContract(run.context.contractId));
        id = invoice && invoice.status !== 'VOID' && invoice.status !== 'PAID' ? invoice.id : null;
      }
      if (id) await ports.billing.voidInvoice(id, { idempotencyKey: `${key}:void`, correlationId });
    },
  },

  erpPosting: {
    name: 'erpPosting',
    async run({ run, ports, correlationId, today }) {
      const invoiceId = need(run.context.invoiceId, 'invoiceId');
      // The figures were taken from the finalized invoice: this step holds an ERP slot, so it
      // spends it on the ERP alone.
      const invoice = need(run.context.invoice, 'invoice figures');
      // Business success is the posting read back as posted, not the write being accepted:
      // postInvoice returns the ERP record as read back after the write.
      const posting = await ports.erp.postInvoice(
        { invoiceId, customerId: need(run.context.customerId, 'customerId'), documentDate: today, ...invoice },
        { correlationId },
      );
      if (posting.status !== 'POSTED') {
        throw new ConcordError('VENDOR_UNAVAILABLE', `ERP posting of ${invoiceId} is not visible yet`, { system: 'ERP', retryable: true });
      }
      return { externalId: posting.internalId, context: { erpInvoiceId: posting.internalId } };
    },
    async compensate({ run, ports, correlationId }) {
      if (run.context.invoiceId) await ports.erp.reverseInvoice(run.context.invoiceId, { correlationId });
    },
  },

  crmWriteBack: {
    name: 'crmWriteBack',
    // PATCHes of the same values: repeating them is harmless.
    async run({ run, ports, correlationId }) {
      const c = run.context;
      await ports.crm.updateOpportunity(run.opportunityId, {
        billingSubscriptionId: need(c.contractId, 'contractId'),
        billingInvoiceId: need(c.invoiceId, 'invoiceId'),
        erpInvoiceId: need(c.erpInvoiceId, 'erpInvoiceId'),
        orderStatus: 'Completed',
        correlationId,
      });
      await ports.crm.updateAccount(need(c.customerId, 'customerId'), {
        billingCustomerId: need(c.billingCustomerId, 'billingCustomerId'),
        erpCustomerId: need(c.erpCustomerId, 'erpCustomerId'),
        correlationId,
      });
      return { externalId: run.opportunityId };
    },
    async compensate({ run, ports, correlationId }) {
      await ports.crm.updateOpportunity(run.opportunityId, { orderStatus: 'Canceled', correlationId });
    },
  },
};
