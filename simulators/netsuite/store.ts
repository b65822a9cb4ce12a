/**
 * The NetSuite simulator's records and the invariants NetSuite keeps on them: internal ids,
 * unique external ids, derived amounts (invoice amount remaining, customer balance), accounting
 * periods and the rule that nothing is written into a closed one. Amounts are held in integer
 * cents here; the wire speaks decimal dollars (see records.ts).
 *
 * Inputs arrive already parsed (records.ts resolves references and types); every refusal is a
 * RecordError thrown before anything changes, so a rejected request never half-writes.
 */
import { MESSAGES, RecordError, notFoundError, userError } from './errors';

export type CreditHold = 'AUTO' | 'ON' | 'OFF';

export interface CustomerRec {
  id: number;
  entityId: string;
  companyName: string;
  externalId: string | null;
  email: string | null;
  /** Cents, or null for no limit. */
  creditLimit: number | null;
  creditHoldOverride: CreditHold;
  vatRegNumber: string | null;
  correlationId: string | null;
  dateCreated: string;
  lastModifiedDate: string;
}

export interface InvoiceLineRec {
  line: number;
  itemId: string;
  description: string | null;
  quantity: number;
  /** Cents per unit (may be fractional when derived from amount / quantity). */
  rate: number;
  amount: number;
}

export interface InvoiceRec {
  id: number;
  tranId: string;
  externalId: string | null;
  entity: number;
  tranDate: string;
  /** Posting period YYYY-MM. */
  period: string;
  memo: string | null;
  correlationId: string | null;
  lines: InvoiceLineRec[];
  taxTotal: number;
  voided: boolean;
  dateCreated: string;
  lastModifiedDate: string;
}

export interface PaymentRec {
  id: number;
  tranId: string;
  externalId: string | null;
  customer: number;
  tranDate: string;
  period: string;
  payment: number;
  memo: string | null;
  applies: { doc: number; amount: number }[];
  dateCreated: string;
  lastModifiedDate: string;
}

/** Parsed write inputs (undefined = leave as is). */
export type CustomerInput = Partial<Omit<CustomerRec, 'id' | 'dateCreated' | 'lastModifiedDate'>>;
export interface InvoiceInput extends Partial<Omit<InvoiceRec, 'id' | 'lines' | 'voided' | 'dateCreated' | 'lastModifiedDate'>> {
  lines?: { line?: number; itemId: string; description: string | null; quantity: number; rate?: number; amount?: number }[];
  /** Replace the item sublist instead of merging lines by line number (`?replace=item`). */
  replaceLines?: boolean;
}
export type PaymentInput = Partial<Omit<PaymentRec, 'id' | 'dateCreated' | 'lastModifiedDate'>>;

/**
 * Record types served. A credit memo (`creditMemo`, SuiteQL type `CustCred`) has an invoice's shape
 * (customer, date, item lines, tax); it credits the customer and is never applied here.
 */
export const RECORD_TYPES = ['customer', 'invoice', 'customerPayment', 'creditMemo'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Records to start with (see seed-records.ts). */
export interface InitialRecords {
  customers: CustomerRec[];
  invoices: InvoiceRec[];
  payments: PaymentRec[];
  creditMemos?: InvoiceRec[];
}

export function createNetSuiteStore(initial: InitialRecords, initiallyClosed: readonly string[] = []) {
  const customers = new Map<number, CustomerRec>();
  const invoices = new Map<number, InvoiceRec>();
  const payments = new Map<number, PaymentRec>();
  const creditMemos = new Map<number, InvoiceRec>();
  const closed = new Set<string>(initiallyClosed);
  for (const c of initial.customers) customers.set(c.id, c);
  for (const inv of initial.invoices) invoices.set(inv.id, inv);
  for (const p of initial.payments) payments.set(p.id, p);
  for (const cm of initial.creditMemos ?? []) creditMemos.set(cm.id, cm);
  // Internal ids continue after the highest held; transactions share one sequence, as in NetSuite.
  // (A loop, not Math.max(...spread): spreading 35,000 ids overflows the call stack.)
  const highest = (ids: Iterable<number>, floor: number) => {
    let max = floor;
    for (const id of ids) if (id + 1 > max) max = id + 1;
    return max;
  };
  let nextCustomerId = highest(customers.keys(), 1000);
  let nextTransactionId = highest([...invoices.keys(), ...payments.keys(), ...creditMemos.keys()], 5000);
  let nextEntityNumber = 1 + [...customers.values()].reduce((max, c) => Math.max(max, Number(/(\d+)$/.exec(c.entityId)?.[1] ?? 0)), 0);

  // ------------------------------------------------------------ derived values

  const subtotal = (inv: InvoiceRec) => inv.lines.reduce((sum, l) => sum + l.amount, 0);
  const total = (inv: InvoiceRec) => subtotal(inv) + inv.taxTotal;
  function applied(invoiceId: number, exceptPayment?: number): number {
    let sum = 0;
    for (const p of payments.values()) {
      if (p.id === exceptPayment) continue;
      for (const a of p.applies) if (a.doc === invoiceId) sum += a.amount;
    }
    return sum;
  }
  const remaining = (inv: InvoiceRec) => (inv.voided ? 0 : total(inv) - applied(inv.id));
  /** Amount applied per invoice, in one pass over the payments (for reads of many invoices). */
  function appliedByInvoice(): Map<number, number> {
    const sums = new Map<number, number>();
    for (const p of payments.values()) for (const a of p.applies) sums.set(a.doc, (sums.get(a.doc) ?? 0) + a.amount);
    return sums;
  }
  /** Every customer's balance in one pass (open invoices less unapplied credit memos). */
  function balances(): Map<number, number> {
    const applied = appliedByInvoice();
    const sums = new Map<number, number>();
    for (const inv of invoices.values()) {
      if (!inv.voided) sums.set(inv.entity, (sums.get(inv.entity) ?? 0) + total(inv) - (applied.get(inv.id) ?? 0));
    }
    for (const cm of creditMemos.values()) sums.set(cm.entity, (sums.get(cm.entity) ?? 0) - total(cm));
    return sums;
  }
  function status(inv: InvoiceRec): 'Open' | 'Paid In Full' | 'Voided' {
    if (inv.voided) return 'Voided';
    return remaining(inv) <= 0 ? 'Paid In Full' : 'Open';
  }
  function balance(customerId: number): number {
    let sum = 0;
    for (const inv of invoices.values()) if (inv.entity === customerId) sum += remaining(inv);
    for (const cm of creditMemos.values()) if (cm.entity === customerId) sum -= total(cm);
    return sum;
  }

  // ------------------------------------------------------------ lookups

  function table(type: RecordType): Map<number, { id: number; externalId: string | null }> {
    switch (type) {
      case 'customer':
        return customers;
      case 'invoice':
        return invoices;
      case 'customerPayment':
        return payments;
      case 'creditMemo':
        return creditMemos;
    }
  }

  /** Internal id for a URL key: '1234' or 'eid:EXT'. Undefined when no such record. */
  function resolve(type: RecordType, key: string): number | undefined {
    const records = table(type);
    if (key.startsWith('eid:')) {
      const externalId = key.slice(4);
      for (const r of records.values()) if (r.externalId === externalId) return r.id;
      return undefined;
    }
    if (!/^\d+$/.test(key)) return undefined;
    return records.has(Number(key)) ? Number(key) : undefined;
  }

  function assertUniqueExternalId(type: RecordType, externalId: string | null | undefined, self?: number): void {
    if (!externalId) return;
    for (const r of table(type).values()) {
      if (r.externalId === externalId && r.id !== self) throw new RecordError(400, 'USER_ERROR', MESSAGES.duplicate, { errorPath: 'externalId' });
    }
  }

  /**
   * Refuse a change to a transaction in a closed period: creating, updating or deleting it. A
   * delete is refused with the same USER_ERROR and text as a write (we know of no distinct wording
   * NetSuite uses for deletion), but without the `tranDate` pointer: a DELETE has no body to point into.
   */
  function assertOpen(period: string, errorPath: 'tranDate' | null = 'tranDate'): void {
    if (closed.has(period)) throw new RecordError(400, 'USER_ERROR', MESSAGES.closedPeriod, errorPath ? { errorPath } : {});
  }

  const today = () => new Date().toISOString().slice(0, 10);

  // ------------------------------------------------------------ customers

  function createCustomer(input: CustomerInput): number {
    if (!input.companyName) throw userError('Please enter value(s) for: Company Name', 'companyName');
    assertUniqueExternalId('customer', input.externalId);
    const id = nextCustomerId++;
    const stamp = nowIso();
    customers.set(id, {
      id,
      entityId: input.entityId ?? `CUST-${String(nextEntityNumber++).padStart(5, '0')}`,
      companyName: input.companyName,
      externalId: input.externalId ?? null,
      email: input.email ?? null,
      creditLimit: input.creditLimit ?? null,
      creditHoldOverride: input.creditHoldOverride ?? 'AUTO',
      vatRegNumber: input.vatRegNumber ?? null,
      correlationId: input.correlationId ?? null,
      dateCreated: stamp,
      lastModifiedDate: stamp,
    });
    return id;
  }

  function updateCustomer(id: number, input: CustomerInput): void {
    const current = customers.get(id);
    if (!current) throw notFoundError();
    assertUniqueExternalId('customer', input.externalId, id);
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    customers.set(id, { ...current, ...defined, lastModifiedDate: nowIso() });
  }

  // ------------------------------------------------------------ invoices

  function buildLines(existing: InvoiceLineRec[], input: InvoiceInput): InvoiceLineRec[] {
    if (!input.lines) return existing;
    const lines = input.replaceLines ? [] : existing.map((l) => ({ ...l }));
    for (const [i, l] of input.lines.entries()) {
      const amount = l.amount ?? Math.round((l.rate ?? 0) * l.quantity);
      const next: InvoiceLineRec = {
        line: 0,
        itemId: l.itemId,
        description: l.description,
        quantity: l.quantity,
        rate: l.rate ?? (l.quantity === 0 ? amount : amount / l.quantity),
        amount,
      };
      if (!Number.isInteger(amount)) throw userError(`Invalid amount on line ${i + 1}.`, `item.items[${i}].amount`);
      const at = l.line === undefined ? -1 : lines.findIndex((x) => x.line === l.line);
      if (at >= 0) lines[at] = { ...next, line: lines[at].line };
      else lines.push({ ...next, line: Math.max(0, ...lines.map((x) => x.line)) + 1 });
    }
    return lines;
  }

  function createInvoice(input: InvoiceInput, into: Map<number, InvoiceRec> = invoices, prefix = 'INV', type: RecordType = 'invoice'): number {
    if (input.entity === undefined) throw userError('Please enter value(s) for: Customer', 'entity');
    const tranDate = input.tranDate ?? today();
    const period = input.period ?? tranDate.slice(0, 7);
    const lines = buildLines([], { ...input, replaceLines: true });
    if (lines.length === 0) throw userError('You must enter at least one line item for this transaction.', 'item');
    assertOpen(period);
    assertUniqueExternalId(type, input.externalId);
    const id = nextTransactionId++;
    const stamp = nowIso();
    into.set(id, {
      id,
      tranId: input.tranId ?? `${prefix}${String(id).padStart(6, '0')}`,
      externalId: input.externalId ?? null,
      entity: input.entity,
      tranDate,
      period,
      memo: input.memo ?? null,
      correlationId: input.correlationId ?? null,
      lines,
      taxTotal: input.taxTotal ?? 0,
      voided: false,
      dateCreated: stamp,
      lastModifiedDate: stamp,
    });
    return id;
  }

  function updateInvoice(id: number, input: InvoiceInput, from: Map<number, InvoiceRec> = invoices, type: RecordType = 'invoice'): void {
    const current = from.get(id);
    if (!current) throw notFoundError();
    const tranDate = input.tranDate ?? current.tranDate;
    const period = input.period ?? (input.tranDate ? input.tranDate.slice(0, 7) : current.period);
    // A transaction already in a closed period cannot change, nor can one move into it.
    assertOpen(current.period);
    assertOpen(period);
    assertUniqueExternalId(type, input.externalId, id);
    const lines = buildLines(current.lines, input);
    const { replaceLines: _replace, lines: _lines, ...fields } = input;
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    const next: InvoiceRec = { ...current, ...defined, tranDate, period, lines, lastModifiedDate: nowIso() };
    if (type === 'invoice' && total(next) < applied(id)) throw userError('The total cannot be less than the amount already paid.', 'item');
    from.set(id, next);
  }

  // ------------------------------------------------------------ customer payments

  function checkApplies(customer: number, applies: PaymentRec['applies'], paymentId?: number): void {
    for (const [i, a] of applies.entries()) {
      const inv = invoices.get(a.doc);
      if (!inv || inv.entity !== customer) {
        throw userError(`You have entered an Invalid Field Value ${a.doc} for the following field: doc`, `apply.items[${i}].doc`);
      }
      const open = total(inv) - applied(inv.id, paymentId);
      if (a.amount > open) throw userError('You cannot apply more than the amount due.', `apply.items[${i}].amount`);
    }
  }

  function createPayment(input: PaymentInput): number {
    if (input.customer === undefined) throw userError('Please enter value(s) for: Customer', 'customer');
    const tranDate = input.tranDate ?? today();
    const period = input.period ?? tranDate.slice(0, 7);
    const applies = input.applies ?? [];
    const payment = input.payment ?? applies.reduce((sum, a) => sum + a.amount, 0);
    if (applies.reduce((sum, a) => sum + a.amount, 0) > payment) throw userError('The total applied exceeds the payment amount.', 'payment');
    assertOpen(period);
    assertUniqueExternalId('customerPayment', input.externalId);
    checkApplies(input.customer, applies);
    const id = nextTransactionId++;
    const stamp = nowIso();
    payments.set(id, {
      id,
      tranId: input.tranId ?? `PYMT${String(id).padStart(6, '0')}`,
      externalId: input.externalId ?? null,
      customer: input.customer,
      tranDate,
      period,
      payment,
      memo: input.memo ?? null,
      applies,
      dateCreated: stamp,
      lastModifiedDate: stamp,
    });
    return id;
  }

  function updatePayment(id: number, input: PaymentInput): void {
    const current = payments.get(id);
    if (!current) throw notFoundError();
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const next: PaymentRec = { ...current, ...defined, lastModifiedDate: nowIso() };
    if (input.tranDate && !input.period) next.period = input.tranDate.slice(0, 7);
    assertOpen(current.period);
    assertOpen(next.period);
    assertUniqueExternalId('customerPayment', input.externalId, id);
    checkApplies(next.customer, next.applies, id);
    if (next.applies.reduce((sum, a) => sum + a.amount, 0) > next.payment) throw userError('The total applied exceeds the payment amount.', 'payment');
    payments.set(id, next);
  }

  // ------------------------------------------------------------ generic operations

  /** Bumped by every change, so that derived views (SuiteQL tables) can be cached between changes. */
  let version = 0;

  function create(type: RecordType, input: CustomerInput | InvoiceInput | PaymentInput): number {
    version += 1;
    if (type === 'customer') return createCustomer(input as CustomerInput);
    if (type === 'invoice') return createInvoice(input as InvoiceInput);
    if (type === 'creditMemo') return createInvoice(input as InvoiceInput, creditMemos, 'CM', 'creditMemo');
    return createPayment(input as PaymentInput);
  }

  function update(type: RecordType, id: number, input: CustomerInput | InvoiceInput | PaymentInput): void {
    version += 1;
    if (type === 'customer') updateCustomer(id, input as CustomerInput);
    else if (type === 'invoice') updateInvoice(id, input as InvoiceInput);
    else if (type === 'creditMemo') updateInvoice(id, input as InvoiceInput, creditMemos, 'creditMemo');
    else updatePayment(id, input as PaymentInput);
  }

  function remove(type: RecordType, id: number): void {
    version += 1;
    if (type === 'customer') {
      const used = [...invoices.values(), ...creditMemos.values(), ...payments.values()].some((t) => ('entity' in t ? t.entity : t.customer) === id);
      if (used) throw new RecordError(400, 'USER_ERROR', MESSAGES.dependents);
      customers.delete(id);
    } else if (type === 'invoice') {
      // A posted transaction in a closed period stays: NetSuite allows no change with GL impact
      // there, and removing the transaction is one (the ledger is corrected with a credit memo).
      const inv = invoices.get(id);
      if (!inv) throw notFoundError();
      assertOpen(inv.period, null);
      if (applied(id) > 0) throw new RecordError(400, 'USER_ERROR', MESSAGES.dependents);
      invoices.delete(id);
    } else if (type === 'creditMemo') {
      const cm = creditMemos.get(id);
      if (!cm) throw notFoundError();
      assertOpen(cm.period, null);
      creditMemos.delete(id);
    } else {
      const p = payments.get(id);
      if (!p) throw notFoundError();
      assertOpen(p.period, null);
      payments.delete(id);
    }
  }

  /** Months shown in the accountingperiod table: 2024..2028 plus any period in use or closed. */
  function periods(): string[] {
    const set = new Set<string>(closed);
    for (let year = 2024; year <= 2028; year++) for (let m = 1; m <= 12; m++) set.add(`${year}-${String(m).padStart(2, '0')}`);
    for (const t of [...invoices.values(), ...creditMemos.values(), ...payments.values()]) set.add(t.period);
    return [...set].sort();
  }

  return {
    customers,
    invoices,
    payments,
    creditMemos,
    resolve,
    create,
    update,
    remove,
    derived: { subtotal, total, remaining, status, balance, appliedByInvoice, balances },
    periods,
    closedPeriods: () => [...closed].sort(),
    version: () => version,
    setClosedPeriods(next: readonly string[]) {
      version += 1;
      closed.clear();
      for (const p of next) closed.add(p);
    },
    isClosed: (period: string) => closed.has(period),
  };
}

export type NetSuiteStore = ReturnType<typeof createNetSuiteStore>;
