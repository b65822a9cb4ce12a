/**
 * Cancel at every step boundary of order-to-cash, through the gateway. The run is parked
 * deterministically by the engine's beforeStep hook (engine.ts EngineHooks): the worker holding it
 * waits just before it would start the step, with the previous one done; the test cancels there,
 * then lets the worker go on. Whatever the boundary, the run ends COMPENSATED and nothing is live in
 * any system (/__sim/state): no active subscription, no draft or open invoice (also after the Stripe
 * simulator's clock passed the hour in which Stripe finalizes an auto-advancing draft), no ERP
 * posting, and the CRM deal Canceled only if it had been written back as Completed. And a run
 * dead-lettered at `contract` after its subscription was in fact created, then cancelled, bills nothing.
 */
import type { Run, RunStep } from '../../subgraphs/orchestration/model';
import { effectsOf, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

jest.setTimeout(240_000);

const CANCEL = `mutation($id: ID!) { cancelOrderToCash(runId: $id) { id status } }`;

interface Park {
  opportunityId: string;
  step: string;
  parked: Promise<Run>;
  reached(run: Run): void;
  release(): void;
  released: Promise<void>;
}

function parkAt(opportunityId: string, step: string): Park {
  let reached!: (run: Run) => void;
  let release!: () => void;
  const parked = new Promise<Run>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { opportunityId, step, parked, reached, release, released };
}

describe('cancel at every step boundary (embedded)', () => {
  let system: TestSystem;
  let opportunities: { id: string; accountId: string }[];
  let park: Park | null = null;
  const stripe = () => system.simulators.stripe!.url;

  const beforeStep = async (run: Run, step: RunStep) => {
    const current = park;
    if (!current || run.opportunityId !== current.opportunityId || step.name !== current.step) return;
    park = null;
    current.reached(run);
    await current.released;
  };

  beforeAll(async () => {
    system = await startTestSystem({
      // Short leases: the cancel's job finds the parked run held and looks again after half a lease.
      // Two attempts: the dead-letter case below gives up quickly.
      env: { CONCORD_O2C_LEASE_MS: '2000', CONCORD_O2C_MAX_ATTEMPTS: '2' },
      system: { orchestration: { hooks: { beforeStep } } },
    });
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
  });
  afterAll(async () => {
    await system.close();
  });
  let last: Park | null = null;
  afterEach(async () => {
    park = null;
    last?.release();
    await simCall(stripe(), 'faults', { rate: 0, latencyMs: 0 });
  });

  /** Let Stripe's hour pass: an auto-advancing draft left behind would be finalized now. */
  async function passTheHour() {
    const response = await fetch(`${stripe()}/__sim/clock/advance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 2 * 3600 }) });
    expect(response.status).toBe(200);
  }

  /** Nothing of the deal bills or is posted, before and after Stripe's hour. */
  async function expectNothingLive(opp: { id: string; accountId: string }) {
    for (const pass of [false, true]) {
      if (pass) await passTheHour();
      const effects = await effectsOf(system, opp.id, opp.accountId);
      expect(effects.subscriptions.filter((s: any) => s.status !== 'canceled')).toEqual([]);
      expect(effects.invoices.filter((i: any) => i.status !== 'void')).toEqual([]);
      expect(effects.erpInvoices).toEqual([]);
    }
    return effectsOf(system, opp.id, opp.accountId);
  }

  // The steps queued after the start (readOpportunity runs inside it), each the boundary before it.
  const boundaries = [
    { before: 'erpCustomer', subscriptions: 0 },
    { before: 'billingCustomer', subscriptions: 0 },
    { before: 'contract', subscriptions: 0 },
    { before: 'invoice', subscriptions: 1 },
    { before: 'erpPosting', subscriptions: 1 },
    { before: 'crmWriteBack', subscriptions: 1 },
  ];

  for (const boundary of boundaries) {
    it(`cancel just before ${boundary.before}: COMPENSATED, nothing live, the CRM deal not Completed`, async () => {
      const opp = opportunities.shift()!;
      const crmBefore = (await effectsOf(system, opp.id, opp.accountId)).opportunity;
      const here = (last = park = parkAt(opp.id, boundary.before));
      const started = await startRun(system, opp.id, `cx-at-${boundary.before}-${opp.id}`);
      expect(started.body.errors).toBeUndefined();
      const id = started.body.data.startOrderToCash.id;
      const atBoundary = await here.parked;
      // Parked where asked: every step before is done, this one not started.
      const index = atBoundary.steps.findIndex((s) => s.name === boundary.before);
      expect(atBoundary.steps.slice(0, index).map((s) => s.status)).toEqual(atBoundary.steps.slice(0, index).map(() => 'SUCCEEDED'));
      expect(atBoundary.steps[index].attempts).toBe(0);

      const canceled = await system.gql(CANCEL, { id });
      expect(canceled.body.errors).toBeUndefined();
      here.release();
      const run = await waitForRun(system, id);
      expect(run.status).toBe('COMPENSATED');
      // The step at the boundary never started.
      expect(run.steps.find((s: any) => s.name === boundary.before).attempts).toBe(0);

      const effects = await expectNothingLive(opp);
      expect(effects.subscriptions).toHaveLength(boundary.subscriptions);
      expect(effects.opportunity.Concord_Order_Status__c ?? null).toBe(crmBefore.Concord_Order_Status__c ?? null);
      expect(effects.opportunity.Billing_Subscription_Id__c ?? null).toBe(crmBefore.Billing_Subscription_Id__c ?? null);
    });
  }

  it('cancel after the last step (a COMPLETED run): COMPENSATED, nothing live, the CRM deal Canceled', async () => {
    const opp = opportunities.shift()!;
    const started = await startRun(system, opp.id, `cx-at-end-${opp.id}`);
    const done = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(done.status).toBe('COMPLETED');
    expect((await system.gql(CANCEL, { id: done.id })).body.errors).toBeUndefined();
    expect((await waitForRun(system, done.id)).status).toBe('COMPENSATED');
    const effects = await expectNothingLive(opp);
    expect(effects.subscriptions).toHaveLength(1);
    expect(effects.opportunity.Concord_Order_Status__c).toBe('Canceled');
  });

  it('a run dead-lettered at contract (its subscription made, the answer lost), then cancelled: nothing billed', async () => {
    const opp = opportunities.shift()!;
    const here = (last = park = parkAt(opp.id, 'contract'));
    const started = await startRun(system, opp.id, `cx-dead-contract-${opp.id}`);
    const id = started.body.data.startOrderToCash.id;
    const atBoundary = await here.parked;
    // The subscription exists in Stripe, tagged with the deal, as an attempt whose answer was lost
    // leaves it (made here directly, so the test does not depend on which request the fault dice
    // hit); then every Stripe request fails (503) until the step has spent its two attempts.
    const state = await simCall(stripe(), 'state');
    const price = state.prices.find((p: any) => p.active !== false && p.recurring);
    const form = new URLSearchParams({
      customer: atBoundary.context.billingCustomerId!,
      'items[0][price]': price.id,
      collection_method: 'send_invoice',
      days_until_due: '30',
      'metadata[concord_opportunity_id]': opp.id,
    });
    const created = await fetch(`${stripe()}/v1/subscriptions`, { method: 'POST', headers: { authorization: 'Bearer sk_test_lost_answer', 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(created.status).toBe(200);
    await simCall(stripe(), 'faults', { rate: 1, kinds: ['503'] });
    here.release();
    const dead = await waitForRun(system, id);
    expect(dead.status).toBe('DEAD_LETTERED');
    expect(dead.deadLetter.step).toBe('contract');
    await simCall(stripe(), 'faults', { rate: 0 });
    const made = await effectsOf(system, opp.id, opp.accountId);
    expect(made.subscriptions).toHaveLength(1);
    expect(made.invoices.map((i: any) => [i.status, i.auto_advance])).toEqual([['draft', true]]);

    expect((await system.gql(CANCEL, { id })).body.errors).toBeUndefined();
    expect((await waitForRun(system, id)).status).toBe('COMPENSATED');
    const after = await expectNothingLive(opp);
    expect(after.subscriptions).toHaveLength(1);
    expect(after.invoices.map((i: any) => i.status)).toEqual(['void']);
  });
});
