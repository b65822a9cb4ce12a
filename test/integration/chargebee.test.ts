/**
 * Chargebee as the billing system (CONCORD_BILLING=chargebee), Salesforce and NetSuite as today,
 * through the gateway: the unified view answers with Chargebee's figures in batched calls, an
 * order-to-cash run makes exactly one subscription and one invoice in Chargebee (read from its
 * simulator's state), also under 20% injected faults, a payment recorded in Chargebee reaches a
 * businessEvents subscriber through Chargebee's webhook, and an amendment prorates a seat increase
 * on a pending invoice of its own (a decrease is refused: Chargebee credits it on a credit note).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Chargebee from 'chargebee';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL } from '../helpers/redis';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { eventsPrefix, subscribe, wsClient } from '../events/helpers';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const EXAMPLE = readFileSync(path.join(__dirname, '..', '..', 'examples', 'unified-view.graphql'), 'utf8');

const AMEND = `mutation($input: AmendContractInput!) {
  amendContract(input: $input) {
    id status
    items { productCode quantity }
    latestAmendment { status steps { name status lastError { code } } invoice { id status total { amount } erpPosting { status } } }
  }
}`;

describe('Chargebee as the billing system, through the gateway', () => {
  let system: TestSystem;
  let cbUrl: string;
  const keys = eventsPrefix('chargebee');
  const clients: { dispose(): void | Promise<void> }[] = [];

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_BILLING: 'chargebee', REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_O2C_LEASE_MS: '5000', CONCORD_MUTATION_WAIT_MS: '20000' } });
    expect(system.simulators.stripe).toBeUndefined();
    cbUrl = system.simulators.chargebee!.url;
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await system.close();
    await keys.cleanup();
  });

  /** Chargebee as any other integration calls it: the official SDK on the site's API key. */
  const chargebee = () => {
    const url = new URL(cbUrl);
    return new Chargebee({ site: url.hostname, hostSuffix: '', protocol: 'http', port: Number(url.port), apiKey: 'test_someone_else_key' });
  };

  it('answers the unified customer view with the billing side from Chargebee, in batched calls', async () => {
    const before = system.vendorCalls.length;
    const { body } = await system.gql(EXAMPLE);
    expect(body.errors).toBeUndefined();
    const nodes = body.data.customers.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(50);
    const state = await simCall(cbUrl, 'state');
    for (const node of nodes) {
      const customer = state.customers.find((c: any) => c.cf_concord_customer_id === node.id);
      expect(node.externalRefs).toContainEqual({ system: 'BILLING', vendor: 'chargebee', id: customer.id });
      const subscriptions = state.subscriptions.filter((s: any) => s.customer_id === customer.id);
      expect(node.contracts.map((c: any) => c.id).sort()).toEqual(subscriptions.map((s: any) => s.id).sort());
      const invoices = state.invoices.filter((i: any) => i.customer_id === customer.id && !i.deleted);
      expect(node.invoices.map((i: any) => i.id).sort()).toEqual(invoices.map((i: any) => i.id).sort());
      for (const invoice of node.invoices) {
        const held = invoices.find((i: any) => i.id === invoice.id);
        expect(invoice.total).toEqual({ amount: (held.total / 100).toFixed(2), currency: 'USD' });
      }
    }
    expect(nodes.some((n: any) => n.contracts.some((c: any) => c.items.length > 0 && c.items.every((i: any) => i.productCode)))).toBe(true);
    // Batched: a handful of Chargebee list calls for 50 customers, not one per customer.
    const cbCalls = system.vendorCalls.slice(before).filter((c) => c.vendor === 'chargebee');
    expect(cbCalls.length).toBeGreaterThan(0);
    expect(cbCalls.length).toBeLessThanOrEqual(8);
    expect(cbCalls.every((c) => c.operation.endsWith('.list'))).toBe(true);
  });

  it('creates a customer in Chargebee once through upsertCustomer, linked by its custom field; a replay writes nothing', async () => {
    const UPSERT = `mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id name externalRefs { system vendor id } syncRun { status steps { name status } } } }`;
    const input = { name: 'Northwind Traders', domain: 'northwind-traders.example', email: 'ap@northwind-traders.example', idempotencyKey: 'cb-northwind' };
    const { body } = await system.gql(UPSERT, { input });
    expect(body.errors).toBeUndefined();
    const customer = body.data.upsertCustomer;
    expect(customer.syncRun.status).toBe('COMPLETED');
    const state = await simCall(cbUrl, 'state');
    const held = state.customers.filter((c: any) => c.cf_concord_customer_id === customer.id);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ company: 'Northwind Traders', email: 'ap@northwind-traders.example' });
    expect(customer.externalRefs).toContainEqual({ system: 'BILLING', vendor: 'chargebee', id: held[0].id });
    const posts = async () => Object.entries((await simCall(cbUrl, 'stats')).byRoute as Record<string, number>).filter(([r]) => r.startsWith('POST')).reduce((n, [, c]) => n + c, 0);
    const before = await posts();
    const again = await system.gql(UPSERT, { input });
    expect(again.body.data.upsertCustomer.id).toBe(customer.id);
    expect(await posts()).toBe(before);
  });

  it('reconciles the consistent seed with no drift, and finds an invoice voided in Chargebee behind Concord\'s back', async () => {
    const RUN = `mutation { runReconciliation { status driftCount drifts { kind system subjectId invoice { id } } vendorCalls { system calls } } }`;
    const clean = (await system.gql(RUN)).body;
    expect(clean.errors).toBeUndefined();
    expect(clean.data.runReconciliation).toMatchObject({ status: 'COMPLETED', driftCount: 0, drifts: [] });
    const state = await simCall(cbUrl, 'state');
    const posted = state.invoices.find((i: any) => i.status === 'payment_due');
    expect((await chargebee().invoice.voidInvoice(posted.id)).invoice.status).toBe('voided');
    const drifted = (await system.gql(RUN)).body.data.runReconciliation;
    expect(drifted.driftCount).toBeGreaterThanOrEqual(1);
    expect(drifted.drifts.some((d: any) => (d.invoice?.id ?? d.subjectId) === posted.id)).toBe(true);
  });

  it('completes order-to-cash with exactly one subscription and one invoice in Chargebee, closed and posted', async () => {
    const [opp] = await readyOpportunities(system.simulators.salesforce!.url);
    const started = await startRun(system, opp.id, `cb-o2c-${opp.id}`);
    expect(started.body.errors).toBeUndefined();
    const run = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(run.status).toBe('COMPLETED');
    const contractId = run.steps.find((s: any) => s.name === 'contract').externalId as string;
    const invoiceId = run.steps.find((s: any) => s.name === 'invoice').externalId as string;

    const state = await simCall(cbUrl, 'state');
    const subscriptions = state.subscriptions.filter((s: any) => s.meta_data?.concord_opportunity_id === opp.id);
    expect(subscriptions.map((s: any) => s.id)).toEqual([contractId]);
    expect(subscriptions[0]).toMatchObject({ status: 'active', meta_data: { concord_customer_id: opp.accountId, concord_correlation_id: run.correlationId } });
    const invoices = state.invoices.filter((i: any) => i.subscription_id === contractId);
    expect(invoices.map((i: any) => [i.id, i.status])).toEqual([[invoiceId, 'payment_due']]);
    expect(state.customers.filter((c: any) => c.cf_concord_customer_id === opp.accountId)).toHaveLength(1);

    const { body } = await system.gql(`query($id: ID!) { invoice(id: $id) { status total { amount } erpPosting { status } } }`, { id: invoiceId });
    expect(body.data.invoice).toEqual({ status: 'OPEN', total: { amount: (invoices[0].total / 100).toFixed(2) }, erpPosting: { status: 'POSTED' } });
    // Every write carried a Chargebee idempotency key (the saga's key of the step).
    const writes = system.vendorCalls.filter((c) => c.vendor === 'chargebee' && !c.operation.endsWith('.list') && !c.operation.endsWith('.retrieve'));
    expect(writes.map((c) => c.operation)).toEqual(expect.arrayContaining(['subscriptions.create_with_items', 'invoices.close']));
  });

  it('completes order-to-cash under 20% Chargebee faults with exactly one subscription and one invoice per run', async () => {
    const opportunities = (await readyOpportunities(system.simulators.salesforce!.url)).slice(0, 4);
    expect(opportunities).toHaveLength(4);
    await simCall(cbUrl, 'faults', { rate: 0.2, kinds: ['429', '500', '503', 'reset'], applyBeforeFail: 0.5, seed: 16 });
    let runs: any[];
    try {
      const started = await Promise.all(opportunities.map((opp) => startRun(system, opp.id, `cb-faults-${opp.id}`)));
      runs = await Promise.all(started.map((r) => waitForRun(system, r.body.data.startOrderToCash.id, undefined, 120_000)));
    } finally {
      await simCall(cbUrl, 'faults', { rate: 0, kinds: [] });
    }
    const stats = await simCall(cbUrl, 'stats');
    expect(Object.values(stats.faults as Record<string, number>).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const state = await simCall(cbUrl, 'state');
    for (const [i, run] of runs.entries()) {
      expect(run.status).toBe('COMPLETED');
      const subscriptions = state.subscriptions.filter((s: any) => s.meta_data?.concord_opportunity_id === opportunities[i].id);
      expect(subscriptions).toHaveLength(1);
      const invoices = state.invoices.filter((inv: any) => inv.subscription_id === subscriptions[0].id && !inv.deleted);
      expect(invoices.map((inv: any) => inv.status)).toEqual(['payment_due']);
      expect(state.customers.filter((c: any) => c.cf_concord_customer_id === opportunities[i].accountId)).toHaveLength(1);
    }
  }, 180_000);

  it('undoes a run dead-lettered at the ERP posting: the Chargebee subscription cancelled, its invoice voided', async () => {
    const [opp] = await readyOpportunities(system.simulators.salesforce!.url);
    const netsuite = system.simulators.netsuite!.url;
    await simCall(netsuite, 'periods', { closed: [new Date().toISOString().slice(0, 7)] });
    let held: any;
    try {
      const started = await startRun(system, opp.id, `cb-undo-${opp.id}`);
      held = await waitForRun(system, started.body.data.startOrderToCash.id);
      expect(held.deadLetter.step).toBe('erpPosting');
    } finally {
      await simCall(netsuite, 'periods', { closed: [] });
    }
    const canceled = await system.gql(`mutation($id: ID!) { cancelOrderToCash(runId: $id) { id status } }`, { id: held.id });
    expect(canceled.body.errors).toBeUndefined();
    expect((await waitForRun(system, held.id)).status).toBe('COMPENSATED');
    const state = await simCall(cbUrl, 'state');
    const subscriptions = state.subscriptions.filter((s: any) => s.meta_data?.concord_opportunity_id === opp.id);
    expect(subscriptions.map((s: any) => s.status)).toEqual(['cancelled']);
    expect(state.invoices.filter((i: any) => i.subscription_id === subscriptions[0].id).map((i: any) => i.status)).toEqual(['voided']);
  });

  it('schedules and removes a contract end as an amendment without proration', async () => {
    const state = await simCall(cbUrl, 'state');
    const contract = state.subscriptions.filter((s: any) => s.status === 'active' && s.due_invoices_count === 0).at(-1);
    const end = new Date(Date.now() + 90 * 86_400_000);
    end.setUTCHours(0, 0, 0, 0);
    const AMEND_END = `mutation($input: AmendContractInput!) { amendContract(input: $input) { id status endDate latestAmendment { status invoice { id } } } }`;
    const scheduled = await system.gql(AMEND_END, { input: { contractId: contract.id, idempotencyKey: `cb-end-${contract.id}`, endDate: end.toISOString() } });
    expect(scheduled.body.errors).toBeUndefined();
    expect(scheduled.body.data.amendContract).toMatchObject({ status: 'ACTIVE', endDate: end.toISOString(), latestAmendment: { status: 'COMPLETED', invoice: null } });
    const held = (await simCall(cbUrl, 'state')).subscriptions.find((s: any) => s.id === contract.id);
    expect(held).toMatchObject({ status: 'non_renewing', cancelled_at: end.getTime() / 1000 });
    const removed = await system.gql(AMEND_END, { input: { contractId: contract.id, idempotencyKey: `cb-end-removed-${contract.id}`, endDate: null } });
    expect(removed.body.errors).toBeUndefined();
    expect(removed.body.data.amendContract).toMatchObject({ status: 'ACTIVE', endDate: null });
    expect((await simCall(cbUrl, 'state')).subscriptions.find((s: any) => s.id === contract.id).status).toBe('active');
  });

  it('delivers a payment recorded in Chargebee to a businessEvents subscriber through the Chargebee webhook', async () => {
    const state = await simCall(cbUrl, 'state');
    const due = state.invoices.find((i: any) => i.status === 'payment_due' && i.amount_due > 0);
    const customer = state.customers.find((c: any) => c.id === due.customer_id);
    const head = (await system.events.log.head()) ?? '0-0';
    const client = wsClient(system.gateway.url, system.token);
    clients.push(client);
    const sub = subscribe(client, `subscription($after: String) { businessEvents(types: [INVOICE_PAID], after: $after) { type source invoice { id status } customer { id } } }`, { after: head });
    // Recorded as a Chargebee user would (an offline payment), not through Concord.
    const paid = await chargebee().invoice.recordPayment(due.id, { transaction: { amount: due.amount_due, payment_method: 'bank_transfer' } });
    expect(paid.invoice.status).toBe('paid');
    const payloads = await sub.until((p) => p.some((x) => x.data?.businessEvents.invoice?.id === due.id), 30_000);
    const event = payloads.map((p) => p.data.businessEvents).find((e: any) => e.invoice?.id === due.id);
    expect(event).toEqual({ type: 'INVOICE_PAID', source: 'BILLING', invoice: { id: due.id, status: 'PAID' }, customer: { id: customer.cf_concord_customer_id } });
    sub.stop();
    // A delivery without Chargebee's Basic-auth credentials is refused.
    const forged = await fetch(`${system.gateway.url}/webhooks/chargebee`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'ev_x', event_type: 'payment_succeeded', content: {} }) });
    expect(forged.status).toBe(401);
  });

  it('puts the customer on credit hold when Chargebee reports a failed payment (the payment-failure reaction)', async () => {
    const state = await simCall(cbUrl, 'state');
    // An invoice Concord made in this run (due in 30 days): overdue only once its payment fails.
    const invoice = state.invoices.find((i: any) => i.status === 'payment_due' && i.id.startsWith('CB-'));
    expect(invoice).toBeDefined();
    const customerId = state.customers.find((c: any) => c.id === invoice.customer_id).cf_concord_customer_id as string;
    const CUSTOMER = `query($id: ID!) { customer(id: $id) { erp { creditHold } } }`;
    expect((await system.gql(CUSTOMER, { id: customerId })).body.data.customer.erp.creditHold).toBe(false);
    await simCall(cbUrl, `invoices/${invoice.id}/payment_failed`, {});
    const deadline = Date.now() + 30_000;
    let held = false;
    while (!held && Date.now() < deadline) {
      held = (await system.gql(CUSTOMER, { id: customerId })).body.data.customer.erp.creditHold === true;
      if (!held) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(held).toBe(true);
    const account = (await simCall(system.simulators.salesforce!.url, 'state')).Account.find((a: any) => a.Id === customerId);
    expect(account.Concord_Status__c).toBe('Credit Hold');
    const failed = (await system.events.log.read(null, 100_000)).filter((e) => e.type === 'PAYMENT_FAILED' && e.invoiceId === invoice.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ source: 'BILLING', customerId });
  });

  it('amends a seat increase on a pending proration invoice of its own, posted and closed; refuses a decrease', async () => {
    const state = await simCall(cbUrl, 'state');
    const contract = state.subscriptions.find((s: any) => s.status === 'active' && s.due_invoices_count === 0 && s.subscription_items.some((i: any) => i.item_price_id === 'SEAT-USD-Monthly'));
    const seats = contract.subscription_items.find((i: any) => i.item_price_id === 'SEAT-USD-Monthly').quantity;
    const { body } = await system.gql(AMEND, { input: { contractId: contract.id, idempotencyKey: `cb-amend-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seats + 2 }] } });
    expect(body.errors).toBeUndefined();
    expect(body.data.amendContract.items).toEqual(expect.arrayContaining([{ productCode: 'SEAT', quantity: seats + 2 }]));
    expect(body.data.amendContract.latestAmendment).toMatchObject({ status: 'COMPLETED', invoice: { status: 'OPEN', erpPosting: { status: 'POSTED' } } });
    const after = await simCall(cbUrl, 'state');
    const proration = after.invoices.filter((i: any) => i.subscription_id === contract.id && typeof i.po_number === 'string' && i.po_number.startsWith('concord-amendment:'));
    expect(proration).toHaveLength(1);
    expect(proration[0]).toMatchObject({ id: body.data.amendContract.latestAmendment.invoice.id, status: 'payment_due' });
    expect(proration[0].line_items.map((l: any) => l.entity_id)).toEqual(['SEAT-USD-Monthly']);

    const down = await system.gql(AMEND, { input: { contractId: contract.id, idempotencyKey: `cb-amend-down-${contract.id}`, items: [{ productCode: 'SEAT', quantity: 1 }] } });
    expect(down.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');
    const unchanged = (await simCall(cbUrl, 'state')).subscriptions.find((s: any) => s.id === contract.id);
    expect(unchanged.subscription_items.find((i: any) => i.item_price_id === 'SEAT-USD-Monthly').quantity).toBe(seats + 2);
  });
});

void SIMULATOR_CREDENTIALS;
