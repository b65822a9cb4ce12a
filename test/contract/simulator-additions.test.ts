/**
 * What the simulators gained for amendments and reconciliation, as a client of the vendor sees it:
 * Stripe's prorations (pending by default, invoiced with always_invoice, none with none), the
 * proration date rule, credits carried on the customer's balance; NetSuite credit memos over REST
 * and in SuiteQL's transaction table, and UPPER()/LOWER() in SuiteQL conditions.
 */
import Stripe from 'stripe';
import { buildSeed } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { startNetSuiteSimulator } from '../../simulators/netsuite/server';
import { startStripeSimulator } from '../../simulators/stripe/server';
import { createTbaSigner } from '../../vendors/netsuite/client';

const seed = buildSeed({ customers: 12 });
const HALF_NOVEMBER = Date.UTC(2026, 10, 16) / 1000;

describe('Stripe simulator: prorations', () => {
  let sim: SimServer;
  let stripe: Stripe;
  const state = async () => (await (await fetch(`${sim.url}/__sim/state`)).json()) as any;

  beforeAll(async () => {
    sim = await startStripeSimulator({ seed });
    const url = new URL(sim.url);
    stripe = new Stripe('sk_test_prorations', { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 });
  });
  afterAll(() => sim.close());

  const active = (n: number) => seed.contracts.filter((c) => c.status === 'active' && c.items.some((i) => i.productCode === 'SEAT'))[n];

  test('by default (create_prorations) the proration items wait, pending, for the next invoice', async () => {
    const contract = active(0);
    const subscription = await stripe.subscriptions.retrieve(contract.id);
    const seat = subscription.items.data.find((i) => i.price.lookup_key === 'SEAT')!;
    await stripe.subscriptions.update(contract.id, { items: [{ id: seat.id, quantity: (seat.quantity ?? 0) + 1 }], proration_date: HALF_NOVEMBER });
    const items = (await state()).invoiceitems.filter((i: any) => i.parent?.subscription_details?.subscription === contract.id);
    expect(items.map((i: any) => [i.proration, i.invoice, Math.sign(i.amount)])).toEqual([
      [true, null, -1],
      [true, null, 1],
    ]);
    expect(items[1].amount).toBe(Math.round(2500 * ((seat.quantity ?? 0) + 1) * 0.5));
    expect((await state()).invoices.filter((i: any) => i.billing_reason === 'subscription_update' && i.parent?.subscription_details?.subscription === contract.id)).toHaveLength(0);
  });

  test('a proration date before the current period is refused, and nothing changes', async () => {
    const contract = active(1);
    const subscription = await stripe.subscriptions.retrieve(contract.id);
    const seat = subscription.items.data.find((i) => i.price.lookup_key === 'SEAT')!;
    await expect(
      stripe.subscriptions.update(contract.id, { items: [{ id: seat.id, quantity: 99 }], proration_behavior: 'always_invoice', proration_date: Date.UTC(2026, 0, 1) / 1000 }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'proration_date' });
    // Refused before anything changed.
    const after = await stripe.subscriptions.retrieve(contract.id);
    expect(after.items.data.find((i) => i.price.lookup_key === 'SEAT')!.quantity).toBe(seat.quantity);
  });

  test('a credit is not owed: a negative invoice is paid on finalizing and its credit pays the next invoice', async () => {
    const contract = active(2);
    const customer = seed.customers[contract.customerIndex].billingId;
    const subscription = await stripe.subscriptions.retrieve(contract.id);
    const seat = subscription.items.data.find((i) => i.price.lookup_key === 'SEAT')!;
    const down = await stripe.subscriptions.update(contract.id, {
      items: [{ id: seat.id, quantity: (seat.quantity ?? 0) - 2 }],
      proration_behavior: 'always_invoice',
      proration_date: HALF_NOVEMBER,
    });
    const credit = await stripe.invoices.finalizeInvoice(down.latest_invoice as string);
    expect(credit.total).toBeLessThan(0);
    expect(credit).toMatchObject({ status: 'paid', amount_due: 0, ending_balance: credit.total });
    expect((await stripe.customers.retrieve(customer)) as Stripe.Customer).toMatchObject({ balance: credit.total });

    const up = await stripe.subscriptions.update(contract.id, {
      items: [{ id: seat.id, quantity: (seat.quantity ?? 0) + 5 }],
      proration_behavior: 'always_invoice',
      proration_date: HALF_NOVEMBER,
    });
    const charge = await stripe.invoices.finalizeInvoice(up.latest_invoice as string);
    expect(charge).toMatchObject({ starting_balance: credit.total, amount_due: charge.total + credit.total, ending_balance: 0 });
    expect(((await stripe.customers.retrieve(customer)) as Stripe.Customer).balance).toBe(0);
  });
});

describe('NetSuite simulator: credit memos and case-insensitive SuiteQL', () => {
  let sim: SimServer;
  const sign = createTbaSigner({ accountId: 'TSTDRV1234567', consumerKey: 'ck', consumerSecret: 'cs', tokenId: 'tk', tokenSecret: 'ts' });
  const call = async (method: string, path: string, body?: unknown, query = '') => {
    const url = `${sim.url}${path}${query}`;
    const response = await fetch(url, {
      method,
      headers: { authorization: sign(method, url), 'content-type': 'application/json', prefer: 'transient' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const suiteql = (q: string) => call('POST', '/services/rest/query/v1/suiteql', { q });

  beforeAll(async () => {
    sim = await startNetSuiteSimulator({ seed });
  });
  afterAll(() => sim.close());

  test('UPPER() and LOWER() make a condition case-insensitive', async () => {
    const upper = await suiteql("SELECT companyname FROM customer WHERE UPPER(companyname) LIKE '%ACME%'");
    expect(upper.body.items.map((r: any) => r.companyname)).toEqual(['Acme Corp']);
    const lower = await suiteql("SELECT companyname FROM customer WHERE LOWER(companyname) = 'globex corp'");
    expect(lower.body.items.map((r: any) => r.companyname)).toEqual(['Globex Corp']);
    const exact = await suiteql("SELECT companyname FROM customer WHERE companyname LIKE '%ACME%'");
    expect(exact.body.items).toEqual([]);
  });

  test('a credit memo is written like an invoice, read back with a positive total, and is a negative CustCred in SuiteQL', async () => {
    const customer = seed.customers[3];
    const put = await call('PUT', '/services/rest/record/v1/creditMemo/eid:in_credit_sim_1', {
      entity: { externalId: customer.crmId },
      tranDate: '2026-11-20',
      taxTotal: 2,
      item: { items: [{ item: { id: '504' }, description: 'Unused time', quantity: 1, amount: 25 }] },
    }, '?replace=item');
    expect(put.status).toBe(204);
    const record = await call('GET', '/services/rest/record/v1/creditMemo/eid:in_credit_sim_1');
    expect(record.body).toMatchObject({ externalId: 'in_credit_sim_1', total: 27, tranId: expect.stringMatching(/^CM/), status: { refName: 'Open' } });
    const rows = await suiteql("SELECT type, foreigntotal, status FROM transaction WHERE externalid = 'in_credit_sim_1'");
    expect(rows.body.items).toEqual([expect.objectContaining({ type: 'CustCred', foreigntotal: '-27', status: 'A' })]);
    await call('POST', '/__sim/periods', { closed: ['2026-11'] });
    try {
      const refused = await call('DELETE', '/services/rest/record/v1/creditMemo/eid:in_credit_sim_1');
      expect(refused.status).toBe(400);
    } finally {
      await call('POST', '/__sim/periods', { closed: [] });
    }
    expect((await call('DELETE', '/services/rest/record/v1/creditMemo/eid:in_credit_sim_1')).status).toBe(204);
  });
});
