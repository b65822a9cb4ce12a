/**
 * Exactly once for the business, as reconciliation checks it (compare.ts runs this with the rest):
 *
 * - DUPLICATE_FULFILMENT: one CRM opportunity (subscription metadata `concord_opportunity_id`) with
 *   more than one live contract in billing: the deal is billed more than once, whoever made the
 *   second (a run before the exactly-once check, a hand-made subscription). The contract the CRM
 *   links is kept (else the oldest); each other one is reported, and its repair cancels it, voids
 *   its invoices and removes their ERP postings.
 * - ORPHANED_INVOICE: an invoice left behind by a cancelled order: a draft on an ended contract
 *   (Stripe finalizes an auto-advancing draft about an hour after creation, so it would bill), or
 *   an open invoice of an order contract that ended within a day of starting (an order cancelled,
 *   not a customer who churned after months of service). Its repair voids it and removes its ERP
 *   posting.
 */
import type { BillingContract } from '../../../core/canonical';
import { repair, type DriftFinding, type DriftValue } from './drift';
import type { Snapshot } from './snapshot';

const DAY_MS = 86_400_000;
const ended = (c: BillingContract) => c.status === 'CANCELED' || c.status === 'ENDED';
const value = (system: DriftValue['system'], field: string, v: string | null): DriftValue => ({ system, field, value: v });

/** An order contract cancelled within a day of its start: the order was cancelled, not served. */
function cancelledOrder(c: BillingContract): boolean {
  if (!ended(c) || !c.opportunityId || !c.startDate || !c.endDate) return false;
  return Date.parse(c.endDate) - Date.parse(c.startDate) < DAY_MS;
}

export function compareFulfilment(snapshot: Snapshot): DriftFinding[] {
  const findings: DriftFinding[] = [];
  const crmLinked = new Set(snapshot.crmContracts.map((c) => c.billingSubscriptionId).filter((id): id is string => !!id));

  const byOpportunity = new Map<string, BillingContract[]>();
  for (const contract of snapshot.billingContracts) {
    if (!contract.opportunityId || ended(contract)) continue;
    const list = byOpportunity.get(contract.opportunityId) ?? [];
    list.push(contract);
    byOpportunity.set(contract.opportunityId, list);
  }
  for (const [opportunityId, contracts] of byOpportunity) {
    if (contracts.length < 2) continue;
    const oldestFirst = [...contracts].sort((a, b) => (a.startDate ?? '').localeCompare(b.startDate ?? '') || a.id.localeCompare(b.id));
    const kept = oldestFirst.find((c) => crmLinked.has(c.id)) ?? oldestFirst[0];
    for (const extra of oldestFirst.filter((c) => c !== kept)) {
      findings.push({
        kind: 'DUPLICATE_FULFILMENT',
        system: 'BILLING',
        subjectType: 'CONTRACT',
        subjectId: extra.id,
        detail: `opportunity ${opportunityId} is billed by ${contracts.length} live contracts: ${extra.id} duplicates ${kept.id}`,
        values: [
          value('CRM', 'opportunity', opportunityId),
          value('BILLING', 'kept', `${kept.id} ${kept.status}`),
          value('BILLING', 'duplicate', `${extra.id} ${extra.status}`),
        ],
        customerId: extra.customerId || kept.customerId || null,
        contractId: extra.id,
        invoiceId: null,
        crmRecordId: null,
        remedy: repair('CANCEL_DUPLICATE_CONTRACT'),
      });
    }
  }

  const contracts = new Map(snapshot.billingContracts.map((c) => [c.id, c]));
  for (const invoice of snapshot.billingInvoices) {
    const contract = invoice.contractId ? contracts.get(invoice.contractId) : undefined;
    if (!contract) continue;
    const leftDraft = invoice.status === 'DRAFT' && ended(contract);
    const leftOpen = invoice.status === 'OPEN' && cancelledOrder(contract);
    if (!leftDraft && !leftOpen) continue;
    findings.push({
      kind: 'ORPHANED_INVOICE',
      system: 'BILLING',
      subjectType: 'INVOICE',
      subjectId: invoice.id,
      detail: `invoice ${invoice.number ?? invoice.id} is ${invoice.status.toLowerCase()} on contract ${contract.id}, which was ${contract.status.toLowerCase()}${contract.opportunityId ? ` (order ${contract.opportunityId})` : ''}`,
      values: [
        value('BILLING', 'invoice', `${invoice.id} ${invoice.status}`),
        value('BILLING', 'total', `${invoice.total.amount} ${invoice.total.currency}`),
        value('BILLING', 'contract', `${contract.id} ${contract.status}`),
      ],
      customerId: invoice.customerId || contract.customerId || null,
      contractId: contract.id,
      invoiceId: invoice.id,
      crmRecordId: null,
      remedy: repair('VOID_ORPHANED_INVOICE'),
    });
  }
  return findings;
}
