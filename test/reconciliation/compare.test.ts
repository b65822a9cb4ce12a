/**
 * The comparison rules of reconciliation (reconciliation/compare.ts) on hand-made snapshots: what
 * is consistent (credit memos for credits, zero invoices, drafts and voids unposted, links through
 * the CRM), and the drifts the integration tests do not make (a posted draft, closed periods, a
 * customer twice in billing, contract states, the wrong kind of ERP document).
 */
import type { BillingContract, BillingCustomer, BillingInvoice, CrmAccount, CrmContract, ErpCustomerRecord, ErpTransaction, InvoiceStatus } from '../../core/canonical';
import { compareSystems } from '../../subgraphs/orchestration/reconciliation/compare';
import type { Snapshot } from '../../subgraphs/orchestration/reconciliation/snapshot';

const usd = (amount: string) => ({ amount, currency: 'USD' });
const TODAY = '2026-11-27';

const account = (id: string, name: string, extra: Partial<CrmAccount> = {}): CrmAccount => ({
  id,
  name,
  domain: `${name.toLowerCase().replace(/\W+/g, '-')}.example`,
  parentId: null,
  billingCustomerId: `cus_${id}`,
  erpCustomerId: `9${id}`,
  status: 'Active',
  ...extra,
});
const billingCustomer = (id: string, customerId: string, name: string): BillingCustomer => ({ id, customerId, name, email: null, currency: 'USD' });
const erpCustomer = (internalId: string, customerId: string, name: string, extra: Partial<ErpCustomerRecord> = {}): ErpCustomerRecord => ({
  internalId,
  customerId,
  customerNumber: `CUST-${internalId}`,
  companyName: name,
  creditLimit: null,
  creditHold: false,
  taxRegistration: null,
  arBalance: usd('0.00'),
  email: null,
  ...extra,
});
const invoice = (id: string, customerId: string, status: InvoiceStatus, total: string): BillingInvoice => ({
  id,
  number: `N-${id}`,
  customerId,
  billingCustomerId: `cus_${customerId}`,
  contractId: 'sub_1',
  status,
  subtotal: usd(total),
  tax: usd('0.00'),
  total: usd(total),
  amountDue: usd(total),
  billedAmountDue: usd(total),
  amountPaid: usd('0.00'),
  amountRemaining: usd(total),
  issuedAt: '2026-11-01T00:00:00.000Z',
  dueAt: null,
  lines: [],
});
const posting = (invoiceId: string, total: string, extra: Partial<ErpTransaction> = {}): ErpTransaction => ({
  internalId: `t-${invoiceId}`,
  invoiceId,
  type: 'INVOICE',
  customerInternalId: '9A',
  documentNumber: `INV-${invoiceId}`,
  date: '2026-11-01',
  period: '2026-11',
  total: usd(total),
  amountRemaining: usd(total),
  status: 'OPEN',
  ...extra,
});
const contract = (id: string, customerId: string, status: BillingContract['status'], endDate: string | null = null): BillingContract => ({
  id,
  customerId,
  billingCustomerId: `cus_${customerId}`,
  status,
  startDate: '2026-08-01T00:00:00.000Z',
  endDate,
  items: [],
  opportunityId: null,
});
const crmContract = (id: string, subscription: string, status: string, endDate: string | null = null): CrmContract => ({
  id,
  accountId: 'A',
  status,
  startDate: '2026-08-01T00:00:00.000Z',
  endDate,
  billingSubscriptionId: subscription,
});

/** One customer, consistent everywhere, with invoices in every state that needs no posting or has one. */
function consistent(): Snapshot {
  return {
    crmAccounts: [account('A', 'Alpha Industries'), account('P', 'Prospect Co', { billingCustomerId: null, erpCustomerId: null, status: null })],
    crmContracts: [crmContract('800A', 'sub_1', 'Activated'), crmContract('800B', 'sub_2', 'Activated', '2026-10-15T00:00:00.000Z'), crmContract('800C', 'sub_3', 'Draft')],
    billingCustomers: [billingCustomer('cus_A', 'A', 'Alpha Industries')],
    billingContracts: [contract('sub_1', 'A', 'ACTIVE'), contract('sub_2', 'A', 'CANCELED', '2026-10-15T00:00:00.000Z'), contract('sub_3', 'A', 'DRAFT')],
    billingInvoices: [
      invoice('in_open', 'A', 'OPEN', '100.00'),
      { ...invoice('in_paid', 'A', 'PAID', '200.00'), amountPaid: usd('200.00') },
      invoice('in_draft', 'A', 'DRAFT', '300.00'),
      invoice('in_void', 'A', 'VOID', '400.00'),
      invoice('in_zero', 'A', 'PAID', '0.00'),
      invoice('in_credit', 'A', 'PAID', '-12.50'),
      invoice('in_uncollectible', 'A', 'UNCOLLECTIBLE', '50.00'),
    ],
    erpCustomers: [erpCustomer('9A', 'A', 'Alpha Industries')],
    erpTransactions: [
      posting('in_open', '100.00'),
      posting('in_paid', '200.00', { status: 'PAID', amountRemaining: usd('0.00') }),
      posting('in_credit', '12.50', { type: 'CREDIT_MEMO' }),
      posting('in_uncollectible', '50.00'),
      // A document keyed by hand in the ERP is not Concord's business.
      posting('x', '1.00', { invoiceId: null }),
    ],
    closedPeriods: ['2026-09'],
    calls: { CRM: 0, BILLING: 0, ERP: 0 },
  };
}

const kinds = (snapshot: Snapshot) =>
  compareSystems(snapshot, { today: TODAY }).findings.map((f) => [f.kind, f.system, f.subjectId, f.remedy.action ?? 'HUMAN']);

describe('reconciliation rules', () => {
  test('a consistent snapshot has no drift: credits as credit memos, zero invoices, drafts and voids unposted, prospects alone', () => {
    expect(kinds(consistent())).toEqual([]);
    expect(compareSystems(consistent(), { today: TODAY }).counts).toEqual({ customers: 2, contracts: 3, invoices: 7 });
  });

  test('a record linked only from the CRM account is that customer, not an orphan', () => {
    const s = consistent();
    s.billingCustomers = [billingCustomer('cus_A', '', 'Alpha Industries')];
    s.erpCustomers = [erpCustomer('9A', '', 'Alpha Industries')];
    expect(kinds(s)).toEqual([]);
  });

  test('a posted draft or void must be reversed (by hand in a closed period); the wrong kind of document needs a person', () => {
    const s = consistent();
    s.erpTransactions.push(posting('in_draft', '300.00'), posting('in_void', '400.00', { period: '2026-09', date: '2026-09-01' }));
    s.erpTransactions = s.erpTransactions.map((t) => (t.invoiceId === 'in_open' ? { ...t, type: 'CREDIT_MEMO' } : t));
    expect(kinds(s)).toEqual([
      ['AMOUNT_MISMATCH', 'ERP', 'in_open', 'HUMAN'],
      ['STATUS_MISMATCH', 'ERP', 'in_draft', 'REVERSE_POSTING'],
      ['STATUS_MISMATCH', 'ERP', 'in_void', 'HUMAN'],
    ]);
  });

  test('closed periods turn repairs into work for a person', () => {
    const s = consistent();
    s.erpTransactions = s.erpTransactions.filter((t) => t.invoiceId !== 'in_open').map((t) => (t.invoiceId === 'in_paid' ? { ...t, total: usd('199.00'), period: '2026-09' } : t));
    expect(kinds(s)).toEqual([
      ['INVOICE_NOT_POSTED', 'ERP', 'in_open', 'POST_INVOICE'],
      ['AMOUNT_MISMATCH', 'ERP', 'in_paid', 'HUMAN'],
    ]);
    s.closedPeriods.push('2026-11');
    expect(kinds(s)[0]).toEqual(['INVOICE_NOT_POSTED', 'ERP', 'in_open', 'HUMAN']);
  });

  test('an invoice finalized minutes ago is still being posted (grace), one finalized an hour ago is drift', () => {
    const s = consistent();
    const now = Date.parse('2026-11-27T12:00:00.000Z');
    s.billingInvoices.push({ ...invoice('in_new', 'A', 'OPEN', '10.00'), issuedAt: '2026-11-27T11:58:00.000Z' });
    s.billingInvoices.push({ ...invoice('in_old', 'A', 'OPEN', '10.00'), issuedAt: '2026-11-27T11:00:00.000Z' });
    expect(compareSystems(s, { today: TODAY, now }).findings.map((f) => f.subjectId)).toEqual(['in_old']);
    expect(compareSystems(s, { today: TODAY, now, graceMs: 0 }).findings.map((f) => f.subjectId)).toEqual(['in_new', 'in_old']);
  });

  test('paid on one side only; voided in the ERP while billing still asks', () => {
    const s = consistent();
    s.erpTransactions = s.erpTransactions.map((t) => (t.invoiceId === 'in_paid' ? { ...t, status: 'OPEN' } : t.invoiceId === 'in_open' ? { ...t, status: 'VOIDED' } : t));
    expect(kinds(s)).toEqual([
      ['INVOICE_NOT_POSTED', 'ERP', 'in_open', 'HUMAN'],
      ['STATUS_MISMATCH', 'ERP', 'in_paid', 'HUMAN'],
    ]);
  });

  test('one customer twice in billing; an ERP customer that is a CRM account under another spelling', () => {
    const s = consistent();
    s.billingCustomers.push(billingCustomer('cus_A2', 'A', 'Alpha Industries'));
    s.erpCustomers.push(erpCustomer('977', '', 'ALPHA INDUSTRIES, INC.'));
    s.erpCustomers.push(erpCustomer('978', 'NOPE', 'Unrelated Freight'));
    expect(kinds(s)).toEqual([
      ['DUPLICATE_CUSTOMER', 'BILLING', 'A', 'HUMAN'],
      ['DUPLICATE_CUSTOMER', 'CRM', 'A', 'HUMAN'],
      ['MISSING_IN_CRM', 'CRM', 'NOPE', 'HUMAN'],
    ]);
  });

  test('contract states: a CRM draft of an active subscription, an end the CRM lacks, a subscription billing lacks', () => {
    const s = consistent();
    s.crmContracts = [crmContract('800A', 'sub_1', 'Draft'), crmContract('800B', 'sub_2', 'Activated'), crmContract('800C', 'sub_3', 'Draft'), crmContract('800D', 'sub_gone', 'Activated')];
    expect(kinds(s)).toEqual([
      ['STATUS_MISMATCH', 'CRM', 'sub_1', 'ALIGN_CRM_CONTRACT'],
      ['STATUS_MISMATCH', 'CRM', 'sub_2', 'ALIGN_CRM_CONTRACT'],
      ['MISSING_IN_BILLING', 'BILLING', 'sub_gone', 'HUMAN'],
    ]);
    // A scheduled end in the future is not an end.
    s.crmContracts = [crmContract('800A', 'sub_1', 'Activated', '2027-06-30T00:00:00.000Z')];
    expect(kinds(s)).toEqual([]);
  });

  test('a CRM account the other systems know, missing in one of them; credit hold shown in the CRM', () => {
    const s = consistent();
    s.billingCustomers = [];
    s.erpCustomers = [erpCustomer('9A', 'A', 'Alpha Industries', { creditHold: true })];
    expect(kinds(s)).toEqual([
      ['MISSING_IN_BILLING', 'BILLING', 'A', 'CREATE_BILLING_CUSTOMER'],
      ['STATUS_MISMATCH', 'CRM', 'A', 'ALIGN_CRM_ACCOUNT_STATUS'],
    ]);
  });
});
