/**
 * The unified customer view through the gateway, against the three simulators: docs/api.md's example
 * query returns what the vendors hold, in few vendor calls, and survives one vendor's outage.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const EXAMPLE = readFileSync(path.join(__dirname, '..', '..', 'examples', 'unified-view.graphql'), 'utf8');
const dollars = (cents: number) => (cents / 100).toFixed(2);

describe('unified customer view through the gateway', () => {
  let system: TestSystem;
  let urls: { salesforce: string; stripe: string; netsuite: string };

  beforeAll(async () => {
    system = await startTestSystem();
    urls = {
      salesforce: system.simulators.salesforce!.url,
      stripe: system.simulators.stripe!.url,
      netsuite: system.simulators.netsuite!.url,
    };
  });
  afterAll(() => system.close());
  beforeEach(async () => {
    await Promise.all(Object.values(urls).map((url) => simCall(url, 'reset', {})));
  });

  it('is the query docs/api.md shows', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
    expect(readme).toContain(EXAMPLE.trim());
  });

  it('shows a paid invoice as owing nothing, with the billed figure kept as billedAmountDue', async () => {
    const stripe = await simCall(urls.stripe, 'state');
    const paid = stripe.invoices.find((i: any) => i.status === 'paid' && i.amount_due > 0);
    const open = stripe.invoices.find((i: any) => i.status === 'open' && i.amount_paid === 0);
    const query = `query($id: ID!) { invoice(id: $id) { status total { amount } amountDue { amount currency } billedAmountDue { amount } amountPaid { amount } } }`;
    const paidAnswer = (await system.gql(query, { id: paid.id })).body;
    expect(paidAnswer.errors).toBeUndefined();
    expect(paidAnswer.data.invoice).toMatchObject({
      status: 'PAID',
      amountDue: { amount: '0.00', currency: 'USD' },
      billedAmountDue: { amount: dollars(paid.amount_due) },
      amountPaid: { amount: dollars(paid.amount_paid) },
    });
    const openAnswer = (await system.gql(query, { id: open.id })).body;
    expect(openAnswer.data.invoice).toMatchObject({ status: 'OPEN', amountDue: { amount: dollars(open.amount_remaining) }, billedAmountDue: { amount: dollars(open.amount_due) } });
  });

  it('returns 50 customers with data from all three systems that matches the vendors', async () => {
    const { body } = await system.gql(EXAMPLE);
    expect(body.errors).toBeUndefined();
    const nodes = body.data.customers.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(50);

    const sf = await simCall(urls.salesforce, 'state');
    const stripe = await simCall(urls.stripe, 'state');
    const ns = await simCall(urls.netsuite, 'state');
    let invoicesChecked = 0;
    let posted = 0;

    for (const node of nodes) {
      const account = sf.Account.find((a: any) => a.Id === node.id);
      expect(node.name).toBe(account.Name);

      const refs = Object.fromEntries(node.externalRefs.map((r: any) => [r.system, r]));
      expect(refs.CRM).toEqual({ system: 'CRM', vendor: 'salesforce', id: account.Id });
      expect(refs.BILLING.id).toBe(account.Billing_Customer_Id__c);
      expect(refs.ERP.id).toBe(account.ERP_Customer_Id__c);

      const stripeCustomer = stripe.customers.find((c: any) => c.metadata.concord_customer_id === node.id);
      expect(stripeCustomer.id).toBe(refs.BILLING.id);
      const subscriptions = stripe.subscriptions.filter((s: any) => s.metadata.concord_customer_id === node.id);
      expect(node.contracts.map((c: any) => c.id).sort()).toEqual(subscriptions.map((s: any) => s.id).sort());
      expect(node.contracts.length).toBeGreaterThan(0);

      const stripeInvoices = stripe.invoices.filter((i: any) => i.customer === stripeCustomer.id);
      expect(node.invoices.map((i: any) => i.id).sort()).toEqual(stripeInvoices.map((i: any) => i.id).sort());
      for (const invoice of node.invoices) {
        const wire = stripeInvoices.find((i: any) => i.id === invoice.id);
        expect(invoice.status).toBe(wire.status.toUpperCase());
        expect(invoice.total).toEqual({ amount: dollars(wire.total), currency: 'USD' });
        const erpInvoice = ns.invoice.find((i: any) => i.externalId === invoice.id);
        expect(invoice.erpPosting.status).toBe(erpInvoice ? 'POSTED' : 'NOT_POSTED');
        expect(invoice.erpPosting.documentNumber).toBe(erpInvoice ? erpInvoice.tranId : null);
        invoicesChecked += 1;
        if (erpInvoice) posted += 1;
      }

      const erpCustomer = ns.customer.find((c: any) => c.externalId === node.id);
      expect(node.erp.customerNumber).toBe(erpCustomer.entityId);
      expect(node.erp.creditLimit).toEqual({ amount: Number(erpCustomer.creditLimit).toFixed(2), currency: 'USD' });
      expect(node.erp.creditHold).toBe(erpCustomer.creditHoldOverride.id === 'ON');
    }
    // The seed has invoices in every state, posted and not.
    expect(invoicesChecked).toBeGreaterThan(100);
    expect(posted).toBeGreaterThan(0);
    expect(posted).toBeLessThan(invoicesChecked);
  });

  it('is served by the three vendors in at most 25 calls', async () => {
    const { body } = await system.gql(EXAMPLE);
    expect(body.errors).toBeUndefined();
    const stats = await Promise.all(Object.values(urls).map((url) => simCall(url, 'stats')));
    const total = stats.reduce((sum, s) => sum + s.requests, 0);
    expect(stats.every((s) => s.requests > 0)).toBe(true);
    expect(total).toBeLessThanOrEqual(25);
  });

  it('returns CRM and ERP fields with a VENDOR_UNAVAILABLE error for BILLING when Stripe answers 503', async () => {
    await simCall(urls.stripe, 'faults', { rate: 1, kinds: ['503'] });
    const { status, body } = await system.gql(`{
      customers(first: 5) { edges { node { id name contracts { id } balance { amount } erp { customerNumber creditHold } } } }
    }`);
    expect(status).toBe(200);
    const nodes = body.data.customers.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(5);
    for (const node of nodes) {
      expect(node.name).toEqual(expect.any(String));
      expect(node.erp.customerNumber).toMatch(/^CUST-/);
      expect(node.contracts).toBeNull();
    }
    expect(body.errors!.length).toBeGreaterThan(0);
    for (const error of body.errors!) {
      expect(error.extensions).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'BILLING', retryable: true });
      expect(error.extensions.correlationId).toEqual(expect.any(String));
      expect(JSON.stringify(error)).not.toMatch(/sk_test|stack|api_error/);
    }
  });

  it('pages through customers with cursors, without overlap', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const { body }: { body: any } = await system.gql(
        'query($after: String) { customers(first: 20, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
        { after },
      );
      seen.push(...body.data.customers.edges.map((e: any) => e.node.id));
      if (!body.data.customers.pageInfo.hasNextPage) break;
      after = body.data.customers.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(50);
    expect(new Set(seen).size).toBe(50);
  });

  it('reads one customer, contract and invoice by id across systems', async () => {
    const list = await system.gql('{ customers(first: 1) { edges { node { id contracts { id } invoices(first: 1) { id } } } } }');
    const node = list.body.data.customers.edges[0].node;
    const { body } = await system.gql(
      `query($c: ID!, $k: ID!, $i: ID!) {
        customer(id: $c) { name erp { customerNumber } }
        contract(id: $k) { id status customer { id name } items { productCode quantity } }
        invoice(id: $i) { id total { amount } customer { name erp { creditHold } } erpPosting { status } }
      }`,
      { c: node.id, k: node.contracts[0].id, i: node.invoices[0].id },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.contract.customer).toEqual({ id: node.id, name: body.data.customer.name });
    expect(body.data.invoice.customer.name).toBe(body.data.customer.name);
    expect(body.data.invoice.erpPosting.status).toMatch(/POSTED/);
  });

  it('answers null for an unknown customer and BAD_USER_INPUT for a page too large', async () => {
    const missing = await system.gql('{ customer(id: "001Dn0000009999AAA") { name } }');
    expect(missing.body.data.customer).toBeNull();
    const big = await system.gql('{ customers(first: 5000) { edges { node { id } } } }');
    expect(big.body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('rejects a request without a token, and echoes the caller correlation id', async () => {
    const response = await fetch(`${system.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'corr-test-1' },
      body: JSON.stringify({ query: '{ customers { edges { node { id } } } }' }),
    });
    expect(response.status).toBe(401);
    const body: any = await response.json();
    expect(body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', correlationId: 'corr-test-1' });
  });

  it('has subgraphs that refuse requests not signed by the gateway', async () => {
    const response = await fetch(system.subgraphs.crm.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ customers { edges { node { id } } } }' }),
    });
    expect(response.status).toBe(401);
  });

  it('is healthy, and ready only while every subgraph answers', async () => {
    expect((await fetch(`${system.gateway.url}/health`)).status).toBe(200);
    const ready = await fetch(`${system.gateway.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, subgraphs: { crm: 'up', billing: 'up', erp: 'up' } });
  });
});
