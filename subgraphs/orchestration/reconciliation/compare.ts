/**
 * The comparison: a snapshot of the three systems in, drifts out. Pure and linear (every record is
 * indexed once, then looked up), so it runs the same on 50 customers and 10,000.
 *
 * What must agree, and who is right (the system of record, docs/governance.md):
 * - Customers: a customer any system beyond the CRM knows (or that the CRM links to one) is in all
 *   three. A CRM account nothing else knows is a prospect, not drift. A billing or ERP customer
 *   whose canonical id has no CRM account is MISSING_IN_CRM, or a DUPLICATE_CUSTOMER of the account
 *   it resembles. Two CRM accounts (or an unlinked record and an account) that are likely one
 *   company are DUPLICATE_CUSTOMER; so are two billing customers linked to one canonical id.
 *   The CRM account's status shows the ERP's credit hold ('Credit Hold' when on hold).
 * - Contracts: a CRM contract's subscription exists in billing (billing owns contracts) and the CRM
 *   shows its state: Draft while billing's is a draft, an end date once billing's ended or was
 *   canceled, no past end date while billing's runs.
 * - Invoices: a finalized billing invoice (open, paid or uncollectible) that asks for money is
 *   posted to the ERP with the same total, as an invoice, or as a credit memo when it credits; paid
 *   in billing is paid in the ERP and the other way round. Drafts, zero invoices and invoices
 *   voided before posting are legitimately not posted; a voided one must not stay posted; one
 *   finalized minutes ago is still being posted (a grace period). An ERP posting of a billing
 *   invoice that does not exist is MISSING_IN_BILLING.
 * - Fulfilments: one live contract per deal, and nothing billing for a cancelled order
 *   (compare-fulfilment.ts: DUPLICATE_FULFILMENT, ORPHANED_INVOICE).
 */
import type { Money, SystemName } from '../../../core/canonical';
import { toMinorUnits } from '../../../core/money';
import { crmStatusFor } from '../customer-sync-steps';
import { findDuplicateGroups, type Party } from '../matching';
import { compareFulfilment } from './compare-fulfilment';
import { human, repair, type DriftFinding, type DriftValue } from './drift';
import type { Snapshot } from './snapshot';

export interface Comparison {
  findings: DriftFinding[];
  /** Records compared: customers, contracts and invoices. */
  counts: { customers: number; contracts: number; invoices: number };
}

const money = (m: Money | null | undefined): string | null => (m ? `${m.amount} ${m.currency}` : null);
const minor = (m: Money) => toMinorUnits(m.amount, m.currency);
const value = (system: SystemName, field: string, v: string | number | boolean | null | undefined): DriftValue => ({
  system,
  field,
  value: v === null || v === undefined ? null : String(v),
});

function groupBy<T>(items: readonly T[], key: (item: T) => string | null | undefined): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (!k) continue;
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

export interface CompareOptions {
  /** Today, YYYY-MM-DD (which period a late posting would go to). */
  today: string;
  /** Now, in ms; with `graceMs`, what counts as in flight. Default: the clock. */
  now?: number;
  /**
   * An invoice finalized less than this long ago is not reported as not posted: its order-to-cash
   * run is most likely posting it right now. Default 15 minutes.
   */
  graceMs?: number;
}

export function compareSystems(snapshot: Snapshot, options: CompareOptions): Comparison {
  const { now = Date.now(), graceMs = 15 * 60_000 } = options;
  const findings: DriftFinding[] = [];
  const closed = new Set(snapshot.closedPeriods);
  const todayClosed = closed.has(options.today.slice(0, 7));
  const accounts = new Map(snapshot.crmAccounts.map((a) => [a.id, a]));
  // A record is the customer its own link names, or, failing that, the one whose CRM account links to it.
  const billingLinkedBy = new Map(snapshot.crmAccounts.filter((a) => a.billingCustomerId).map((a) => [a.billingCustomerId!, a.id]));
  const erpLinkedBy = new Map(snapshot.crmAccounts.filter((a) => a.erpCustomerId).map((a) => [a.erpCustomerId!, a.id]));
  const billingCustomers = snapshot.billingCustomers.map((c) => (c.customerId ? c : { ...c, customerId: billingLinkedBy.get(c.id) ?? '' }));
  const erpCustomers = snapshot.erpCustomers.map((e) => (e.customerId ? e : { ...e, customerId: erpLinkedBy.get(e.internalId) ?? '' }));
  const billingById = new Map(billingCustomers.map((c) => [c.id, c]));
  const billingByCustomer = groupBy(billingCustomers, (c) => c.customerId || null);
  const erpByCustomer = new Map(erpCustomers.filter((e) => e.customerId).map((e) => [e.customerId, e]));
  const erpByInternal = new Map(erpCustomers.map((e) => [e.internalId, e]));

  // ------------------------------------------------------------------------------- customers
  for (const account of snapshot.crmAccounts) {
    const billing = billingByCustomer.get(account.id) ?? [];
    const erp = erpByCustomer.get(account.id);
    const known = !!account.billingCustomerId || !!account.erpCustomerId || billing.length > 0 || !!erp;
    const base = { subjectType: 'CUSTOMER' as const, subjectId: account.id, customerId: account.id, contractId: null, invoiceId: null, crmRecordId: null };
    if (known && billing.length === 0) {
      findings.push({
        ...base,
        kind: 'MISSING_IN_BILLING',
        system: 'BILLING',
        detail: `${account.name} is in the CRM${erp ? ' and the ERP' : ''} but has no billing customer`,
        values: [value('CRM', 'account', `${account.id} ${account.name}`), value('CRM', 'billingLink', account.billingCustomerId), value('ERP', 'customer', erp ? `${erp.customerNumber} ${erp.companyName}` : null), value('BILLING', 'customer', null)],
        remedy: repair('CREATE_BILLING_CUSTOMER'),
      });
    }
    if (known && !erp) {
      findings.push({
        ...base,
        kind: 'MISSING_IN_ERP',
        system: 'ERP',
        detail: `${account.name} is in the CRM${billing.length ? ' and billing' : ''} but has no ERP customer record`,
        values: [value('CRM', 'account', `${account.id} ${account.name}`), value('CRM', 'erpLink', account.erpCustomerId), value('BILLING', 'customer', billing[0]?.id ?? null), value('ERP', 'customer', null)],
        remedy: repair('CREATE_ERP_CUSTOMER'),
      });
    }
    if (billing.length > 1) {
      findings.push({
        ...base,
        kind: 'DUPLICATE_CUSTOMER',
        system: 'BILLING',
        detail: `${account.name} has ${billing.length} billing customers`,
        values: billing.map((b) => value('BILLING', 'customer', `${b.id} ${b.name ?? ''}`.trim())),
        remedy: human('Merge the billing customers into one (move subscriptions and invoices to the oldest), then reconcile again'),
      });
    }
    if (erp && (account.status === 'Credit Hold') !== erp.creditHold) {
      findings.push({
        ...base,
        kind: 'STATUS_MISMATCH',
        system: 'CRM',
        detail: `${account.name}: the CRM shows ${account.status ?? 'no status'}, the ERP credit hold is ${erp.creditHold ? 'on' : 'off'}`,
        values: [value('CRM', 'status', account.status), value('ERP', 'creditHold', erp.creditHold), value('CRM', 'expectedStatus', crmStatusFor(erp.creditHold))],
        remedy: repair('ALIGN_CRM_ACCOUNT_STATUS'),
      });
    }
  }

  // Billing and ERP customers the CRM does not know: duplicates of an account, or missing there.
  const orphans: Party[] = [
    ...billingCustomers
      .filter((c) => !c.customerId || !accounts.has(c.customerId))
      .map((c): Party => ({ system: 'BILLING', id: c.id, customerId: c.customerId || null, name: c.name, domain: c.email, taxRegistration: null })),
    ...erpCustomers
      .filter((e) => !e.customerId || !accounts.has(e.customerId))
      .map((e): Party => ({ system: 'ERP', id: e.internalId, customerId: e.customerId || null, name: e.companyName, domain: e.email, taxRegistration: e.taxRegistration })),
  ];
  const parties: Party[] = [
    ...snapshot.crmAccounts.map((a): Party => ({
      system: 'CRM',
      id: a.id,
      customerId: a.id,
      name: a.name,
      domain: a.domain,
      taxRegistration: erpByCustomer.get(a.id)?.taxRegistration ?? null,
      parentId: a.parentId,
    })),
    ...orphans,
  ];
  const grouped = new Set<string>();
  // Records of one customer (one canonical id) are that customer, not duplicates of each other.
  const groups = findDuplicateGroups(parties, { ignore: (a, b) => !!a.customerId && a.customerId === b.customerId });
  for (const group of groups) {
    for (const m of group.members) grouped.add(`${m.system}:${m.id}`);
    const lead = group.members.find((m) => m.system === 'CRM') ?? group.members[0];
    findings.push({
      kind: 'DUPLICATE_CUSTOMER',
      system: lead.system,
      subjectType: 'CUSTOMER',
      subjectId: lead.customerId ?? lead.id,
      detail: `${group.members.length} records look like one company (${group.reasons.map((r) => r.toLowerCase().replace(/_/g, ' ')).join(', ')})`,
      values: group.members.map((m) => value(m.system, 'customer', `${m.id} ${m.name ?? ''}`.trim())),
      customerId: lead.system === 'CRM' ? lead.id : lead.customerId,
      contractId: null,
      invoiceId: null,
      crmRecordId: null,
      remedy: human('Decide whether these records are one company; if so merge them in the CRM (the system of record) and relink billing and the ERP'),
    });
  }
  for (const orphan of orphans) {
    if (grouped.has(`${orphan.system}:${orphan.id}`)) continue;
    findings.push({
      kind: 'MISSING_IN_CRM',
      system: 'CRM',
      subjectType: 'CUSTOMER',
      subjectId: orphan.customerId ?? orphan.id,
      detail: `${orphan.system === 'BILLING' ? 'billing' : 'ERP'} customer ${orphan.id} (${orphan.name ?? 'no name'}) has no CRM account${orphan.customerId ? ` (its link ${orphan.customerId} leads nowhere)` : ''}`,
      values: [value(orphan.system, 'customer', `${orphan.id} ${orphan.name ?? ''}`.trim()), value(orphan.system, 'link', orphan.customerId), value('CRM', 'account', null)],
      customerId: orphan.customerId,
      contractId: null,
      invoiceId: null,
      crmRecordId: null,
      remedy: human('Create or find the customer in the CRM (the system of record for identity) and link this record to it, or remove the record'),
    });
  }

  // ------------------------------------------------------------------------------- contracts
  const contracts = new Map(snapshot.billingContracts.map((c) => [c.id, c]));
  const canonicalOf = (billingCustomerId: string, linked: string) => linked || billingById.get(billingCustomerId)?.customerId || null;
  for (const crm of snapshot.crmContracts) {
    if (!crm.billingSubscriptionId) continue;
    const billing = contracts.get(crm.billingSubscriptionId);
    const base = { subjectType: 'CONTRACT' as const, subjectId: crm.billingSubscriptionId, customerId: crm.accountId, contractId: crm.billingSubscriptionId, invoiceId: null, crmRecordId: crm.id };
    if (!billing) {
      findings.push({
        ...base,
        kind: 'MISSING_IN_BILLING',
        system: 'BILLING',
        detail: `CRM contract ${crm.id} names subscription ${crm.billingSubscriptionId}, which billing does not have`,
        values: [value('CRM', 'contract', `${crm.id} ${crm.status}`), value('BILLING', 'subscription', null)],
        contractId: null,
        remedy: human('Find what became of the subscription: recreate it through an order, or end the CRM contract'),
      });
      continue;
    }
    const crmEnded = crm.endDate !== null && crm.endDate.slice(0, 10) <= options.today;
    const billingEnded = billing.status === 'CANCELED' || billing.status === 'ENDED';
    const draftDiffers = (crm.status === 'Draft') !== (billing.status === 'DRAFT');
    const endDiffers = billingEnded ? crm.endDate === null : crmEnded;
    if (draftDiffers || endDiffers) {
      findings.push({
        ...base,
        kind: 'STATUS_MISMATCH',
        system: 'CRM',
        customerId: canonicalOf(billing.billingCustomerId, billing.customerId) ?? crm.accountId,
        detail: `contract ${billing.id}: billing says ${billing.status}${billing.endDate ? ` (ends ${billing.endDate.slice(0, 10)})` : ''}, the CRM shows ${crm.status}${crm.endDate ? ` ending ${crm.endDate.slice(0, 10)}` : ' without an end'}`,
        values: [value('BILLING', 'status', billing.status), value('BILLING', 'endDate', billing.endDate), value('CRM', 'status', crm.status), value('CRM', 'endDate', crm.endDate)],
        remedy: repair('ALIGN_CRM_CONTRACT'),
      });
    }
  }

  // ------------------------------------------------------------------------------- invoices
  const erpByInvoice = groupBy(snapshot.erpTransactions, (t) => t.invoiceId);
  const invoices = new Map(snapshot.billingInvoices.map((i) => [i.id, i]));
  for (const invoice of snapshot.billingInvoices) {
    const customerId = canonicalOf(invoice.billingCustomerId, invoice.customerId);
    const posted = (erpByInvoice.get(invoice.id) ?? []).filter((t) => t.status !== 'VOIDED');
    const voidedInErp = (erpByInvoice.get(invoice.id) ?? []).some((t) => t.status === 'VOIDED');
    const total = minor(invoice.total);
    const base = { subjectType: 'INVOICE' as const, subjectId: invoice.id, customerId, contractId: invoice.contractId, invoiceId: invoice.id, crmRecordId: null };
    const billingSide = [value('BILLING', 'status', invoice.status), value('BILLING', 'total', money(invoice.total))];
    const finalized = invoice.status === 'OPEN' || invoice.status === 'PAID' || invoice.status === 'UNCOLLECTIBLE';
    if (finalized && total !== 0) {
      const doc = posted[0];
      const inFlight = invoice.issuedAt !== null && now - Date.parse(invoice.issuedAt) < graceMs;
      if (!doc && inFlight && !voidedInErp) continue;
      if (!doc) {
        findings.push({
          ...base,
          kind: 'INVOICE_NOT_POSTED',
          system: 'ERP',
          detail: `billing invoice ${invoice.number ?? invoice.id} (${invoice.status}, ${money(invoice.total)}) is not posted to the ERP${voidedInErp ? ' (its ERP document is voided)' : ''}`,
          values: [...billingSide, value('ERP', 'posting', voidedInErp ? 'VOIDED' : null)],
          remedy: voidedInErp
            ? human('The ERP document was voided while billing still asks for the money: void the billing invoice or post it again by hand')
            : todayClosed
              ? human(`The ERP period ${options.today.slice(0, 7)} is closed: post the invoice once a period is open`)
              : repair('POST_INVOICE'),
        });
        continue;
      }
      const expectedType = total > 0 ? 'INVOICE' : 'CREDIT_MEMO';
      if (doc.type !== expectedType || minor(doc.total) !== Math.abs(total)) {
        const periodClosed = doc.period !== null && closed.has(doc.period);
        findings.push({
          ...base,
          kind: 'AMOUNT_MISMATCH',
          system: 'ERP',
          detail: `invoice ${invoice.number ?? invoice.id}: billing total ${money(invoice.total)}, ERP ${doc.type === 'CREDIT_MEMO' ? 'credit memo' : 'invoice'} ${doc.documentNumber ?? doc.internalId} ${money(doc.total)}`,
          values: [...billingSide, value('ERP', 'document', `${doc.type} ${doc.documentNumber ?? doc.internalId}`), value('ERP', 'total', money(doc.total)), value('ERP', 'period', doc.period)],
          remedy: periodClosed
            ? human(`The ERP posting is in the closed period ${doc.period}: post an adjustment (a credit memo or an additional invoice) in an open period`)
            : doc.type !== expectedType
              ? human('The ERP holds the wrong kind of document for this invoice: reverse it and post the right one')
              : repair('POST_INVOICE'),
        });
        continue;
      }
      if (doc.type === 'INVOICE' && (invoice.status === 'PAID') !== (doc.status === 'PAID')) {
        findings.push({
          ...base,
          kind: 'STATUS_MISMATCH',
          system: 'ERP',
          detail: `invoice ${invoice.number ?? invoice.id} is ${invoice.status.toLowerCase()} in billing but ${doc.status === 'PAID' ? 'paid' : 'open'} in the ERP`,
          values: [...billingSide, value('ERP', 'status', doc.status), value('ERP', 'amountRemaining', money(doc.amountRemaining))],
          remedy: human(invoice.status === 'PAID' ? 'Apply the customer payment to the invoice in the ERP' : 'Find the payment the ERP recorded and record it in billing, or reverse it in the ERP'),
        });
      }
    } else if ((invoice.status === 'VOID' || invoice.status === 'DRAFT') && posted.length > 0) {
      const doc = posted[0];
      const periodClosed = doc.period !== null && closed.has(doc.period);
      findings.push({
        ...base,
        kind: 'STATUS_MISMATCH',
        system: 'ERP',
        detail: `billing invoice ${invoice.number ?? invoice.id} is ${invoice.status.toLowerCase()} but still posted in the ERP as ${doc.documentNumber ?? doc.internalId}`,
        values: [...billingSide, value('ERP', 'document', `${doc.type} ${doc.documentNumber ?? doc.internalId}`), value('ERP', 'total', money(doc.total)), value('ERP', 'period', doc.period)],
        remedy: periodClosed || doc.type !== 'INVOICE'
          ? human(`The posting is ${periodClosed ? `in the closed period ${doc.period}` : 'a credit memo'}: reverse it with a credit memo (or a reversing entry) in an open period`)
          : repair('REVERSE_POSTING'),
      });
    }
  }
  for (const [invoiceId, docs] of erpByInvoice) {
    if (invoices.has(invoiceId)) continue;
    const live = docs.filter((d) => d.status !== 'VOIDED');
    if (live.length === 0) continue;
    const doc = live[0];
    const owner = erpByInternal.get(doc.customerInternalId);
    findings.push({
      kind: 'MISSING_IN_BILLING',
      system: 'BILLING',
      subjectType: 'INVOICE',
      subjectId: invoiceId,
      detail: `the ERP posts ${doc.type === 'CREDIT_MEMO' ? 'credit memo' : 'invoice'} ${doc.documentNumber ?? doc.internalId} (${money(doc.total)}) for billing invoice ${invoiceId}, which billing does not have`,
      values: [value('ERP', 'document', `${doc.type} ${doc.documentNumber ?? doc.internalId}`), value('ERP', 'total', money(doc.total)), value('BILLING', 'invoice', null)],
      customerId: owner?.customerId || null,
      contractId: null,
      invoiceId,
      crmRecordId: null,
      remedy: human('Find the billing invoice this posting was for; if there is none, reverse the ERP posting'),
    });
  }

  findings.push(...compareFulfilment(snapshot));

  const customerIds = new Set<string>([...accounts.keys(), ...billingByCustomer.keys(), ...erpByCustomer.keys()]);
  return {
    findings,
    counts: { customers: customerIds.size + orphans.filter((o) => !o.customerId).length, contracts: snapshot.billingContracts.length, invoices: snapshot.billingInvoices.length },
  };
}

