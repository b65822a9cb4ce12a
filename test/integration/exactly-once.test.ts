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
});
