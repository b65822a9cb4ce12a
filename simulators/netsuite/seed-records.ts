/**
 * The shared seed (simulators/common/seed.ts) as NetSuite holds it: customers keyed by their ERP
 * internal id with the CRM id as externalId, every posted invoice under its posting's internal id
 * and tranId (externalId = the Stripe invoice id), and a customer payment applying the full total
 * to each paid one. Amounts stay in cents; dates lose milliseconds as NetSuite's do.
 */
import type { Seed } from '../common/seed';
import type { InitialRecords } from './store';

export function recordsFromSeed(seed: Seed): InitialRecords {
  const customers: InitialRecords['customers'] = [];
  const invoices: InitialRecords['invoices'] = [];
  const payments: InitialRecords['payments'] = [];
  const itemByCode = new Map(seed.products.map((p) => [p.code, p.erpItemId]));
  for (const c of seed.customers) {
    customers.push({
      id: Number(c.erpId),
      entityId: c.customerNumber,
      companyName: c.name,
      externalId: c.crmId,
      email: c.email,
      creditLimit: c.creditLimit * 100,
      creditHoldOverride: c.creditHold ? 'ON' : 'AUTO',
      vatRegNumber: c.taxRegistration,
      correlationId: null,
      dateCreated: c.createdAt.replace(/\.\d{3}Z$/, 'Z'),
      lastModifiedDate: c.createdAt.replace(/\.\d{3}Z$/, 'Z'),
    });
  }
  for (const inv of seed.invoices) {
    const posting = inv.posting;
    if (!posting) continue;
    const customer = seed.customers[inv.customerIndex];
    const postedAt = posting.postedAt.replace(/\.\d{3}Z$/, 'Z');
    invoices.push({
      id: Number(posting.erpId),
      tranId: posting.tranId,
      externalId: inv.id,
      entity: Number(customer.erpId),
      tranDate: posting.postedAt.slice(0, 10),
      period: posting.period,
      memo: inv.number,
      correlationId: null,
      lines: inv.lines.map((l, i) => ({
        line: i + 1,
        itemId: itemByCode.get(l.productCode) ?? '500',
        description: l.description,
        quantity: l.quantity,
        rate: l.unitAmount,
        amount: l.amount,
      })),
      taxTotal: inv.tax,
      voided: false,
      dateCreated: postedAt,
      lastModifiedDate: postedAt,
    });
    if (posting.paymentErpId && inv.paidAt) {
      const paidAt = inv.paidAt.replace(/\.\d{3}Z$/, 'Z');
      payments.push({
        id: Number(posting.paymentErpId),
        tranId: `PYMT${posting.paymentErpId.padStart(6, '0')}`,
        externalId: null,
        customer: Number(customer.erpId),
        tranDate: paidAt.slice(0, 10),
        period: paidAt.slice(0, 7),
        payment: inv.total,
        memo: null,
        applies: [{ doc: Number(posting.erpId), amount: inv.total }],
        dateCreated: paidAt,
        lastModifiedDate: paidAt,
      });
    }
  }
  return { customers, invoices, payments };
}
