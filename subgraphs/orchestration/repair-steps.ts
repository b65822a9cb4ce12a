/**
 * Steps of drift repairs. Each repair first reads the system of record (billing for invoices and
 * contracts, the ERP for credit), then changes the system that is out of step, and only when it
 * still differs: a repair that finds the systems already agreeing does nothing, so repairing twice,
 * or repairing a drift another repair already healed, has no second effect. The writes are the
 * same idempotent ones order-to-cash uses (ERP external-id upserts and deletes, CRM PATCHes).
 * Customer repairs reuse the customer master's steps (customer-sync-steps.ts).
 */
import type { BillingInvoice } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { toMinorUnits } from '../../core/money';
import { figuresOf, negate } from './amendment-steps';
import { crmStatusFor } from './customer-sync-steps';
import type { Run } from './model';
import { BusinessRuleError, type StepDefinition, type StepInput } from './steps';
import type { RepairWorkflow, WorkflowStepName } from './workflow-model';

function repairOf(run: Run): RepairWorkflow {
  if (run.workflow?.kind !== 'DRIFT_REPAIR') throw new ConcordError('INTERNAL', `run ${run.id} is not a repair`);
  return run.workflow;
}

function need<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new ConcordError('INTERNAL', `repair lacks ${what}`);
  return value;
}

const minor = (invoice: NonNullable<RepairWorkflow['invoice']>) => toMinorUnits(invoice.figures.total.amount, invoice.figures.total.currency);
const isClosedPeriod = (error: unknown) => error instanceof ConcordError && error.code === 'PERIOD_CLOSED';

/** Post (or re-post) billing's invoice to the ERP as an invoice, or as a credit memo when it credits. */
async function post(input: StepInput, documentDate: string): Promise<string> {
  const { run, ports, correlationId } = input;
  const r = repairOf(run);
  const invoice = need(r.invoice, 'the billing invoice');
  const invoiceId = need(r.invoiceId, 'invoiceId');
  if (minor(invoice) > 0) {
    const posting = await ports.erp.postInvoice({ invoiceId, customerId: invoice.customerId, documentDate, ...invoice.figures }, { correlationId });
    return `posted as ${posting.documentNumber ?? posting.internalId} in ${posting.period}`;
  }
  // A credit: the ERP records it as a credit memo of the same figures, credited (signs turned).
  const credit = await ports.erp.postCreditMemo(
    {
      invoiceId,
      customerId: invoice.customerId,
      documentDate,
      lines: invoice.figures.lines.map((l) => ({ ...l, amount: negate(l.amount) })),
      tax: negate(invoice.figures.tax),
      total: negate(invoice.figures.total),
    },
    { correlationId },
  );
  return `credit memo ${credit.documentNumber ?? credit.internalId} posted in ${credit.period}`;
}

export const REPAIR_STEPS: Pick<
  Record<WorkflowStepName, StepDefinition>,
  | 'readBillingInvoice' | 'postMissingInvoice' | 'reverseErpPosting' | 'readErpCreditStatus' | 'alignCrmAccountStatus' | 'readBillingContract' | 'alignCrmContract'
  | 'cancelDuplicateContract' | 'reverseVoidedPostings' | 'voidOrphanedInvoice'
> = {
  readBillingInvoice: {
    name: 'readBillingInvoice',
    async run({ run, ports }) {
      const r = repairOf(run);
      const invoiceId = need(r.invoiceId, 'invoiceId');
      const invoice: BillingInvoice | undefined = (await ports.billing.getInvoices([invoiceId])).get(invoiceId);
      if (!invoice) throw new BusinessRuleError(`billing invoice ${invoiceId} no longer exists; a human must decide`, 'BILLING');
      const customerId = invoice.customerId || r.customerId;
      if (!customerId) throw new BusinessRuleError(`billing invoice ${invoiceId} is linked to no customer`, 'BILLING');
      const customer = (await ports.billing.getCustomersByCustomerId([customerId])).get(customerId);
      return {
        externalId: invoice.id,
        workflow: { invoice: { figures: figuresOf(invoice), customerId, customerName: customer?.name ?? null, issuedAt: invoice.issuedAt, status: invoice.status } },
      };
    },
  },

  postMissingInvoice: {
    name: 'postMissingInvoice',
    async run(input) {
      const { run, ports, correlationId, today } = input;
      const r = repairOf(run);
      const invoice = need(r.invoice, 'the billing invoice');
      const invoiceId = need(r.invoiceId, 'invoiceId');
      if (invoice.status === 'DRAFT' || invoice.status === 'VOID' || minor(invoice) === 0) {
        return { externalId: null, workflow: { outcome: `nothing to post: the billing invoice is ${invoice.status.toLowerCase()} now` } };
      }
      if (minor(invoice) > 0) {
        const posting = (await ports.erp.getPostings([invoiceId])).get(invoiceId);
        if (posting?.status === 'POSTED' && posting.total?.amount === invoice.figures.total.amount) {
          return { externalId: posting.internalId, workflow: { outcome: 'already posted with the billing total' } };
        }
      }
      // The ERP customer must exist for the posting to name it.
      const profile = (await ports.erp.getCustomerProfiles([invoice.customerId])).get(invoice.customerId);
      if (!profile) await ports.erp.upsertCustomer({ customerId: invoice.customerId, companyName: invoice.customerName ?? invoice.customerId }, { correlationId });
      // In the invoice's own period when it is still open, else in today's (a late posting).
      const issued = invoice.issuedAt?.slice(0, 10) ?? today;
      let outcome: string;
      try {
        outcome = await post(input, issued);
      } catch (error) {
        if (!isClosedPeriod(error) || issued.slice(0, 7) === today.slice(0, 7)) throw error;
        outcome = `${await post(input, today)} (its own period is closed)`;
      }
      return { externalId: invoiceId, workflow: { outcome } };
    },
  },

  reverseErpPosting: {
    name: 'reverseErpPosting',
    async run({ run, ports, correlationId }) {
      const r = repairOf(run);
      const invoice = need(r.invoice, 'the billing invoice');
      const invoiceId = need(r.invoiceId, 'invoiceId');
      if (invoice.status !== 'VOID' && invoice.status !== 'DRAFT') {
        return { externalId: null, workflow: { outcome: `nothing reversed: the billing invoice is ${invoice.status.toLowerCase()} now` } };
      }
      // Already absent counts as done; a closed period is PERIOD_CLOSED (a human credits it).
      await ports.erp.reverseInvoice(invoiceId, { correlationId });
      return { externalId: invoiceId, workflow: { outcome: 'ERP posting removed' } };
    },
  },

  readErpCreditStatus: {
    name: 'readErpCreditStatus',
    async run({ run, ports }) {
      const customerId = need(repairOf(run).customerId, 'customerId');
      const profile = (await ports.erp.getCustomerProfiles([customerId])).get(customerId);
      if (!profile) throw new BusinessRuleError(`ERP customer ${customerId} does not exist`, 'ERP');
      return { externalId: profile.internalId, workflow: { truth: { creditHold: profile.creditHold } } };
    },
  },

  alignCrmAccountStatus: {
    name: 'alignCrmAccountStatus',
    async run({ run, ports, correlationId }) {
      const r = repairOf(run);
      const customerId = need(r.customerId, 'customerId');
      const status = crmStatusFor(need(r.truth?.creditHold, 'the ERP credit hold'));
      const account = (await ports.crm.getAccounts([customerId])).get(customerId);
      if (!account) throw new BusinessRuleError(`CRM account ${customerId} does not exist`, 'CRM');
      if (account.status === status) return { externalId: customerId, workflow: { outcome: `already ${status}` } };
      await ports.crm.updateAccount(customerId, { status, correlationId });
      return { externalId: customerId, workflow: { outcome: `CRM status set to ${status}` } };
    },
  },

  readBillingContract: {
    name: 'readBillingContract',
    async run({ run, ports }) {
      const contractId = need(repairOf(run).contractId, 'contractId');
      const contract = (await ports.billing.getContracts([contractId])).get(contractId);
      if (!contract) throw new BusinessRuleError(`billing contract ${contractId} no longer exists; a human must decide`, 'BILLING');
      return { externalId: contract.id, workflow: { truth: { contractStatus: contract.status, contractEndDate: contract.endDate } } };
    },
  },

  alignCrmContract: {
    name: 'alignCrmContract',
    // Billing is the system of record for contracts: the CRM contract takes its status and end.
    async run({ run, ports, correlationId }) {
      const r = repairOf(run);
      const crmContractId = need(r.crmRecordId, 'the CRM contract id');
      const status = need(r.truth?.contractStatus, 'the billing status');
      const ended = status === 'CANCELED' || status === 'ENDED';
      await ports.crm.updateContract(crmContractId, {
        status: status === 'DRAFT' ? 'Draft' : 'Activated',
        // The end as billing has it: when it ended, or a scheduled end, or none.
        endDate: r.truth?.contractEndDate ?? (ended ? new Date().toISOString() : null),
        correlationId,
      });
      return { externalId: crmContractId, workflow: { outcome: `CRM contract aligned with billing (${status})` } };
    },
  },

  cancelDuplicateContract: {
    name: 'cancelDuplicateContract',
    // A deal billed twice: the extra contract (the one the CRM does not link, or the newer) is
    // cancelled and every invoice of it still asking for money voided (a draft too: Stripe would
    // finalize it). Cancelling a cancelled contract and voiding a void invoice count as done.
    async run({ run, ports, key, correlationId }) {
      const r = repairOf(run);
      const contractId = need(r.contractId, 'contractId');
      if (r.truth?.contractStatus !== 'CANCELED' && r.truth?.contractStatus !== 'ENDED') {
        await ports.billing.cancelContract(contractId, { idempotencyKey: `${key}:cancel`, correlationId });
      }
      const voided: string[] = [];
      for (const invoice of await ports.billing.listInvoicesForContract(contractId)) {
        if (invoice.status === 'PAID') continue;
        if (invoice.status !== 'VOID') await ports.billing.voidInvoice(invoice.id, { idempotencyKey: `${key}:void:${invoice.id}`, correlationId });
        voided.push(invoice.id);
      }
      return { externalId: contractId, workflow: { voidedInvoiceIds: voided, outcome: `duplicate contract ${contractId} cancelled, ${voided.length} invoice(s) void` } };
    },
  },

  reverseVoidedPostings: {
    name: 'reverseVoidedPostings',
    // Already absent counts as done; a closed period is PERIOD_CLOSED (a human credits it).
    async run({ run, ports, correlationId }) {
      const r = repairOf(run);
      const ids = r.voidedInvoiceIds ?? [];
      for (const invoiceId of ids) await ports.erp.reverseInvoice(invoiceId, { correlationId });
      return { externalId: null, workflow: { outcome: `${r.outcome ?? 'duplicate cancelled'}; ERP postings of ${ids.length} invoice(s) removed` } };
    },
  },

  voidOrphanedInvoice: {
    name: 'voidOrphanedInvoice',
    // The order was cancelled: its invoice must not bill. A draft is finalized with auto_advance off
    // and voided (Stripe voids only open invoices); the next step removes an ERP posting of it.
    async run({ run, ports, key, correlationId }) {
      const r = repairOf(run);
      const invoice = need(r.invoice, 'the billing invoice');
      const invoiceId = need(r.invoiceId, 'invoiceId');
      if (invoice.status === 'PAID') {
        throw new BusinessRuleError(`invoice ${invoiceId} of a cancelled order is paid: refund it by hand`, 'BILLING');
      }
      if (invoice.status !== 'VOID') await ports.billing.voidInvoice(invoiceId, { idempotencyKey: `${key}:void`, correlationId });
      return { externalId: invoiceId, workflow: { invoice: { ...invoice, status: 'VOID' }, outcome: 'invoice voided' } };
    },
  },
};
