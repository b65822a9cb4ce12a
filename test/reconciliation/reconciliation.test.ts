/**
 * Reconciliation and repair through the gateway, on both engines (embedded and Redis):
 *
 * - the consistent seed reconciles with no drift at all (no false positives: drafts and invoices
 *   voided before posting are legitimately not posted);
 * - drift of every kind, made the way it happens (someone edits a vendor directly, an ERP posting
 *   is deleted, a company is created twice), is found, each drift with the systems' values side by
 *   side, and announced as DRIFT_DETECTED;
 * - repairing every repairable drift makes the next reconciliation report it gone, and repairing
 *   again makes no second effect; a drift that needs a human says so.
 */
import { loadConfig } from '../../core/config';
import { buildSeed, salesforceId } from '../../simulators/common/seed';
import type { Ports } from '../../subgraphs/orchestration/steps';
import { createVendorPorts } from '../../system';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { mintToken } from '../../gateway/token';
import { TEST_JWT_SECRET, simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { OTHER_COMBINATIONS } from '../helpers/combinations';

const seed = buildSeed();
const MODES = [
  { mode: 'embedded', env: () => ({}) as Record<string, string> },
  { mode: 'redis', env: (prefix: string) => ({ REDIS_URL, CONCORD_REDIS_PREFIX: prefix }) },
];

const REPORT = `id status trigger checked counts { customers contracts invoices } vendorCalls { system calls } driftCount truncated
  drifts { id kind system subjectType subjectId detail values { system field value } repairable humanAction
           customer { id } contract { id } invoice { id } repair { status action humanAction run { id status } } }`;
const RUN = `mutation { runReconciliation { ${REPORT} } }`;
const REPAIR = `mutation($id: ID!) { repairDrift(driftId: $id) { id kind repairable humanAction repair { status action humanAction run { id kind status outcome steps { name system status } } } } }`;

const openInvoiceOf = (index: number) => seed.invoices.find((i) => i.customerIndex === index && i.status === 'open' && i.posting)!;
const usd = (amount: string) => ({ amount, currency: 'USD' });
const key = (d: { kind: string; system: string; subjectId: string }) => `${d.kind} ${d.system} ${d.subjectId}`;

describe.each(MODES)('reconciliation and repair ($mode)', ({ mode, env }) => {
  let system: TestSystem;
  let ports: Ports;
  const keys = testPrefix(`recon-${mode}`);
  /** What the deliberate drift should produce: kind, system, subject -> repairable. */
  const expected = new Map<string, boolean>();
  let firstReport: any;

  beforeAll(async () => {
    system = await startTestSystem({ env: { ...env(keys.prefix), CONCORD_MUTATION_WAIT_MS: '20000', CONCORD_O2C_LEASE_MS: '5000' } });
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), system.simulators);
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('finds no drift in the consistent seed, reading each vendor in a handful of bulk calls', async () => {
    const { body } = await system.gql(RUN);
    expect(body.errors).toBeUndefined();
    const report = body.data.runReconciliation;
    expect(report).toMatchObject({ status: 'COMPLETED', trigger: 'MANUAL', driftCount: 0, drifts: [], truncated: false });
    expect(report.counts).toEqual({ customers: seed.customers.length, contracts: seed.contracts.length, invoices: seed.invoices.length });
    expect(report.checked).toBe(seed.customers.length + seed.contracts.length + seed.invoices.length);
    const calls = Object.fromEntries(report.vendorCalls.map((c: any) => [c.system, c.calls]));
    // Accounts and contracts (one SOQL page each); customers, subscriptions, invoices (pages of 100);
    // customers, transactions and closed periods (SuiteQL).
    expect(calls).toEqual({ CRM: 2, BILLING: 1 + 1 + Math.ceil(seed.invoices.length / 100), ERP: 3 });
    const latest = await system.gql(`{ reconciliationReport { id status } }`);
    expect(latest.body.data.reconciliationReport).toEqual({ id: report.id, status: 'COMPLETED' });
  });

  it('finds deliberate drift of every kind, with the systems\' values side by side, and announces each', async () => {
    const correlation = { correlationId: 'drift-maker' };
    // A customer the CRM and the ERP have, billing not.
    const fabrikam = await ports.crm.upsertAccountByKey(`drift-mib-${mode}`, { name: 'Fabrikam Logistics', domain: 'fabrikam-logistics.example', parentId: null });
    await ports.erp.upsertCustomer({ customerId: fabrikam.id, companyName: 'Fabrikam Logistics' }, correlation);
    expected.set(`MISSING_IN_BILLING BILLING ${fabrikam.id}`, true);
    // One the CRM and billing have, the ERP not.
    const tailspin = await ports.crm.upsertAccountByKey(`drift-mie-${mode}`, { name: 'Tailspin Toys', domain: 'tailspin-toys.example', parentId: null });
    await ports.billing.upsertCustomer({ customerId: tailspin.id, name: 'Tailspin Toys' }, { idempotencyKey: `drift-mie-${mode}`, correlationId: 'x' });
    expected.set(`MISSING_IN_ERP ERP ${tailspin.id}`, true);
    // A billing customer linked to no CRM account.
    const ghost = salesforceId('001', 7777);
    await ports.billing.upsertCustomer({ customerId: ghost, name: 'Ghost Freight Co' }, { idempotencyKey: `drift-ghost-${mode}`, correlationId: 'x' });
    expected.set(`MISSING_IN_CRM CRM ${ghost}`, false);
    // The same company created twice with different spellings.
    await ports.crm.upsertAccountByKey(`drift-dup-${mode}`, { name: 'ACME Corporation', domain: seed.customers[0].domain, parentId: null });
    expected.set(`DUPLICATE_CUSTOMER CRM ${seed.customers[0].crmId}`, false);
    // An ERP posting deleted.
    const unposted = openInvoiceOf(4);
    await ports.erp.reverseInvoice(unposted.id, correlation);
    expected.set(`INVOICE_NOT_POSTED ERP ${unposted.id}`, true);
    // An ERP posting edited to another amount.
    const tampered = openInvoiceOf(6);
    await ports.erp.postInvoice(
      { invoiceId: tampered.id, customerId: seed.customers[6].crmId, documentDate: tampered.posting!.postedAt.slice(0, 10), lines: [{ description: 'edited', quantity: 1, amount: usd('100.00') }], tax: usd('8.00'), total: usd('108.00') },
      correlation,
    );
    expected.set(`AMOUNT_MISMATCH ERP ${tampered.id}`, true);
    // Credit hold set in the ERP, the CRM still says Active.
    await ports.erp.setCreditHold(seed.customers[2].crmId, true, correlation);
    expected.set(`STATUS_MISMATCH CRM ${seed.customers[2].crmId}`, true);
    // A subscription canceled directly in Stripe; the CRM contract still runs.
    const canceled = seed.contracts.find((c) => c.customerIndex === 10)!;
    await ports.billing.cancelContract(canceled.id, { idempotencyKey: `drift-cancel-${mode}`, correlationId: 'x' });
    expected.set(`STATUS_MISMATCH CRM ${canceled.id}`, true);
    // An invoice voided in Stripe, still posted in the ERP.
    const voided = openInvoiceOf(11);
    await ports.billing.voidInvoice(voided.id, { idempotencyKey: `drift-void-${mode}`, correlationId: 'x' });
    expected.set(`STATUS_MISMATCH ERP ${voided.id}`, true);
    // An invoice paid in Stripe, open in the ERP.
    const paid = openInvoiceOf(12);
    const pay = await fetch(`${system.simulators.stripe!.url}/v1/invoices/${paid.id}/pay`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_drift', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'paid_out_of_band=true',
    });
    expect(pay.status).toBe(200);
    expected.set(`STATUS_MISMATCH ERP ${paid.id}`, false);
    // An ERP posting of a billing invoice that does not exist.
    await ports.erp.postInvoice(
      { invoiceId: 'in_ghost000000000001', customerId: seed.customers[13].crmId, documentDate: new Date().toISOString().slice(0, 10), lines: [{ description: 'orphan', quantity: 1, amount: usd('50.00') }], tax: usd('4.00'), total: usd('54.00') },
      correlation,
    );
    expected.set('MISSING_IN_BILLING BILLING in_ghost000000000001', false);

    const { body } = await system.gql(RUN);
    expect(body.errors).toBeUndefined();
    firstReport = body.data.runReconciliation;
    expect(firstReport.status).toBe('COMPLETED');
    // Exactly the drift made, nothing else: no false positives.
    expect(firstReport.drifts.map(key).sort()).toEqual([...expected.keys()].sort());
    expect(firstReport.driftCount).toBe(expected.size);
    for (const drift of firstReport.drifts) {
      expect(drift.repairable).toBe(expected.get(key(drift)));
      expect(drift.repair.status).toBe(drift.repairable ? 'NOT_STARTED' : 'NEEDS_HUMAN');
      if (!drift.repairable) expect(drift.humanAction).toMatch(/\w+/);
      // Every drift names the systems' values side by side.
      expect(new Set(drift.values.map((v: any) => v.system)).size).toBeGreaterThanOrEqual(drift.kind === 'DUPLICATE_CUSTOMER' ? 1 : 2);
    }
    const byKey = new Map<string, any>(firstReport.drifts.map((d: any) => [key(d), d]));
    expect(byKey.get(`AMOUNT_MISMATCH ERP ${tampered.id}`).values).toEqual(
      expect.arrayContaining([
        { system: 'BILLING', field: 'total', value: `${(tampered.total / 100).toFixed(2)} USD` },
        { system: 'ERP', field: 'total', value: '108.00 USD' },
      ]),
    );
    expect(byKey.get(`INVOICE_NOT_POSTED ERP ${unposted.id}`)).toMatchObject({ invoice: { id: unposted.id }, customer: { id: seed.customers[4].crmId } });
    expect(byKey.get(`STATUS_MISMATCH CRM ${seed.customers[2].crmId}`).values).toEqual(
      expect.arrayContaining([
        { system: 'CRM', field: 'status', value: 'Active' },
        { system: 'ERP', field: 'creditHold', value: 'true' },
      ]),
    );
    expect(byKey.get(`STATUS_MISMATCH CRM ${canceled.id}`)).toMatchObject({ subjectType: 'CONTRACT', contract: { id: canceled.id } });
    expect(byKey.get(`DUPLICATE_CUSTOMER CRM ${seed.customers[0].crmId}`).values.map((v: any) => v.value)).toEqual(
      expect.arrayContaining([expect.stringContaining('Acme Corp'), expect.stringContaining('ACME Corporation')]),
    );

    const events = (await system.events.log.read(null, 100_000)).filter((e) => e.type === 'DRIFT_DETECTED' && e.data?.reportId === firstReport.id);
    expect(events.map((e) => e.data?.driftId).sort()).toEqual(firstReport.drifts.map((d: any) => d.id).sort());
  });

  it('repairs every repairable drift through the orchestrator; the next reconciliation reports them gone; a second repair has no effect', async () => {
    const repairable = firstReport.drifts.filter((d: any) => d.repairable);
    const outcomes = new Map<string, any>();
    for (const drift of repairable) {
      const { body } = await system.gql(REPAIR, { id: drift.id });
      expect(body.errors).toBeUndefined();
      const repaired = body.data.repairDrift;
      expect(repaired.repair).toMatchObject({ status: 'REPAIRED', run: { kind: 'DRIFT_REPAIR', status: 'COMPLETED' } });
      outcomes.set(drift.id, repaired.repair.run);
    }

    // Repairing again: the same run, no vendor write anywhere.
    const writes = async () => {
      const stats = await Promise.all((['salesforce', 'stripe', 'netsuite'] as const).map((s) => simCall(system.simulators[s]!.url, 'stats')));
      return stats.map((st: any) => Object.entries(st.byRoute).filter(([route]) => /^(POST|PUT|PATCH|DELETE)/.test(route) && !route.includes('suiteql')).reduce((n, [, c]) => n + (c as number), 0));
    };
    const before = await writes();
    for (const drift of repairable) {
      const { body } = await system.gql(REPAIR, { id: drift.id });
      expect(body.data.repairDrift.repair.run.id).toBe(outcomes.get(drift.id).id);
    }
    expect(await writes()).toEqual(before);

    const { body } = await system.gql(RUN);
    const after = body.data.runReconciliation;
    expect(after.status).toBe('COMPLETED');
    // What is left is what needs a human, and nothing new.
    expect(after.drifts.map(key).sort()).toEqual([...expected].filter(([, repairable]) => !repairable).map(([k]) => k).sort());

    // The effects happened once.
    const [stripe, ns, sf] = await Promise.all([
      simCall(system.simulators.stripe!.url, 'state'),
      simCall(system.simulators.netsuite!.url, 'state'),
      simCall(system.simulators.salesforce!.url, 'state'),
    ]);
    const fabrikam = firstReport.drifts.find((d: any) => d.kind === 'MISSING_IN_BILLING' && d.subjectType === 'CUSTOMER').subjectId;
    expect(stripe.customers.filter((c: any) => c.metadata?.concord_customer_id === fabrikam)).toHaveLength(1);
    const tailspin = firstReport.drifts.find((d: any) => d.kind === 'MISSING_IN_ERP').subjectId;
    expect(ns.customer.filter((c: any) => c.externalId === tailspin)).toHaveLength(1);
    expect(sf.Account.find((a: any) => a.Id === tailspin)).toMatchObject({ ERP_Customer_Id__c: expect.any(String), Concord_Status__c: 'Active' });
    const unposted = openInvoiceOf(4);
    expect(ns.invoice.filter((i: any) => i.externalId === unposted.id).map((i: any) => i.total)).toEqual([unposted.total / 100]);
    const tampered = openInvoiceOf(6);
    expect(ns.invoice.filter((i: any) => i.externalId === tampered.id).map((i: any) => i.total)).toEqual([tampered.total / 100]);
    expect(ns.invoice.filter((i: any) => i.externalId === openInvoiceOf(11).id)).toHaveLength(0);
    expect(sf.Account.find((a: any) => a.Id === seed.customers[2].crmId).Concord_Status__c).toBe('Credit Hold');
    const canceled = seed.contracts.find((c) => c.customerIndex === 10)!;
    expect(sf.Contract.find((c: any) => c.Billing_Subscription_Id__c === canceled.id).EndDate).not.toBeNull();
  });

  it('a drift that needs a human says so, and nothing runs', async () => {
    const human = firstReport.drifts.find((d: any) => d.kind === 'DUPLICATE_CUSTOMER');
    const { body } = await system.gql(REPAIR, { id: human.id });
    expect(body.errors).toBeUndefined();
    expect(body.data.repairDrift).toMatchObject({ repairable: false, repair: { status: 'NEEDS_HUMAN', action: null, run: null } });
    expect(body.data.repairDrift.repair.humanAction).toMatch(/merge/i);
    const unknown = await system.gql(REPAIR, { id: 'drf_00000000000000000000' });
    expect(unknown.body.errors![0].extensions.code).toBe('NOT_FOUND');
  });

  it('keeps reports readable by id, lists them newest first, and runs one reconciliation at a time', async () => {
    const byId = await system.gql(`query($id: ID!) { reconciliationReport(id: $id) { id driftCount drifts(kind: STATUS_MISMATCH) { kind } } }`, { id: firstReport.id });
    expect(byId.body.data.reconciliationReport).toMatchObject({ id: firstReport.id, driftCount: expected.size });
    expect(byId.body.data.reconciliationReport.drifts.every((d: any) => d.kind === 'STATUS_MISMATCH')).toBe(true);
    const list = await system.gql(`{ reconciliationReports(first: 10) { id status } }`);
    expect(list.body.data.reconciliationReports.length).toBeGreaterThanOrEqual(3);
    expect(list.body.data.reconciliationReports.map((r: any) => r.id)).toContain(firstReport.id);

    const [a, b] = await Promise.all([system.gql(`mutation { runReconciliation { id } }`), system.gql(`mutation { runReconciliation { id } }`)]);
    expect(a.body.data.runReconciliation.id).toBe(b.body.data.runReconciliation.id);
  });
});

describe('reconciliation with a portal token', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem({ seed: buildSeed({ customers: 5 }) });
  });
  afterAll(() => system.close());

  it('is for operators only', async () => {
    const portal = await mintToken({ secret: TEST_JWT_SECRET, subject: 'portal', scopes: ['ops:read', 'ops:write'], customerId: salesforceId('001', 1) });
    const { body } = await system.gql(`mutation { runReconciliation { id } }`, undefined, { authorization: `Bearer ${portal}` });
    expect(body.errors![0].extensions.code).toBe('FORBIDDEN');
  });
});


/**
 * On every other vendor combination (test/helpers/combinations.ts): the consistent seed reconciles
 * with no drift, and drift made in the vendors directly (an ERP posting reversed, a billing invoice
 * voided) is found, named by system and subject.
 */
describe.each(OTHER_COMBINATIONS)('reconciliation on $name (redis)', ({ name, env }) => {
  let system: TestSystem;
  let ports: Ports;
  const keys = testPrefix(`recon-${name.replace(/\W/g, '')}`);
  beforeAll(async () => {
    system = await startTestSystem({ env: { ...env, REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_MUTATION_WAIT_MS: '20000' } });
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test', ...env }), system.simulators);
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('finds no drift in the consistent seed, then exactly the drift made behind Concord\'s back', async () => {
    const clean = (await system.gql(RUN)).body;
    expect(clean.errors).toBeUndefined();
    expect(clean.data.runReconciliation).toMatchObject({ status: 'COMPLETED', driftCount: 0, drifts: [] });
    const unposted = openInvoiceOf(4);
    await ports.erp.reverseInvoice(unposted.id, { correlationId: 'drift-maker' });
    const voided = openInvoiceOf(11);
    await ports.billing.voidInvoice(voided.id, { idempotencyKey: `drift-void-${name}`, correlationId: 'x' });
    const drifted = (await system.gql(RUN)).body.data.runReconciliation;
    expect(drifted.drifts.map(key).sort()).toEqual([`INVOICE_NOT_POSTED ERP ${unposted.id}`, `STATUS_MISMATCH ERP ${voided.id}`].sort());
  });
});
