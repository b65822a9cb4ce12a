/**
 * Business Central as the ERP (CONCORD_ERP=businesscentral), Salesforce and Stripe as today,
 * through the gateway: the unified customer view answers with BC's figures, an order-to-cash run
 * completes with exactly one customer and one posted sales invoice in Business Central (read from
 * its simulator's state), and a change made in BC behind Concord's back reaches a subscription
 * through the polling change feed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL } from '../helpers/redis';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { toCode } from '../../vendors/businesscentral/mapping';
import { eventsPrefix, subscribe, wsClient } from '../events/helpers';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const EXAMPLE = readFileSync(path.join(__dirname, '..', '..', 'examples', 'unified-view.graphql'), 'utf8');
const bc = SIMULATOR_CREDENTIALS.businesscentral;

describe('Business Central as the ERP, through the gateway', () => {
  let system: TestSystem;
  let bcUrl: string;
  const keys = eventsPrefix('bc-erp');
  const clients: { dispose(): void | Promise<void> }[] = [];

  beforeAll(async () => {
    system = await startTestSystem({
      env: { CONCORD_ERP: 'businesscentral', REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_POLL_INTERVAL_MS: '300', CONCORD_O2C_LEASE_MS: '5000' },
    });
    expect(system.simulators.netsuite).toBeUndefined();
    bcUrl = system.simulators.businesscentral!.url;
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await system.close();
    await keys.cleanup();
  });

  /** The BC API as any integration calls it: a client-credentials token, then companies({id})/... */
  async function bcApi(method: string, relative: string, body?: unknown, headers: Record<string, string> = {}) {
    const grant = (await (
      await fetch(`${bcUrl}/${bc.tenant}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'someone-else', client_secret: 's', scope: 'https://api.businesscentral.dynamics.com/.default' }),
      })
    ).json()) as { access_token: string };
    const api = `${bcUrl}/v2.0/${bc.tenant}/${bc.environment}/api/v2.0`;
    const auth = { authorization: `Bearer ${grant.access_token}` };
    const companies = (await (await fetch(`${api}/companies`, { headers: auth })).json()) as { value: { id: string }[] };
    const response = await fetch(`${api}/companies(${companies.value[0].id})/${relative}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
  }

  it('answers the unified customer view with the ERP side from Business Central, in batched calls', async () => {
    const before = system.vendorCalls.length;
    const { body } = await system.gql(EXAMPLE);
    expect(body.errors).toBeUndefined();
    const nodes = body.data.customers.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(50);
    const state = await simCall(bcUrl, 'state');
    for (const node of nodes) {
      const held = state.customers.find((c: any) => c.number === toCode(node.id, 20, 'id'));
      expect(held).toBeDefined();
      expect(node.erp).toEqual({
        customerNumber: held.number,
        creditLimit: { amount: held.creditLimit.toFixed(2), currency: 'USD' },
        creditHold: held.blocked !== ' ',
        arBalance: { amount: held.balanceDue.toFixed(2), currency: 'USD' },
      });
      for (const invoice of node.invoices.filter((i: any) => i.erpPosting.status === 'POSTED')) {
        const document = state.salesInvoices.find((d: any) => d.externalDocumentNumber === toCode(invoice.id, 35, 'id'));
        expect(invoice.erpPosting).toEqual({ status: 'POSTED', documentNumber: document.number, period: document.postingDate.slice(0, 7) });
      }
    }
    expect(nodes.some((n: any) => n.invoices.some((i: any) => i.erpPosting.status === 'POSTED'))).toBe(true);
    // Batched: a handful of Business Central calls for 50 customers, not one per customer.
    // (The change feed polls meanwhile: its calls and the token's are not the view's.)
    const bcCalls = system.vendorCalls.slice(before).filter((c) => c.vendor === 'businesscentral' && !['oauth.token', 'changes.batch', 'companies.list'].includes(c.operation));
    expect(bcCalls.map((c) => c.operation).sort()).toEqual(['customers.batch', 'salesInvoices.batch']);
  });

  it('reconciles the consistent seed with no drift, and finds a posting canceled in Business Central behind Concord\'s back', async () => {
    const RUN = `mutation { runReconciliation { status driftCount drifts { kind system subjectId invoice { id } } vendorCalls { system calls } } }`;
    const clean = (await system.gql(RUN)).body;
    expect(clean.errors).toBeUndefined();
    expect(clean.data.runReconciliation).toMatchObject({ status: 'COMPLETED', driftCount: 0, drifts: [] });
    const erpCalls = clean.data.runReconciliation.vendorCalls.find((c: any) => c.system === 'ERP').calls;
    expect(erpCalls).toBeLessThanOrEqual(4);

    const state = await simCall(bcUrl, 'state');
    const posted = state.salesInvoices.find((d: any) => d.status === 'Open');
    // Canceled as a BC user would (Microsoft.NAV.cancel), not through Concord.
    expect((await bcApi('POST', `salesInvoices(${posted.id})/Microsoft.NAV.cancel`)).status).toBe(204);
    const drifted = (await system.gql(RUN)).body.data.runReconciliation;
    expect(drifted.driftCount).toBeGreaterThanOrEqual(1);
    expect(drifted.drifts.some((d: any) => d.system === 'ERP' && toCode(d.invoice?.id ?? d.subjectId, 35, 'id') === posted.externalDocumentNumber)).toBe(true);
  });

  it('completes order-to-cash with exactly one customer and one posted sales invoice in Business Central', async () => {
    const [opp] = await readyOpportunities(system.simulators.salesforce!.url);
    const started = await startRun(system, opp.id, `bc-o2c-${opp.id}`);
    expect(started.body.errors).toBeUndefined();
    const run = await waitForRun(system, started.body.data.startOrderToCash.id);
    expect(run.status).toBe('COMPLETED');
    const invoiceId = run.steps.find((s: any) => s.name === 'invoice').externalId as string;
    expect(invoiceId).toMatch(/^in_/);

    const state = await simCall(bcUrl, 'state');
    expect(state.customers.filter((c: any) => c.number === toCode(opp.accountId, 20, 'id'))).toHaveLength(1);
    const documents = state.salesInvoices.filter((d: any) => d.externalDocumentNumber === toCode(invoiceId, 35, 'id'));
    expect(documents).toHaveLength(1);
    expect(documents[0].status).toBe('Open');
    expect(documents[0].salesInvoiceLines.map((l: any) => l.description)).toContainEqual(`Concord correlation id ${run.correlationId}`);
    const stripe = await simCall(system.simulators.stripe!.url, 'state');
    const billed = stripe.invoices.find((i: any) => i.id === invoiceId);
    expect(documents[0].totalAmountIncludingTax).toBeCloseTo(billed.total / 100, 2);

    const { body } = await system.gql(`query($id: ID!) { invoice(id: $id) { erpPosting { status documentNumber } } }`, { id: invoiceId });
    expect(body.data.invoice.erpPosting).toEqual({ status: 'POSTED', documentNumber: documents[0].number });
  });

  it('completes order-to-cash under 20% Business Central faults with exactly one effect in BC per run', async () => {
    const opportunities = (await readyOpportunities(system.simulators.salesforce!.url)).slice(0, 4);
    expect(opportunities).toHaveLength(4);
    await simCall(bcUrl, 'faults', { rate: 0.2, kinds: ['429', '500', '503', 'reset'], applyBeforeFail: 0.5, seed: 16 });
    let runs: any[];
    try {
      const started = await Promise.all(opportunities.map((opp) => startRun(system, opp.id, `bc-faults-${opp.id}`)));
      runs = await Promise.all(started.map((r) => waitForRun(system, r.body.data.startOrderToCash.id, undefined, 120_000)));
    } finally {
      await simCall(bcUrl, 'faults', { rate: 0, kinds: [] });
    }
    const stats = await simCall(bcUrl, 'stats');
    expect(Object.values(stats.faults as Record<string, number>).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const state = await simCall(bcUrl, 'state');
    for (const [i, run] of runs.entries()) {
      expect(run.status).toBe('COMPLETED');
      const invoiceId = run.steps.find((s: any) => s.name === 'invoice').externalId as string;
      expect(state.customers.filter((c: any) => c.number === toCode(opportunities[i].accountId, 20, 'id'))).toHaveLength(1);
      const documents = state.salesInvoices.filter((d: any) => d.externalDocumentNumber === toCode(invoiceId, 35, 'id'));
      expect(documents.map((d: any) => d.status)).toEqual(['Open']);
    }
  }, 180_000);

  it('delivers a credit hold set in Business Central behind Concord\'s back to a subscription (polled change feed)', async () => {
    const state = await simCall(bcUrl, 'state');
    const target = state.customers.find((c: any) => c.blocked === ' ' && /^001/.test(c.number));
    const customerId = (await system.gql('{ customers(first: 50) { edges { node { id } } } }')).body.data.customers.edges
      .map((e: any) => e.node.id)
      .find((id: string) => toCode(id, 20, 'id') === target.number) as string;
    expect(customerId).toBeDefined();
    const head = (await system.events.log.head()) ?? '0-0';
    const client = wsClient(system.gateway.url, system.token);
    clients.push(client);
    const sub = subscribe(client, `subscription($id: ID!, $after: String) { customerEvents(customerId: $id, after: $after) { id type source detail customer { id erp { creditHold } } } }`, {
      id: customerId,
      after: head,
    });
    const current = (await bcApi('GET', `customers(${target.id})`)).body;
    const patched = await bcApi('PATCH', `customers(${target.id})`, { blocked: 'Ship' }, { 'if-match': current['@odata.etag'] });
    expect(patched.body.blocked).toBe('Ship');
    const payloads = await sub.until((p) => p.some((x) => x.data?.customerEvents.type === 'CUSTOMER_UPDATED' && x.data.customerEvents.source === 'ERP'), 30_000);
    const event = payloads.map((p) => p.data.customerEvents).find((e: any) => e.type === 'CUSTOMER_UPDATED' && e.source === 'ERP');
    expect(JSON.parse(event.detail ?? '{}')).toMatchObject({ creditHold: true });
    expect(event.customer).toMatchObject({ id: customerId, erp: { creditHold: true } });
    sub.stop();
  });
});
