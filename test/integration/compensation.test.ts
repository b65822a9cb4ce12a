/**
 * Compensation leaves nothing live, through the gateway: a cancel at each step boundary ends with
 * no subscription and no invoice that asks for money, also after the Stripe simulator's clock has
 * passed the hour in which Stripe finalizes an auto-advancing draft; and a cancel of a completed
 * run whose ERP period is closed undoes nothing and says why (PERIOD_CLOSED).
 */
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { effectsOf, getRun, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';

const CANCEL = `mutation($id: ID!) { cancelOrderToCash(runId: $id) { id status } }`;

describe('compensation leaves nothing live (embedded)', () => {
  let system: TestSystem;
  let opportunities: { id: string; accountId: string }[];
  const take = () => opportunities.shift()!;
  const stripe = () => system.simulators.stripe!.url;
  const netsuite = () => system.simulators.netsuite!.url;

  beforeAll(async () => {
    system = await startTestSystem();
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
  });
  afterAll(async () => {
    await system.close();
  });
  afterEach(async () => {
    for (const url of [stripe(), netsuite()]) await simCall(url, 'faults', { rate: 0, latencyMs: 0 });
    await simCall(netsuite(), 'periods', { closed: [] });
  });

  /** Poll until the run's `step` is in one of `statuses` (the boundary the test cancels at). */
  async function waitForStep(runId: string, step: string, statuses: string[], timeoutMs = 60_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let run: any;
    while (Date.now() < deadline) {
      run = await getRun(system, runId);
      if (statuses.includes(run?.steps.find((s: any) => s.name === step)?.status)) return run;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`step ${step} of ${runId} never reached ${statuses.join('|')}: ${JSON.stringify(run)}`);
  }

  /** Nothing of the deal bills: no live subscription, no draft or open invoice, no ERP posting. */
  async function expectNothingLive(opp: { id: string; accountId: string }) {
    const effects = await effectsOf(system, opp.id, opp.accountId);
    for (const s of effects.subscriptions) expect(s.status).toBe('canceled');
    for (const i of effects.invoices) expect(i.status).toBe('void');
    expect(effects.erpInvoices).toHaveLength(0);
    return effects;
  }

  /** Let Stripe's hour pass: an auto-advancing draft left behind would be finalized now. */
  async function passTheHour() {
    const response = await fetch(`${stripe()}/__sim/clock/advance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 2 * 3600 }) });
    expect(response.status).toBe(200);
  }

  it('the simulator finalizes an auto-advancing draft an hour after creation, as Stripe does', async () => {
    // Without Concord: a subscription's first invoice is a draft with auto_advance; create one by hand.
    const state = await simCall(stripe(), 'state');
    const customer = state.customers.find((c: any) => c.metadata?.concord_customer_id);
    const price = state.prices.find((p: any) => p.active !== false && p.recurring);
    const form = new URLSearchParams({ customer: customer.id, 'items[0][price]': price.id, collection_method: 'send_invoice', days_until_due: '30' });
    const created = await fetch(`${stripe()}/v1/subscriptions`, { method: 'POST', headers: { authorization: 'Bearer sk_test_clock', 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(created.status).toBe(200);
    const subscription = (await created.json()) as any;
    const draftOf = async () => (await simCall(stripe(), 'state')).invoices.find((i: any) => i.id === subscription.latest_invoice);
    expect(await draftOf()).toMatchObject({ status: 'draft', auto_advance: true });
    await passTheHour();
    expect((await draftOf()).status).toBe('open');
  });

  it('cancel while the ERP customer step waits: nothing was billed', async () => {
    const opp = take();
    await simCall(netsuite(), 'faults', { rate: 1, kinds: ['503'] });
    const started = await startRun(system, opp.id, `cx-erp-${opp.id}`);
    const id = started.body.data.startOrderToCash.id;
    await waitForStep(id, 'erpCustomer', ['WAITING_RETRY']);
    expect((await system.gql(CANCEL, { id })).body.errors).toBeUndefined();
    await simCall(netsuite(), 'faults', { rate: 0 });
    expect((await waitForRun(system, id)).status).toBe('COMPENSATED');
    const effects = await expectNothingLive(opp);
    expect(effects.subscriptions).toHaveLength(0);
  });

  for (const step of ['contract', 'invoice']) {
    it(`cancel while the ${step} step runs: the subscription is cancelled and its first invoice voided, also after Stripe's hour`, async () => {
      const opp = take();
      // Slow Stripe down so the step is seen running, then cancel in the middle of it.
      await simCall(stripe(), 'faults', { latencyMs: 300 });
      const started = await startRun(system, opp.id, `cx-${step}-${opp.id}`);
      const id = started.body.data.startOrderToCash.id;
      await waitForStep(id, step, ['RUNNING']);
      expect((await system.gql(CANCEL, { id })).body.errors).toBeUndefined();
      await simCall(stripe(), 'faults', { latencyMs: 0 });
      const run = await waitForRun(system, id);
      expect(run.status).toBe('COMPENSATED');
      const effects = await expectNothingLive(opp);
      expect(effects.subscriptions).toHaveLength(1);
      expect(effects.invoices).toHaveLength(1);
      await passTheHour();
      const later = await expectNothingLive(opp);
      expect(later.invoices.map((i: any) => i.status)).toEqual(['void']);
    });
  }

  it('cancel of a run dead-lettered at the ERP posting: invoice void, subscription cancelled, nothing posted', async () => {
    const opp = take();
    await simCall(netsuite(), 'periods', { closed: [new Date().toISOString().slice(0, 7)] });
    const started = await startRun(system, opp.id, `cx-post-${opp.id}`);
    const held = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(held.deadLetter.step).toBe('erpPosting');
    expect((await system.gql(CANCEL, { id: held.id })).body.errors).toBeUndefined();
    expect((await waitForRun(system, held.id)).status).toBe('COMPENSATED');
    await passTheHour();
    const effects = await expectNothingLive(opp);
    expect(effects.subscriptions).toHaveLength(1);
  });

  it('cancel of a completed run whose ERP period has closed undoes nothing and answers PERIOD_CLOSED', async () => {
    const opp = take();
    const started = await startRun(system, opp.id, `cx-closed-${opp.id}`);
    const done = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(done.status).toBe('COMPLETED');
    const before = await effectsOf(system, opp.id, opp.accountId);
    await simCall(netsuite(), 'periods', { closed: [new Date().toISOString().slice(0, 7)] });

    const canceled = await system.gql(CANCEL, { id: done.id });
    expect(canceled.body.data?.cancelOrderToCash ?? null).toBeNull();
    expect(canceled.body.errors?.[0].extensions).toMatchObject({ code: 'PERIOD_CLOSED', system: 'ERP', retryable: false });
    expect(canceled.body.errors?.[0].message).toMatch(/closed: nothing was undone/);

    // Every system still agrees the order stands.
    expect((await getRun(system, done.id)).status).toBe('COMPLETED');
    const after = await effectsOf(system, opp.id, opp.accountId);
    expect(after.opportunity.Concord_Order_Status__c).toBe('Completed');
    expect(after.subscriptions.map((s: any) => s.status)).toEqual(['active']);
    expect(after.invoices.map((i: any) => i.status)).toEqual(before.invoices.map((i: any) => i.status));
    expect(after.erpInvoices).toHaveLength(1);
  });
});
