/**
 * Order-to-cash through the gateway, on both engines: embedded (in-memory store and queues) and
 * Redis (Redis store, BullMQ queues), and on every vendor combination (test/helpers/combinations.ts;
 * today's on both engines, the others on Redis). Effects are counted in the simulators' own state,
 * read through each vendor's lens: the saga is the same code whichever vendors are chosen.
 */
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { effectsAcross as effectsOf, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { COMBINATIONS, DEFAULT_COMBINATION, vendorsOf, type VendorLenses } from '../helpers/combinations';
import { REDIS_URL, testPrefix } from '../helpers/redis';

const ENGINES = {
  embedded: () => ({}) as Record<string, string>,
  redis: (prefix: string) => ({ REDIS_URL, CONCORD_REDIS_PREFIX: prefix }),
};
const MODES = COMBINATIONS.flatMap((combination) =>
  (combination === DEFAULT_COMBINATION ? (['embedded', 'redis'] as const) : (['redis'] as const)).map((mode) => ({ mode, combination: combination.name, vendorEnv: combination.env, env: ENGINES[mode] })),
);

describe.each(MODES)('order-to-cash on $combination ($mode)', ({ mode, combination, vendorEnv, env }) => {
  let system: TestSystem;
  let vendors: VendorLenses;
  let opportunities: { id: string; accountId: string }[];
  const keys = testPrefix(`o2c-${mode}-${combination.replace(/\W/g, '')}`);
  const take = () => opportunities.shift()!;

  beforeAll(async () => {
    system = await startTestSystem({ env: { ...vendorEnv, ...env(keys.prefix), CONCORD_O2C_LEASE_MS: '5000' } });
    vendors = vendorsOf(system);
    opportunities = await readyOpportunities(vendors.crm.url);
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('completes a closed-won deal with exactly one effect in each system, and the CRM updated', async () => {
    const opp = take();
    const started = await startRun(system, opp.id, `happy-${opp.id}`);
    expect(started.body.errors).toBeUndefined();
    expect(started.body.data.startOrderToCash).toMatchObject({ status: 'PENDING', opportunityId: opp.id });
    const run = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['readOpportunity', 'SUCCEEDED'],
      ['erpCustomer', 'SUCCEEDED'],
      ['billingCustomer', 'SUCCEEDED'],
      ['contract', 'SUCCEEDED'],
      ['invoice', 'SUCCEEDED'],
      ['erpPosting', 'SUCCEEDED'],
      ['crmWriteBack', 'SUCCEEDED'],
    ]);

    const effects = await effectsOf(system, opp.id, opp.accountId);
    expect(effects.erpCustomers).toHaveLength(1);
    expect(effects.billingCustomers).toHaveLength(1);
    expect(effects.subscriptions).toHaveLength(1);
    expect(effects.invoices).toHaveLength(1);
    expect(effects.invoices[0].status).toBe('open');
    expect(effects.erpInvoices).toHaveLength(1);
    expect(effects.erpInvoices[0].total).toBeCloseTo(effects.invoices[0].total / 100, 2);
    // The correlation id reached the vendor writes.
    expect(effects.subscriptions[0].correlationId).toBe(run.correlationId);
    expect(effects.erpInvoices[0].text).toContain(run.correlationId);
    expect(effects.opportunity).toMatchObject({
      Concord_Order_Status__c: 'Completed',
      Billing_Subscription_Id__c: effects.subscriptions[0].id,
      Billing_Invoice_Id__c: effects.invoices[0].id,
      Concord_Correlation_Id__c: run.correlationId,
    });

    // The run is reachable from the deal and the other systems' entities resolve through it.
    const { body } = await system.gql(
      `query($id: ID!) { opportunity(id: $id) { name orderToCashRun { id status customer { name erp { customerNumber } } contract { status } invoice { status erpPosting { status } } } } }`,
      { id: opp.id },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.opportunity.orderToCashRun).toMatchObject({
      id: run.id,
      status: 'COMPLETED',
      contract: { status: 'ACTIVE' },
      invoice: { status: 'OPEN', erpPosting: { status: 'POSTED' } },
    });
  });

  it('returns the same run for the same key, and CONFLICT for the same key with another deal', async () => {
    const a = take();
    const b = take();
    const first = await startRun(system, a.id, `key-${a.id}`);
    const again = await startRun(system, a.id, `key-${a.id}`);
    expect(again.body.data.startOrderToCash.id).toBe(first.body.data.startOrderToCash.id);
    const other = await startRun(system, b.id, `key-${a.id}`);
    expect(other.body.errors![0].extensions.code).toBe('CONFLICT');
    // A second key for a deal that already has a live run would bill it twice: refused too.
    const secondKey = await startRun(system, a.id, `other-key-${a.id}`);
    expect(secondKey.body.errors![0].extensions.code).toBe('CONFLICT');
    await waitForRun(system, first.body.data.startOrderToCash.id);
  });

  it('refuses a deal that is not Closed Won with VALIDATION_FAILED and creates no run', async () => {
    const state = await simCall(vendors.crm.url, 'state');
    const open = state.Opportunity.find((o: any) => !o.IsClosed);
    const response = await startRun(system, open.Id, `open-${open.Id}`);
    expect(response.body.errors![0].extensions.code).toBe('VALIDATION_FAILED');
    const { body } = await system.gql('query($id: ID!) { opportunity(id: $id) { orderToCashRun { id } } }', { id: open.Id });
    expect(body.data.opportunity.orderToCashRun).toBeNull();
  });

  it('dead-letters a posting into a closed period, and a retry after reopening completes without redoing finished steps', async () => {
    const opp = take();
    const period = new Date().toISOString().slice(0, 7);
    await vendors.erp.closePeriods([period]);
    try {
      const started = await startRun(system, opp.id, `closed-${opp.id}`);
      const dead = await waitForRun(system, started.body.data.startOrderToCash.id);
      expect(dead.status).toBe('DEAD_LETTERED');
      expect(dead.deadLetter).toMatchObject({ step: 'erpPosting', error: { code: 'PERIOD_CLOSED' } });
      const erpStep = dead.steps.find((s: any) => s.name === 'erpPosting');
      expect(erpStep).toMatchObject({ status: 'FAILED', attempts: 1, lastError: { code: 'PERIOD_CLOSED', retryable: false } });

      const listed = await system.gql('{ deadLetters(first: 50) { edges { node { id step error { code } state run { status } } } } }');
      const letter = listed.body.data.deadLetters.edges.find((e: any) => e.node.id === dead.id).node;
      expect(letter).toMatchObject({ step: 'erpPosting', error: { code: 'PERIOD_CLOSED' }, run: { status: 'DEAD_LETTERED' } });
      // The saga state holds the billing invoice to post: the invoice step's own.
      expect(JSON.parse(letter.state).context.invoiceId).toBe(dead.steps.find((s: any) => s.name === 'invoice').externalId);

      await vendors.erp.closePeriods([]);
      const billingWrites = async () => vendors.billing.writes(await simCall(vendors.billing.url, 'stats'));
      const before = { billingWrites: await billingWrites(), erpCustomer: (await effectsOf(system, opp.id, opp.accountId)).erpCustomers.map((c) => c.version) };
      const retried = await system.gql(`mutation($id: ID!) { retryOrderToCash(runId: $id) { id status } }`, { id: dead.id });
      expect(retried.body.errors).toBeUndefined();
      const done = await waitForRun(system, dead.id);
      expect(done.status).toBe('COMPLETED');
      const effects = await effectsOf(system, opp.id, opp.accountId);
      // No billing write happened again, and the ERP customer was not written again.
      expect(await billingWrites()).toBe(before.billingWrites);
      expect(effects.erpCustomers.map((c) => c.version)).toEqual(before.erpCustomer);
      expect(done.steps.find((s: any) => s.name === 'contract').attempts).toBe(1);
      expect(done.steps.find((s: any) => s.name === 'erpCustomer').attempts).toBe(1);
      expect(effects.subscriptions).toHaveLength(1);
      expect(effects.erpInvoices).toHaveLength(1);
    } finally {
      await vendors.erp.closePeriods([]);
    }
  });

  it('cancels after the invoice: voids the invoice, then cancels the subscription, and ends COMPENSATED', async () => {
    const opp = take();
    const period = new Date().toISOString().slice(0, 7);
    // Hold the run after its invoice: the ERP period is closed, so the posting dead-letters.
    await vendors.erp.closePeriods([period]);
    try {
      const started = await startRun(system, opp.id, `cancel-${opp.id}`);
      const held = await waitForRun(system, started.body.data.startOrderToCash.id);
      expect(held.deadLetter.step).toBe('erpPosting');
      const canceled = await system.gql(`mutation($id: ID!) { cancelOrderToCash(runId: $id) { id } }`, { id: held.id });
      expect(canceled.body.errors).toBeUndefined();
      const run = await waitForRun(system, held.id, ['COMPENSATED', 'DEAD_LETTERED']);
      expect(run.status).toBe('COMPENSATED');
      const effects = await effectsOf(system, opp.id, opp.accountId);
      expect(effects.invoices[0].status).toBe('void');
      expect(effects.subscriptions[0].status).toBe('canceled');
      // In that order, as the billing vendor recorded its events.
      expect(effects.compensationOrder).toEqual(['invoice.voided', 'contract.canceled']);
      // The customer master stays.
      expect(effects.erpCustomers).toHaveLength(1);
      expect(run.steps.find((s: any) => s.name === 'erpCustomer').status).toBe('SUCCEEDED');
      // Cancelling again changes nothing.
      const again = await system.gql(`mutation($id: ID!) { cancelOrderToCash(runId: $id) { status } }`, { id: held.id });
      expect(again.body.data.cancelOrderToCash.status).toBe('COMPENSATED');
    } finally {
      await vendors.erp.closePeriods([]);
    }
  });

  it('stops at a customer on credit hold as a business failure', async () => {
    const state = await simCall(vendors.crm.url, 'state');
    const held = new Set(state.Account.filter((a: any) => a.Concord_Status__c === 'Credit Hold').map((a: any) => a.Id));
    const opp = state.Opportunity.find((o: any) => o.IsWon && !o.Billing_Subscription_Id__c && !o.Concord_Order_Status__c && held.has(o.AccountId));
    const started = await startRun(system, opp.Id, `hold-${opp.Id}`);
    const run = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(run.status).toBe('DEAD_LETTERED');
    expect(run.deadLetter).toMatchObject({ step: 'erpCustomer', error: { code: 'VALIDATION_FAILED' } });
    // No effect of this run in billing (another test's run on the same deal may have left a cancelled one).
    const effects = await effectsOf(system, opp.Id, opp.AccountId);
    expect(effects.subscriptions.filter((sub) => sub.correlationId === run.correlationId)).toHaveLength(0);
  });

  it('lists runs by status, newest first', async () => {
    const { body } = await system.gql('{ orderToCashRuns(status: COMPLETED, first: 2) { edges { node { id status } } pageInfo { hasNextPage } } }');
    expect(body.errors).toBeUndefined();
    expect(body.data.orderToCashRuns.edges.length).toBeGreaterThan(0);
    for (const edge of body.data.orderToCashRuns.edges) expect(edge.node.status).toBe('COMPLETED');
  });
});
