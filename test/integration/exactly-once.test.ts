/**
 * Exactly once for the business, through the gateway: a deal the systems of record already show as
 * fulfilled gets no second contract, invoice or posting, whoever fulfilled it; and its fulfilment
 * is visible on the Opportunity whether or not a run exists. Effects are counted in /__sim/state.
 */
import { loadConfig } from '../../core/config';
import type { Ports } from '../../subgraphs/orchestration/steps';
import { createVendorPorts } from '../../system';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { effectsOf, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';

const FULFILMENT = `query($id: ID!) { opportunity(id: $id) { id orderToCashRun { id } fulfilment { contract { id } contractStatus orderStatus live foundIn } } }`;

describe('exactly once per deal (embedded)', () => {
  let system: TestSystem;
  let ports: Ports;

  beforeAll(async () => {
    system = await startTestSystem();
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), system.simulators);
  });
  afterAll(async () => {
    await system.close();
  });

  /** Deals of the seed that were fulfilled before Concord ran (CRM links set, a tagged subscription). */
  async function fulfilledDeals() {
    const sf = await simCall(system.simulators.salesforce!.url, 'state');
    return sf.Opportunity.filter((o: any) => o.IsWon && o.Billing_Subscription_Id__c && o.Concord_Order_Status__c === 'Completed');
  }

  it('refuses a run for a deal already fulfilled in the CRM and billing, naming the contract, and makes no effect', async () => {
    const deals = await fulfilledDeals();
    expect(deals.length).toBe(50);
    // The README's example deal is one of them.
    const deal = deals.find((o: any) => o.Id === '006Dn0000000051IAA') ?? deals[0];
    const before = await effectsOf(system, deal.Id, deal.AccountId);
    expect(before.subscriptions).toHaveLength(1);

    const shown = await system.gql(FULFILMENT, { id: deal.Id });
    expect(shown.body.errors).toBeUndefined();
    expect(shown.body.data.opportunity).toMatchObject({
      orderToCashRun: null,
      fulfilment: { contract: { id: deal.Billing_Subscription_Id__c }, orderStatus: 'Completed', live: true, foundIn: 'CRM' },
    });

    const started = await startRun(system, deal.Id, `double-${deal.Id}`);
    expect(started.body.data?.startOrderToCash ?? null).toBeNull();
    expect(started.body.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', correlationId: expect.any(String) });
    expect(started.body.errors?.[0].message).toContain(deal.Billing_Subscription_Id__c);

    const after = await effectsOf(system, deal.Id, deal.AccountId);
    expect(after.subscriptions).toHaveLength(1);
    expect(after.invoices.length).toBe(before.invoices.length);
    expect(after.erpInvoices.length).toBe(before.erpInvoices.length);
    expect(after.opportunity).toEqual(before.opportunity);
    // No run was stored either.
    expect((await system.gql(FULFILMENT, { id: deal.Id })).body.data.opportunity.orderToCashRun).toBeNull();
  });

  it('refuses a deal billing shows as fulfilled even when the CRM has no link (fulfilled behind Concord\'s back)', async () => {
    const deal = (await fulfilledDeals())[1];
    // The CRM link is lost (a sandbox refresh, a hand edit): billing's tagged subscription still counts.
    await ports.crm.updateOpportunity(deal.Id, { billingSubscriptionId: '', orderStatus: '', correlationId: 'test' });
    const shown = await system.gql(FULFILMENT, { id: deal.Id });
    expect(shown.body.data.opportunity.fulfilment).toMatchObject({ contract: { id: deal.Billing_Subscription_Id__c }, live: true, foundIn: 'BILLING' });

    const started = await startRun(system, deal.Id, `double-billing-${deal.Id}`);
    expect(started.body.errors?.[0].extensions.code).toBe('CONFLICT');
    expect(started.body.errors?.[0].message).toContain(deal.Billing_Subscription_Id__c);
    const after = await effectsOf(system, deal.Id, deal.AccountId);
    expect(after.subscriptions).toHaveLength(1);
  });

  it('shows an open deal as unfulfilled, then the contract its run produced', async () => {
    const [opp] = await readyOpportunities(system.simulators.salesforce!.url);
    expect((await system.gql(FULFILMENT, { id: opp.id })).body.data.opportunity.fulfilment).toBeNull();
    const started = await startRun(system, opp.id, `open-${opp.id}`);
    expect(started.body.errors).toBeUndefined();
    const run = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(run.status).toBe('COMPLETED');
    const contractId = run.steps.find((s: any) => s.name === 'contract').externalId;
    const shown = await system.gql(FULFILMENT, { id: opp.id });
    expect(shown.body.data.opportunity.fulfilment).toEqual({
      contract: { id: contractId }, contractStatus: 'ACTIVE', orderStatus: 'Completed', live: true, foundIn: 'CRM',
    });
  });

  /** Poll until the run's readOpportunity step has been tried and waits for its retry (Stripe still throttled). */
  async function waitForDeferredCheck(id: string) {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { body } = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { steps { name status attempts lastError { code } } } }`, { id });
      const step = body.data?.orderToCashRun?.steps.find((s: any) => s.name === 'readOpportunity');
      if (step?.status === 'WAITING_RETRY') return step;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`run ${id} never tried its fulfilment check`);
  }

  it('accepts a start while Stripe throttles, and its first step checks the deal before any effect', async () => {
    // An open deal (the one whose CRM link an earlier test erased is fulfilled in billing).
    let opp: { id: string; accountId: string } | undefined;
    for (const candidate of await readyOpportunities(system.simulators.salesforce!.url)) {
      if ((await system.gql(FULFILMENT, { id: candidate.id })).body.data.opportunity.fulfilment === null) {
        opp = candidate;
        break;
      }
    }
    if (!opp) throw new Error('no open deal left in the seed');
    const stripe = system.simulators.stripe!.url;
    const before = await effectsOf(system, opp.id, opp.accountId);
    await simCall(stripe, 'faults', { rate: 1, kinds: ['429'] });
    try {
      const started = await startRun(system, opp.id, `throttled-${opp.id}`);
      expect(started.body.errors).toBeUndefined();
      const id = started.body.data.startOrderToCash.id;
      // Stored, and its check left to the run: tried, and waiting for Stripe.
      const step = await waitForDeferredCheck(id);
      expect(step.lastError.code).toBe('VENDOR_RATE_LIMITED');
      // No effect before the check: the ERP customer step has not run.
      expect((await effectsOf(system, opp.id, opp.accountId)).erpCustomers).toEqual(before.erpCustomers);
      await simCall(stripe, 'faults', { rate: 0 });
      const run = await waitForRun(system, id);
      expect({ status: run.status, deadLetter: run.deadLetter }).toEqual({ status: 'COMPLETED', deadLetter: null });
      const effects = await effectsOf(system, opp.id, opp.accountId);
      expect(effects.subscriptions).toHaveLength(1);
      expect(effects.erpInvoices).toHaveLength(1);
    } finally {
      await simCall(stripe, 'faults', { rate: 0 });
    }
  });

  it('a start while Stripe throttles for a deal only billing shows fulfilled: accepted, then refused by its first step with CONFLICT, no effect', async () => {
    // A seed deal fulfilled before Concord (no run of Concord's), not one an earlier test used.
    let deal: any;
    for (const candidate of (await fulfilledDeals()).filter((o: any) => o.Id !== '006Dn0000000051IAA').reverse()) {
      if ((await system.gql(FULFILMENT, { id: candidate.Id })).body.data.opportunity.orderToCashRun === null) {
        deal = candidate;
        break;
      }
    }
    await ports.crm.updateOpportunity(deal.Id, { billingSubscriptionId: '', orderStatus: '', correlationId: 'test' });
    const before = await effectsOf(system, deal.Id, deal.AccountId);
    const stripe = system.simulators.stripe!.url;
    await simCall(stripe, 'faults', { rate: 1, kinds: ['429'] });
    try {
      const started = await startRun(system, deal.Id, `throttled-fulfilled-${deal.Id}`);
      expect(started.body.errors).toBeUndefined();
      const id = started.body.data.startOrderToCash.id;
      await waitForDeferredCheck(id);
      await simCall(stripe, 'faults', { rate: 0 });
      const run = await waitForRun(system, id);
      expect(run.status).toBe('DEAD_LETTERED');
      expect(run.deadLetter.step).toBe('readOpportunity');
      expect(run.deadLetter.error.code).toBe('CONFLICT');
      expect(run.deadLetter.error.message).toContain(deal.Billing_Subscription_Id__c);
      // No step after the check ran, and nothing was written anywhere.
      expect(run.steps.filter((s: any) => s.attempts > 0).map((s: any) => s.name)).toEqual(['readOpportunity']);
      const after = await effectsOf(system, deal.Id, deal.AccountId);
      expect(after.subscriptions).toEqual(before.subscriptions);
      expect(after.invoices).toEqual(before.invoices);
      expect(after.erpInvoices).toEqual(before.erpInvoices);
      expect(after.erpCustomers).toEqual(before.erpCustomers);
      expect(after.opportunity).toEqual(before.opportunity);
    } finally {
      await simCall(stripe, 'faults', { rate: 0 });
    }
  });
});
