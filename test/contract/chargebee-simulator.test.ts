/**
 * The Chargebee simulator as the official chargebee-node SDK sees it, unchanged (only its site,
 * hostSuffix, protocol and port point at the simulator): Basic-auth API keys, list filters and
 * paging, idempotency keys replayed and refused on other input, pending invoices closed and voided
 * by Chargebee's rules, proration onto an invoice of its own, cancellation, Chargebee's error shape
 * for injected faults and the per-minute limit, and webhook delivery with Basic auth, retried.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Chargebee from 'chargebee';
import { buildSeed } from '../../simulators/common/seed';
import { createChargebeeSimulator } from '../../simulators/chargebee/server';
import type { SimServer } from '../../simulators/common/sim-server';
import { simCall } from '../helpers/system';

const seed = buildSeed();

describe('Chargebee simulator with the official SDK', () => {
  let sim: SimServer;
  let cb: InstanceType<typeof Chargebee>;
  const sdk = (apiKey: string) => {
    const url = new URL(sim.url);
    return new Chargebee({ site: url.hostname, hostSuffix: '', protocol: 'http', port: Number(url.port), apiKey, sdkTelemetryEnabled: false });
  };
  const failure = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as { http_status_code: number; api_error_code: string; message: string; type?: string };
    }
    throw new Error('expected the call to fail');
  };

  beforeAll(async () => {
    sim = await createChargebeeSimulator({ seed }).listen(0, '127.0.0.1');
    cb = sdk('test_contract_suite_key');
  });
  afterAll(() => sim.close());

  it('requires a Basic-auth API key, answering Chargebee\'s 401', async () => {
    const error = await failure(sdk('not-a-key').customer.list({ limit: 1 }));
    expect(error).toMatchObject({ http_status_code: 401, api_error_code: 'api_authentication_failed' });
  });

  it('lists the seeded customers newest first in pages, and filters by the custom field and ids', async () => {
    const ids: string[] = [];
    let offset: string | undefined;
    let pages = 0;
    do {
      const page = await cb.customer.list({ limit: 20, ...(offset ? { offset } : {}) });
      ids.push(...page.list.map((e) => e.customer.id));
      offset = page.next_offset;
      pages++;
    } while (offset);
    expect(pages).toBe(3);
    expect(new Set(ids).size).toBe(seed.customers.length);
    const [a, b] = seed.customers;
    const linked = await cb.customer.list({ limit: 100, cf_concord_customer_id: { in: [a.crmId, b.crmId] } });
    expect(linked.list.map((e) => e.customer.id).sort()).toEqual([a.billingId, b.billingId].sort());
    const subscriptions = await cb.subscription.list({ limit: 100, customer_id: { in: [a.billingId] } });
    expect(subscriptions.list.map((e) => e.subscription.id).sort()).toEqual(seed.contracts.filter((c) => c.customerIndex === a.index).map((c) => c.id).sort());
    expect(subscriptions.list.every((e) => e.customer?.id === a.billingId)).toBe(true);
    const bad = await failure(cb.customer.list({ limit: 500 }));
    expect(bad).toMatchObject({ http_status_code: 400, api_error_code: 'param_wrong_value' });
  });

  it('replays a write with the same idempotency key, and refuses the key with another request', async () => {
    const customer = seed.customers[3].billingId;
    const params = { subscription_items: [{ item_price_id: 'CONCORD-PRO-USD-Monthly', quantity: 1 }], create_pending_invoices: true, first_invoice_pending: true, auto_close_invoices: false, meta_data: { concord_opportunity_id: 'opp-1' } };
    const key = { 'chargebee-idempotency-key': 'contract-key-1' };
    const first = await cb.subscription.createWithItems(customer, params, key);
    const second = await cb.subscription.createWithItems(customer, params, key);
    expect(second.subscription.id).toBe(first.subscription.id);
    expect(String(second.isIdempotencyReplayed)).toBe('true');
    expect(String(first.isIdempotencyReplayed)).toBe('false');
    expect((await cb.subscription.list({ limit: 100, customer_id: { is: customer } })).list.filter((e) => e.subscription.id === first.subscription.id)).toHaveLength(1);
    const other = await failure(cb.subscription.createWithItems(customer, { ...params, subscription_items: [{ item_price_id: 'CONCORD-BASIC-USD-Monthly', quantity: 1 }] }, key));
    expect(other.http_status_code).toBe(409);
  });

  it('keeps the first invoice pending until closed, voids only closed unpaid invoices, prorates an increase on its own invoice', async () => {
    const customer = seed.customers[4].billingId;
    const created = await cb.subscription.createWithItems(customer, {
      subscription_items: [{ item_price_id: 'CONCORD-BASIC-USD-Monthly', quantity: 1 }, { item_price_id: 'SEAT-USD-Monthly', quantity: 2 }],
      create_pending_invoices: true, first_invoice_pending: true, auto_close_invoices: false, auto_collection: 'off',
    });
    const first = created.invoice!;
    expect(first).toMatchObject({ status: 'pending', sub_total: 50_000 + 2 * 2_500, tax: Math.round(50_000 * 0.08) + Math.round(5_000 * 0.08) });
    expect(await failure(cb.invoice.voidInvoice(first.id))).toMatchObject({ http_status_code: 400, api_error_code: 'invalid_state_for_request' });
    const closed = await cb.invoice.close(first.id);
    expect(closed.invoice.status).toBe('payment_due');
    expect(await failure(cb.invoice.close(first.id))).toMatchObject({ api_error_code: 'invalid_state_for_request' });
    expect((await cb.invoice.voidInvoice(first.id)).invoice.status).toBe('voided');

    const updated = await cb.subscription.updateForItems(created.subscription.id, {
      subscription_items: [{ item_price_id: 'CONCORD-BASIC-USD-Monthly', quantity: 1 }, { item_price_id: 'SEAT-USD-Monthly', quantity: 5 }],
      replace_items_list: true, prorate: true, invoice_immediately: true, po_number: 'concord-amendment:run-1',
    });
    expect(updated.subscription.subscription_items?.find((i) => i.item_price_id === 'SEAT-USD-Monthly')?.quantity).toBe(5);
    const proration = updated.invoice!;
    expect(proration).toMatchObject({ status: 'pending', po_number: 'concord-amendment:run-1' });
    expect(proration.line_items?.map((l) => l.entity_id)).toEqual(['SEAT-USD-Monthly']);
    expect(proration.sub_total).toBeGreaterThan(0);
    expect(proration.sub_total).toBeLessThanOrEqual(3 * 2_500);

    const cancelled = await cb.subscription.cancelForItems(created.subscription.id, { end_of_term: false });
    expect(cancelled.subscription.status).toBe('cancelled');
    expect(await failure(cb.subscription.cancelForItems(created.subscription.id, {}))).toMatchObject({ api_error_code: 'invalid_state_for_request' });
    expect(await failure(cb.invoice.retrieve('CB-does-not-exist'))).toMatchObject({ http_status_code: 404, api_error_code: 'resource_not_found' });
  });

  it('answers injected faults and the per-minute limit in Chargebee\'s shape', async () => {
    await simCall(sim.url, 'faults', { rate: 1, kinds: ['429'] });
    try {
      expect(await failure(cb.itemPrice.list({ limit: 1 }))).toMatchObject({ http_status_code: 429, api_error_code: 'api_request_limit_exceeded' });
    } finally {
      await simCall(sim.url, 'faults', { rate: 0, kinds: [] });
    }
    await simCall(sim.url, 'limits', { requestsPerMinute: 3 });
    try {
      for (let i = 0; i < 3; i++) await cb.itemPrice.list({ limit: 1 });
      expect(await failure(cb.itemPrice.list({ limit: 1 }))).toMatchObject({ http_status_code: 429, api_error_code: 'api_request_limit_exceeded' });
    } finally {
      await simCall(sim.url, 'limits', { requestsPerMinute: null });
    }
    expect((await cb.itemPrice.list({ limit: 1 })).list).toHaveLength(1);
  });

  it('delivers events as Chargebee\'s event JSON with the endpoint\'s Basic auth, retrying a failed delivery', async () => {
    const received: { auth: string; body: any }[] = [];
    let refuseNext = true;
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(refuseNext ? 500 : 200).end();
        refuseNext = false;
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      await simCall(sim.url, 'webhooks', { url, username: 'concord', password: 'hook-secret' });
      const created = await cb.customer.create({ company: 'Webhook Test Ltd', cf_concord_customer_id: 'crm-webhook-1' });
      const deadline = Date.now() + 20_000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received.length).toBeGreaterThanOrEqual(2);
      const [refused, delivered] = received;
      expect(refused.body.id).toBe(delivered.body.id);
      expect(delivered.auth).toBe(`Basic ${Buffer.from('concord:hook-secret').toString('base64')}`);
      expect(delivered.body).toMatchObject({ event_type: 'customer_created', api_version: 'v2', object: 'event', content: { customer: { id: created.customer.id, cf_concord_customer_id: 'crm-webhook-1' } } });
      expect(typeof delivered.body.occurred_at).toBe('number');
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
