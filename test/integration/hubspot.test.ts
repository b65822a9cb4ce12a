/**
 * HubSpot as the CRM (CONCORD_CRM=hubspot), Stripe and NetSuite as today, through the gateway: the
 * unified customer view reads 50 companies from HubSpot in one search, an order-to-cash run of a
 * HubSpot deal completes with exactly one deal update holding the billing ids, and a company
 * renamed in HubSpot behind Concord's back reaches a subscription through the polling change feed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@hubspot/api-client';
import { startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL } from '../helpers/redis';
import { eventsPrefix, subscribe, wsClient } from '../events/helpers';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const EXAMPLE = readFileSync(path.join(__dirname, '..', '..', 'examples', 'unified-view.graphql'), 'utf8');

describe('HubSpot as the CRM, through the gateway', () => {
  let system: TestSystem;
  let hubspotUrl: string;
  const keys = eventsPrefix('hubspot-crm');
  const clients: { dispose(): void | Promise<void> }[] = [];

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_CRM: 'hubspot', REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_POLL_INTERVAL_MS: '300', CONCORD_O2C_LEASE_MS: '5000' } });
    expect(system.simulators.salesforce).toBeUndefined();
    hubspotUrl = system.simulators.hubspot!.url;
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await system.close();
    await keys.cleanup();
  });

  /** Calls that are not the change feed's (it polls meanwhile). */
  const crmCalls = (from: number) => system.vendorCalls.slice(from).filter((c) => c.vendor === 'hubspot' && c.operation !== 'changes.companies');

  it('answers the unified view of 50 customers with HubSpot companies, in one HubSpot call', async () => {
    const before = system.vendorCalls.length;
    const stats = await simCall(hubspotUrl, 'stats');
    const { body } = await system.gql(EXAMPLE);
    expect(body.errors).toBeUndefined();
    const nodes = body.data.customers.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(50);
    const state = await simCall(hubspotUrl, 'state');
    for (const node of nodes) {
      const company = state.companies.find((c: any) => c.id === node.id);
      expect(company).toBeDefined();
      expect(node.name).toBe(company.name);
      expect(node.externalRefs).toContainEqual({ system: 'CRM', vendor: 'hubspot', id: company.id });
      expect(node.externalRefs).toContainEqual(expect.objectContaining({ system: 'BILLING', id: company.concord_billing_customer_id }));
    }
    // Batched: one search for the 50 companies, not a call per customer. What reached the
    // simulator (its own count) is exactly what the adapters sent, change polls included.
    expect(crmCalls(before).map((c) => c.operation)).toEqual(['companies.search']);
    const after = await simCall(hubspotUrl, 'stats');
    const polls = system.vendorCalls.slice(before).filter((c) => c.vendor === 'hubspot' && c.operation === 'changes.companies').length;
    expect(after.requests - stats.requests).toBeGreaterThanOrEqual(1);
    expect(after.requests - stats.requests).toBeLessThanOrEqual(1 + polls + 1); // a poll may be in flight at either end
    const limits = await simCall(hubspotUrl, 'limits');
    expect(limits.refused).toEqual({ TEN_SECONDLY_ROLLING: 0, SECONDLY: 0, DAILY: 0 });
  });

  it('completes order-to-cash for a HubSpot deal with exactly one deal update', async () => {
    const state = await simCall(hubspotUrl, 'state');
    const held = new Set(state.companies.filter((c: any) => c.concord_status === 'Credit Hold').map((c: any) => c.id));
    const deal = state.deals.find((d: any) => d.hs_is_closed_won === 'true' && !d.concord_billing_subscription_id && !held.has(d.companyIds[0]));
    expect(deal).toBeDefined();
    const before = system.vendorCalls.length;
    const started = await startRun(system, deal.id, `hubspot-o2c-${deal.id}`);
    expect(started.body.errors).toBeUndefined();
    const run = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(run.status).toBe('COMPLETED');
    const subscriptionId = run.steps.find((s: any) => s.name === 'contract').externalId as string;
    const erpInvoiceId = run.steps.find((s: any) => s.name === 'erpPosting').externalId as string;
    const invoiceId = run.steps.find((s: any) => s.name === 'invoice').externalId as string;
    expect(invoiceId).toMatch(/^in_/);

    const updates = crmCalls(before).filter((c) => c.operation === 'deals.update');
    expect(updates).toHaveLength(1);
    const written = (await simCall(hubspotUrl, 'state')).deals.find((d: any) => d.id === deal.id);
    expect(written).toMatchObject({ concord_billing_subscription_id: subscriptionId, concord_billing_invoice_id: invoiceId, concord_erp_invoice_id: erpInvoiceId, concord_order_status: 'Completed', concord_correlation_id: run.correlationId });
    // The run's customer and subscription in Stripe name the HubSpot company.
    const stripe = await simCall(system.simulators.stripe!.url, 'state');
    expect(stripe.subscriptions.find((s: any) => s.id === subscriptionId)).toBeDefined();
    // A malformed id is refused by the CRM's own id rule before a run exists.
    const refused = await startRun(system, '006Dn0000000002IAA', 'hubspot-o2c-sf-id');
    expect(refused.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it("delivers a company renamed in HubSpot behind Concord's back to a subscription (polled change feed)", async () => {
    const state = await simCall(hubspotUrl, 'state');
    const company = state.companies[3];
    const head = (await system.events.log.head()) ?? '0-0';
    const client = wsClient(system.gateway.url, system.token);
    clients.push(client);
    const sub = subscribe(client, `subscription($id: ID!, $after: String) { customerEvents(customerId: $id, after: $after) { id type source customer { id name } } }`, { id: company.id, after: head });
    // As any HubSpot integration would: the official SDK, another private app's token.
    const other = new Client({ accessToken: 'pat-na1-99999999-8888-7777-6666-555555555555', basePath: hubspotUrl });
    await other.crm.companies.basicApi.update(company.id, { properties: { name: `${company.name} Renamed` } }, undefined, { middleware: [], middlewareMergeStrategy: 'append' } as never);
    const payloads = await sub.until((p) => p.some((x) => x.data?.customerEvents.type === 'CUSTOMER_UPDATED' && x.data.customerEvents.source === 'CRM'), 30_000);
    const event = payloads.map((p) => p.data.customerEvents).find((e: any) => e.type === 'CUSTOMER_UPDATED' && e.source === 'CRM');
    expect(event.customer).toEqual({ id: company.id, name: `${company.name} Renamed` });
    sub.stop();
  });
});
