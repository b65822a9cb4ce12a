/**
 * Steps of a contract amendment, in this order so that the amendment is never half-applied:
 *
 * 1. amendSubscription (billing): the subscription changes and the billing system prorates it on an
 *    invoice of its own, held as a draft. Keyed by (run, step); the amendment's id is stamped on the
 *    subscription, so an uncertain outcome is settled by finding that invoice.
 * 2. postAmendment (ERP): the adjustment is posted with billing's figures: an invoice for an
 *    increase, a credit memo for a decrease, keyed by the billing invoice id (external-id upsert),
 *    in today's (open) period.
 * 3. finalizeAmendment (billing): only now is the proration invoice finalized, and CONTRACT_AMENDED
 *    appended (once per run).
 *
 * If the ERP refuses (a closed period, a rejected record), the run compensates at once, newest
 * first: the ERP document is removed if it was made, the draft invoice withdrawn, and the
 * subscription put back as it was without prorating (the withdrawn invoice took the proration back).
 */
import type { BillingInvoice, Money } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { toMinorUnits } from '../../core/money';
import type { AmendedItem } from '../billing/port';
import type { Run } from './model';
import type { StepDefinition, StepInput } from './steps';
import type { AmendmentWorkflow, DocumentFigures, WorkflowStepName } from './workflow-model';

function amendmentOf(run: Run): AmendmentWorkflow {
  if (run.workflow?.kind !== 'CONTRACT_AMENDMENT') throw new ConcordError('INTERNAL', `run ${run.id} is not an amendment`);
  return run.workflow;
}

export function figuresOf(invoice: BillingInvoice): DocumentFigures {
  return {
    lines: invoice.lines.map((l) => ({ description: l.description ?? 'Proration', quantity: l.quantity ?? 1, amount: l.amount })),
    tax: invoice.tax,
    total: invoice.total,
  };
}

const sign = (money: Money) => Math.sign(toMinorUnits(money.amount, money.currency));
/** The same amount the other way ('-12.50' <-> '12.50'). */
export const negate = (money: Money): Money => ({ ...money, amount: money.amount.startsWith('-') ? money.amount.slice(1) : money.amount === '0.00' ? money.amount : `-${money.amount}` });

/** The item changes that put the contract back as it was before the amendment. */
export function revertItems(a: AmendmentWorkflow): AmendedItem[] {
  const before = new Map(a.before.items.map((i) => [i.productCode, i.quantity]));
  return a.items.map((change) => {
    if (change.replacesProductCode) {
      return { productCode: change.replacesProductCode, quantity: before.get(change.replacesProductCode) ?? 0, replacesProductCode: change.productCode };
    }
    return { productCode: change.productCode, quantity: before.get(change.productCode) ?? 0 };
  });
}

/** The proration invoice of this run: known from the step, or found by the amendment id stamped on it. */
async function invoiceOfRun({ run, ports }: StepInput): Promise<string | null> {
  const a = amendmentOf(run);
  if (a.invoice) return a.invoice.id;
  return (await ports.billing.findAmendmentInvoice(a.contractId, run.id))?.id ?? null;
}

async function announce(input: StepInput): Promise<void> {
  const { run, ports, correlationId } = input;
  if (!ports.events) return;
  const a = amendmentOf(run);
  await ports.events.append({
    type: 'CONTRACT_AMENDED',
    occurredAt: new Date().toISOString(),
    correlationId,
    source: 'BILLING',
    customerId: a.customerId,
    contractId: a.contractId,
    invoiceId: a.invoice?.id ?? null,
    runId: run.id,
    // One event per amendment, however often this step is repeated.
    dedupeKey: `${run.id}:amended`,
    data: { adjustment: a.invoice ? `${a.invoice.figures.total.amount} ${a.invoice.figures.total.currency}` : null, erpDocument: a.erpDocument?.type ?? null },
  });
}

export const AMENDMENT_STEPS: Pick<Record<WorkflowStepName, StepDefinition>, 'amendSubscription' | 'postAmendment' | 'finalizeAmendment'> = {
  amendSubscription: {
    name: 'amendSubscription',
    async run({ run, ports, key, correlationId, uncertain }) {
      const a = amendmentOf(run);
      if (uncertain) {
        // Read before resending: the earlier attempt may have applied the change.
        const found = await ports.billing.findAmendmentInvoice(a.contractId, run.id);
        if (found) return { externalId: found.id, workflow: { invoice: { id: found.id, figures: figuresOf(found) } } };
      }
      const { invoice } = await ports.billing.amendContract(
        {
          contractId: a.contractId,
          items: a.items,
          ...(a.endDate !== undefined ? { endDate: a.endDate } : {}),
          // An end date alone prorates nothing; item changes are prorated and invoiced now.
          proration: a.items.length > 0 ? 'invoice' : 'none',
          // Pinned where the billing system takes it; otherwise its idempotency key replays the first answer.
          ...(ports.billing.capabilities.pinnedProrationDate ? { prorationDate: a.prorationDate } : {}),
          amendmentId: run.id,
        },
        // The same key on a resend: Stripe replays the first answer instead of changing twice.
        { idempotencyKey: key, correlationId },
      );
      return { externalId: invoice?.id ?? a.contractId, workflow: { invoice: invoice ? { id: invoice.id, figures: figuresOf(invoice) } : null } };
    },
    async compensate(input) {
      const { run, ports, key, correlationId } = input;
      const a = amendmentOf(run);
      const invoiceId = await invoiceOfRun(input);
      if (invoiceId) await ports.billing.withdrawInvoice(invoiceId, { idempotencyKey: `${key}:withdraw`, correlationId });
      const items = revertItems(a);
      if (items.length === 0 && a.endDate === undefined) return;
      // Nothing to put back when the change never took effect (the step failed before Stripe applied it).
      const now = (await ports.billing.getContracts([a.contractId])).get(a.contractId);
      const quantities = new Map((now?.items ?? []).map((i) => [i.productCode, i.quantity]));
      const asBefore = a.before.items.every((i) => quantities.get(i.productCode) === i.quantity) && quantities.size === a.before.items.length;
      if (now && asBefore && (a.endDate === undefined || now.endDate === a.before.endDate)) return;
      await ports.billing.amendContract(
        {
          contractId: a.contractId,
          items,
          ...(a.endDate !== undefined ? { endDate: a.before.endDate } : {}),
          proration: 'none',
          amendmentId: `${run.id}:undone`,
        },
        { idempotencyKey: `${key}:revert`, correlationId },
      );
    },
  },

  postAmendment: {
    name: 'postAmendment',
    async run({ run, ports, correlationId, today }) {
      const a = amendmentOf(run);
      if (!a.invoice || sign(a.invoice.figures.total) === 0) return { externalId: null, workflow: { erpDocument: null } };
      const { id, figures } = a.invoice;
      if (sign(figures.total) > 0) {
        // Business success is the posting read back as posted, not the write being accepted:
        // postInvoice returns the ERP record as read back after the write.
        const posting = await ports.erp.postInvoice({ invoiceId: id, customerId: a.customerId, documentDate: today, ...figures }, { correlationId });
        if (posting.status !== 'POSTED') {
          throw new ConcordError('VENDOR_UNAVAILABLE', `ERP posting of ${id} is not visible yet`, { system: 'ERP', retryable: true });
        }
        return { externalId: posting.internalId, workflow: { erpDocument: { type: 'INVOICE', internalId: posting.internalId } } };
      }
      // A decrease: billing owes the customer; the ERP records it as a credit memo (positive amounts credited).
      const credit = await ports.erp.postCreditMemo(
        {
          invoiceId: id,
          customerId: a.customerId,
          documentDate: today,
          lines: figures.lines.map((l) => ({ ...l, amount: negate(l.amount) })),
          tax: negate(figures.tax),
          total: negate(figures.total),
        },
        { correlationId },
      );
      if (credit.status !== 'POSTED') {
        throw new ConcordError('VENDOR_UNAVAILABLE', `ERP credit memo for ${id} is not visible yet`, { system: 'ERP', retryable: true });
      }
      return { externalId: credit.internalId, workflow: { erpDocument: { type: 'CREDIT_MEMO', internalId: credit.internalId } } };
    },
    async compensate({ run, ports, correlationId }) {
      const a = amendmentOf(run);
      if (!a.invoice) return;
      // Both removals treat "not there" as done, so an attempt that never took effect is fine too.
      if (sign(a.invoice.figures.total) > 0) await ports.erp.reverseInvoice(a.invoice.id, { correlationId });
      else if (sign(a.invoice.figures.total) < 0) await ports.erp.reverseCreditMemo(a.invoice.id, { correlationId });
    },
  },

  finalizeAmendment: {
    name: 'finalizeAmendment',
    async run(input) {
      const { run, ports, key, correlationId } = input;
      const a = amendmentOf(run);
      // The adapter treats an invoice that is already final as done.
      if (a.invoice) await ports.billing.finalizeInvoice(a.invoice.id, { idempotencyKey: key, correlationId });
      await announce(input);
      return { externalId: a.invoice?.id ?? a.contractId };
    },
  },
};
