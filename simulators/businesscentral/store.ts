/**
 * Business Central's records as the simulator holds them: customers, sales invoices and sales
 * credit memos (drafts and posted documents, with their lines) and the accounting periods. Amounts
 * are integer cents; the API's decimals are made at the edge (server.ts). Posting follows BC: a
 * draft gets a posted document number, its posting date must fall in an open period, and a posted
 * document is never edited or deleted again, only canceled (a corrective credit memo in BC).
 */
import type { Seed } from '../common/seed';
import { businessCentralSeed, concordCode, stableGuid } from './seed';

export interface BcCustomer {
  id: string;
  number: string;
  displayName: string;
  email: string;
  /** Cents. */
  creditLimit: number;
  blocked: ' ' | 'Ship' | 'Invoice' | 'All';
  taxRegistrationNumber: string;
  lastModifiedDateTime: string;
  version: number;
}

export interface BcLine {
  id: string;
  documentId: string;
  sequence: number;
  lineType: 'Comment' | 'Account' | 'Item' | 'Resource' | 'Fixed Asset' | 'Charge';
  lineObjectNumber: string;
  description: string;
  quantity: number;
  /** Decimal, as sent (BC keeps up to 5 decimals on unit prices). */
  unitPrice: number;
}

export type BcDocumentKind = 'salesInvoice' | 'salesCreditMemo';
export type BcStatus = 'Draft' | 'Open' | 'Paid' | 'Canceled';

export interface BcDocument {
  kind: BcDocumentKind;
  id: string;
  number: string;
  externalDocumentNumber: string;
  customerPurchaseOrderReference: string;
  documentDate: string;
  postingDate: string;
  dueDate: string;
  customerId: string;
  status: BcStatus;
  lines: BcLine[];
  /** Cents applied by payments. */
  paid: number;
  lastModifiedDateTime: string;
  version: number;
}

export class BcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Code fields: BC stores them upper-case and refuses them over their length. */
export function codeValue(value: unknown, field: string, max: number): string {
  const text = String(value ?? '');
  if (text.length > max) {
    throw new BcError(400, 'Application_StringExceededLength', `The length of the string is ${text.length}, but it must be less than or equal to ${max} characters. Value: ${text}`);
  }
  return text.toUpperCase();
}

export function textValue(value: unknown, max: number): string {
  const text = String(value ?? '');
  if (text.length > max) {
    throw new BcError(400, 'Application_StringExceededLength', `The length of the string is ${text.length}, but it must be less than or equal to ${max} characters. Value: ${text}`);
  }
  return text;
}

export const lineAmount = (line: Pick<BcLine, 'quantity' | 'unitPrice'>) => Math.round(line.quantity * line.unitPrice * 100);
export const documentTotal = (doc: BcDocument) => doc.lines.reduce((sum, line) => sum + lineAmount(line), 0);
export const remaining = (doc: BcDocument) => (doc.status === 'Open' || doc.status === 'Paid' ? Math.max(0, documentTotal(doc) - doc.paid) : doc.status === 'Draft' ? documentTotal(doc) : 0);

export interface BcStore {
  customers: Map<string, BcCustomer>;
  documents: Map<string, BcDocument>;
  closed: Set<string>;
  now(): string;
  nextNumber(kind: BcDocumentKind, posted: boolean): string;
  newId(kind: string): string;
  balanceDue(customerId: string): number;
  periods(): string[];
}

export function createBcStore(rawSeed: Seed, closedPeriods: string[]): BcStore {
  const seed = businessCentralSeed(rawSeed);
  const customers = new Map<string, BcCustomer>();
  const documents = new Map<string, BcDocument>();
  let idCounter = 0;
  const counters = { draftInvoice: 102000, postedInvoice: 103000, draftCredit: 104000, postedCredit: 105000 };

  for (const c of seed.customers) {
    customers.set(c.erpId, {
      id: c.erpId,
      number: c.customerNumber,
      displayName: c.name,
      email: c.email,
      creditLimit: c.creditLimit * 100,
      blocked: c.creditHold ? 'Ship' : ' ',
      taxRegistrationNumber: c.taxRegistration,
      lastModifiedDateTime: c.createdAt,
      version: 1,
    });
  }
  for (const inv of seed.invoices) {
    if (!inv.posting) continue;
    const customer = seed.customers[inv.customerIndex];
    const date = inv.posting.postedAt.slice(0, 10);
    const total = inv.total;
    const id = inv.posting.erpId;
    const lines: BcLine[] = inv.lines.map((l, i) => ({
      id: stableGuid('salesInvoiceLine', `${inv.id}:${i}`),
      documentId: id,
      sequence: (i + 1) * 10000,
      lineType: 'Account',
      lineObjectNumber: '40100',
      description: l.description,
      quantity: l.quantity,
      unitPrice: l.unitAmount / 100,
    }));
    if (inv.tax > 0) {
      lines.push({ id: stableGuid('salesInvoiceLine', `${inv.id}:tax`), documentId: id, sequence: (lines.length + 1) * 10000, lineType: 'Account', lineObjectNumber: '22300', description: 'Sales tax', quantity: 1, unitPrice: inv.tax / 100 });
    }
    const doc: BcDocument = {
      kind: 'salesInvoice',
      id,
      number: inv.posting.tranId,
      externalDocumentNumber: concordCode(inv.id),
      customerPurchaseOrderReference: '',
      documentDate: date,
      postingDate: date,
      dueDate: (inv.dueDate ?? inv.posting.postedAt).slice(0, 10),
      customerId: customer.erpId,
      status: 'Open',
      lines,
      paid: 0,
      lastModifiedDateTime: inv.posting.postedAt,
      version: 1,
    };
    // The seed's lines are rounded to cents; what was billed is the invoice's total.
    const drift = total - documentTotal(doc);
    if (drift !== 0) lines.push({ id: stableGuid('salesInvoiceLine', `${inv.id}:rounding`), documentId: id, sequence: (lines.length + 1) * 10000, lineType: 'Account', lineObjectNumber: '40100', description: 'Rounding', quantity: 1, unitPrice: drift / 100 });
    doc.paid = total - inv.amountRemaining;
    if (inv.status === 'paid') doc.paid = total;
    if (remaining(doc) === 0) doc.status = 'Paid';
    documents.set(id, doc);
  }

  const store: BcStore = {
    customers,
    documents,
    closed: new Set(closedPeriods),
    now: () => new Date().toISOString(),
    nextNumber(kind, posted) {
      if (kind === 'salesInvoice') return posted ? String(++counters.postedInvoice) : `S-INV${++counters.draftInvoice}`;
      return posted ? `PS-CR${++counters.postedCredit}` : `S-CR${++counters.draftCredit}`;
    },
    newId: (kind) => stableGuid(`new-${kind}`, `${process.pid}:${Date.now()}:${++idCounter}`),
    balanceDue(customerId) {
      let cents = 0;
      for (const doc of documents.values()) {
        if (doc.customerId !== customerId || (doc.status !== 'Open' && doc.status !== 'Paid')) continue;
        cents += doc.kind === 'salesInvoice' ? remaining(doc) : -remaining(doc);
      }
      return cents;
    },
    periods() {
      const all: string[] = [];
      for (let year = 2025; year <= 2028; year++) for (let m = 1; m <= 12; m++) all.push(`${year}-${String(m).padStart(2, '0')}`);
      return all;
    },
  };
  return store;
}
