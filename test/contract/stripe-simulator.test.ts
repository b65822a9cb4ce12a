/**
 * The Stripe simulator, driven through the official stripe SDK exactly as an application would:
 * if the SDK is happy and Stripe's documented behaviour holds, adapters tested against the
 * simulator will hold against Stripe.
 */
import Stripe from 'stripe';
import { buildSeed, STRIPE_TAX_RATE_ID } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { API_VERSION, startStripeSimulator } from '../../simulators/stripe/server';

const seed = buildSeed();

function client(sim: SimServer, key = 'sk_test_contract', config: Stripe.StripeConfig = {}): Stripe {
  const url = new URL(sim.url);
  return new Stripe(key, { host: url.hostname, port: url.port, protocol: 'http', maxNetworkRetries: 0, telemetry: false, ...config });
}

async function control<T = any>(sim: SimServer, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${sim.url}/__sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await response.json()) as T;
}

/** What a call threw, for assertions on Stripe's error classes and fields. */
async function failure(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to fail');
}

let sim: SimServer;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ seed });
  stripe = client(sim);
});
afterAll(() => sim.close());
afterEach(() => sim.reset());

describe('seed and wire shape', () => {
  test('serves the SDK’s pinned API version and the seed in Stripe’s shapes, without events', async () => {
    expect(API_VERSION).toBe(Stripe.API_VERSION);
    const fresh = await startStripeSimulator({ seed });
    try {
      const state = await control(fresh, 'state');
      expect(state.customers).toHaveLength(seed.customers.length);
      expect(state.subscriptions).toHaveLength(seed.contracts.length);
      expect(state.invoices).toHaveLength(seed.invoices.length);
      expect(state.events).toHaveLength(0);
    } finally {
      await fresh.close();
    }

    const seeded = seed.customers[3];
    const customer = await stripe.customers.retrieve(seeded.billingId);
    expect(customer.lastResponse.apiVersion).toBe(API_VERSION);
    expect(customer.lastResponse.requestId).toMatch(/^req_/);
    expect(customer).toMatchObject({
      object: 'customer',
      livemode: false,
      name: seeded.name,
      email: seeded.email,
      currency: 'usd',
      metadata: { concord_customer_id: seeded.crmId, erp_customer_id: seeded.erpId },
    });

    const ended = seed.contracts.find((c) => c.status === 'ended')!;
    const sub = await stripe.subscriptions.retrieve(ended.id);
    expect(sub.status).toBe('canceled');
    expect(sub.cancel_at).toBe(sub.ended_at);
    expect(sub.canceled_at).toBe(sub.ended_at);
    const canceled = await stripe.subscriptions.retrieve(seed.contracts.find((c) => c.status === 'canceled')!.id);
    expect(canceled.cancel_at).toBeNull();
    expect(canceled.ended_at).toBe(Date.parse(seed.contracts.find((c) => c.status === 'canceled')!.endDate!) / 1000);

    const seededInvoice = seed.invoices.find((i) => i.status === 'open')!;
    const invoice = await stripe.invoices.retrieve(seededInvoice.id);
    expect(invoice).toMatchObject({
      number: seededInvoice.number,
      status: 'open',
      subtotal: seededInvoice.subtotal,
      total: seededInvoice.total,
      amount_due: seededInvoice.amountDue,
      amount_remaining: seededInvoice.amountRemaining,
      parent: { type: 'subscription_details', subscription_details: { subscription: seededInvoice.contractId } },
    });
    expect(invoice.total_taxes).toEqual([expect.objectContaining({ amount: seededInvoice.tax, tax_rate_details: { tax_rate: STRIPE_TAX_RATE_ID } })]);
    expect(invoice.lines.data).toHaveLength(seededInvoice.lines.length);
  });

  test('prices carry the product code as lookup_key; the tax rate is 8% exclusive', async () => {
    const prices = await stripe.prices.list({ lookup_keys: ['CONCORD-PRO', 'SEAT'], active: true });
    expect(prices.data.map((p) => p.lookup_key).sort()).toEqual(['CONCORD-PRO', 'SEAT']);
    const pro = prices.data.find((p) => p.lookup_key === 'CONCORD-PRO')!;
    expect(pro).toMatchObject({ unit_amount: 120_000, recurring: expect.objectContaining({ interval: 'month' }), currency: 'usd' });
    const product = await stripe.products.retrieve(pro.product as string);
    expect(product.default_price).toBe(pro.id);
    const rate = await stripe.taxRates.retrieve(STRIPE_TAX_RATE_ID);
    expect(rate).toMatchObject({ percentage: 8, inclusive: false });
  });
});

describe('customers', () => {
  test('create, retrieve, update (metadata merges, empty string removes a key)', async () => {
    const created = await stripe.customers.create({ name: 'Nova Ltd', email: 'ap@nova.example', metadata: { a: '1', b: '2' } });
    expect(created.id).toMatch(/^cus_/);
    expect(created.created).toBeGreaterThan(1_700_000_000);
    const updated = await stripe.customers.update(created.id, { name: 'Nova Limited', metadata: { a: '', c: '3' } });
    expect(updated).toMatchObject({ name: 'Nova Limited', email: 'ap@nova.example', metadata: { b: '2', c: '3' } });
    expect(await stripe.customers.retrieve(created.id)).toMatchObject({ name: 'Nova Limited' });

    const events = await stripe.events.list({ type: 'customer.*', limit: 2 });
    expect(events.data.map((e) => e.type)).toEqual(['customer.updated', 'customer.created']);
    expect((events.data[0].data.previous_attributes as any).name).toBe('Nova Ltd');
  });

  test('lists newest first, pages with has_more / starting_after / ending_before, and auto-pages', async () => {
    const first = await stripe.customers.list({ limit: 7 });
    expect(first.data).toHaveLength(7);
    expect(first.has_more).toBe(true);
    expect(first.url).toBe('/v1/customers');
    const created = first.data.map((c) => c.created);
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    const second = await stripe.customers.list({ limit: 7, starting_after: first.data[6].id });
    expect(second.data.map((c) => c.id)).not.toContain(first.data[0].id);
    const back = await stripe.customers.list({ limit: 7, ending_before: second.data[0].id });
    expect(back.data.map((c) => c.id)).toEqual(first.data.map((c) => c.id));

    const all = await stripe.customers.list({ limit: 13 }).autoPagingToArray({ limit: 1000 });
    const state = await control(sim, 'state');
    expect(all).toHaveLength(state.customers.length);
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);

    const byEmail = await stripe.customers.list({ email: seed.customers[5].email });
    expect(byEmail.data.map((c) => c.id)).toEqual([seed.customers[5].billingId]);
    expect((await failure(stripe.customers.list({ limit: 101 }))).param).toBe('limit');
  });

  test('search by metadata with OR clauses, pages with next_page; more than 10 clauses is refused', async () => {
    const ids = seed.customers.slice(0, 3).map((c) => c.crmId);
    const query = ids.map((id) => `metadata['concord_customer_id']:'${id}'`).join(' OR ');
    const result = await stripe.customers.search({ query });
    expect(result.object).toBe('search_result');
    expect(result.data.map((c) => c.id).sort()).toEqual(seed.customers.slice(0, 3).map((c) => c.billingId).sort());

    const page1 = await stripe.customers.search({ query, limit: 2 });
    expect(page1.has_more).toBe(true);
    const page2 = await stripe.customers.search({ query, limit: 2, page: page1.next_page! });
    expect(page2.has_more).toBe(false);
    expect([...page1.data, ...page2.data].map((c) => c.id).sort()).toEqual(result.data.map((c) => c.id).sort());

    expect((await stripe.customers.search({ query: `email:'${seed.customers[9].email}'` })).data[0].id).toBe(seed.customers[9].billingId);
    expect((await stripe.customers.search({ query: `name~'${seed.customers[9].name.slice(0, 5)}'` })).data.length).toBeGreaterThan(0);

    const eleven = seed.customers.slice(0, 11).map((c) => `metadata['concord_customer_id']:'${c.crmId}'`).join(' OR ');
    const tooMany = await failure(stripe.customers.search({ query: eleven }));
    expect(tooMany).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.param).toBe('query');
    const mixed = await failure(stripe.customers.search({ query: `email:'a@b.c' AND name:'x' OR name:'y'` }));
    expect(mixed.message).toMatch(/AND and OR/);
    const badField = await failure(stripe.customers.search({ query: `colour:'red'` }));
    expect(badField.message).toMatch(/unsupported search field/);
  });
});

describe('subscriptions and invoices', () => {
  const customerOf = (i: number) => seed.customers[i].billingId;

  async function newSubscription(customer: string, quantity = 3) {
    const [pro] = (await stripe.prices.list({ lookup_keys: ['CONCORD-PRO'] })).data;
    return stripe.subscriptions.create({
      customer,
      items: [{ price: pro.id, quantity }],
      collection_method: 'send_invoice',
      days_until_due: 30,
      default_tax_rates: [STRIPE_TAX_RATE_ID],
      metadata: { concord_customer_id: 'crm-1' },
      expand: ['latest_invoice'],
    });
  }

  test('creating a send_invoice subscription makes it active with a first draft invoice carrying 8% tax', async () => {
    const sub = await newSubscription(customerOf(1));
    expect(sub.status).toBe('active');
    expect(sub.items.data[0]).toMatchObject({ quantity: 3, price: expect.objectContaining({ lookup_key: 'CONCORD-PRO' }) });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({
      status: 'draft',
      billing_reason: 'subscription_create',
      collection_method: 'send_invoice',
      subtotal: 360_000,
      total: 388_800,
      amount_due: 388_800,
      number: null,
      parent: { subscription_details: { subscription: sub.id, metadata: { concord_customer_id: 'crm-1' } } },
    });
    expect(invoice.total_taxes![0].amount).toBe(28_800);
    expect(invoice.automatically_finalizes_at).toBe(invoice.created + 3600);
    const listed = await stripe.invoices.list({ subscription: sub.id });
    expect(listed.data.map((i) => i.id)).toEqual([invoice.id]);
  });

  test('finalize -> pay; forbidden transitions answer Stripe’s errors; void and mark_uncollectible', async () => {
    const sub = await newSubscription(customerOf(2), 1);
    const draftId = (sub.latest_invoice as Stripe.Invoice).id;
    const voidDraft = await failure(stripe.invoices.voidInvoice(draftId));
    expect(voidDraft.code).toBe('invoice_not_editable');

    const open = await stripe.invoices.finalizeInvoice(draftId);
    expect(open.status).toBe('open');
    expect(open.number).toMatch(/^CNCD-\d{5}$/);
    expect(open.due_date).toBe(open.status_transitions.finalized_at! + 30 * 86_400);

    const refinalize = await failure(stripe.invoices.finalizeInvoice(draftId));
    expect(refinalize).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(refinalize.code).toBe('invoice_not_editable');
    expect(refinalize.message).toMatch(/already finalized/);

    const noMethod = await failure(stripe.invoices.pay(draftId));
    expect(noMethod.message).toMatch(/no attached payment source/);
    const paid = await stripe.invoices.pay(draftId, { paid_out_of_band: true });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: open.amount_due, amount_remaining: 0 });
    expect((await failure(stripe.invoices.voidInvoice(draftId))).code).toBe('invoice_not_editable');

    const other = await newSubscription(customerOf(4), 2);
    const otherId = (other.latest_invoice as Stripe.Invoice).id;
    await stripe.invoices.finalizeInvoice(otherId);
    expect((await stripe.invoices.markUncollectible(otherId)).status).toBe('uncollectible');
    const voided = await stripe.invoices.voidInvoice(otherId);
    expect(voided).toMatchObject({ status: 'void', amount_remaining: 0 });
    expect(voided.status_transitions.voided_at).not.toBeNull();

    const events = await stripe.events.list({ types: ['invoice.finalized', 'invoice.paid', 'invoice.voided'], limit: 10 });
    expect(events.data.filter((e) => e.type === 'invoice.finalized').map((e) => (e.data.object as Stripe.Invoice).id)).toEqual(
      expect.arrayContaining([draftId, otherId]),
    );
    const finalized = events.data.find((e) => e.type === 'invoice.finalized' && (e.data.object as Stripe.Invoice).id === draftId)!;
    expect((finalized.data.object as Stripe.Invoice).status).toBe('open'); // a snapshot, not today's state
    expect(await stripe.events.retrieve(finalized.id)).toMatchObject({ id: finalized.id, type: 'invoice.finalized' });
    const since = await stripe.events.list({ created: { gte: finalized.created }, limit: 100 });
    expect(since.data.map((e) => e.id)).toContain(finalized.id);
  });

  test('charge_automatically charges the default payment method; a decline leaves it incomplete', async () => {
    const [seat] = (await stripe.prices.list({ lookup_keys: ['SEAT'] })).data;
    const good = await stripe.customers.create({ name: 'Card OK', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const paid = await stripe.subscriptions.create({ customer: good.id, items: [{ price: seat.id }], expand: ['latest_invoice'] });
    expect(paid.status).toBe('active');
    expect((paid.latest_invoice as Stripe.Invoice).status).toBe('paid');

    const bad = await stripe.customers.create({ name: 'Card KO', invoice_settings: { default_payment_method: 'pm_card_chargeDeclined' } });
    const incomplete = await stripe.subscriptions.create({ customer: bad.id, items: [{ price: seat.id }], expand: ['latest_invoice'] });
    expect(incomplete.status).toBe('incomplete');
    expect((incomplete.latest_invoice as Stripe.Invoice).status).toBe('open');
    const failed = await stripe.events.list({ type: 'invoice.payment_failed', limit: 1 });
    expect((failed.data[0].data.object as Stripe.Invoice).id).toBe((incomplete.latest_invoice as Stripe.Invoice).id);

    const before = (await control(sim, 'state')).subscriptions.length;
    const declined = await failure(
      stripe.subscriptions.create({ customer: bad.id, items: [{ price: seat.id }], payment_behavior: 'error_if_incomplete' }),
    );
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((await control(sim, 'state')).subscriptions.length).toBe(before);
  });

  test('update quantities and metadata; cancel ends it, and a second cancel is a 404', async () => {
    const sub = await newSubscription(customerOf(6), 1);
    const updated = await stripe.subscriptions.update(sub.id, {
      items: [{ id: sub.items.data[0].id, quantity: 5 }],
      metadata: { concord_opportunity_id: 'opp-9' },
    });
    expect(updated.items.data[0].quantity).toBe(5);
    expect(updated.metadata).toEqual({ concord_customer_id: 'crm-1', concord_opportunity_id: 'opp-9' });
    const canceled = await stripe.subscriptions.cancel(sub.id);
    expect(canceled.status).toBe('canceled');
    expect(canceled.ended_at).toBe(canceled.canceled_at);
    expect((await failure(stripe.subscriptions.cancel(sub.id))).statusCode).toBe(404);
    expect((await failure(stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0].id, quantity: 1 }] }))).message).toMatch(
      /canceled subscription/,
    );
    const active = await stripe.subscriptions.list({ customer: customerOf(6) });
    expect(active.data.map((s) => s.id)).not.toContain(sub.id);
    const all = await stripe.subscriptions.list({ customer: customerOf(6), status: 'all' });
    expect(all.data.map((s) => s.id)).toContain(sub.id);
    const searched = await stripe.subscriptions.search({ query: `status:'canceled' AND metadata['concord_opportunity_id']:'opp-9'` });
    expect(searched.data.map((s) => s.id)).toEqual([sub.id]);
  });

  test('invoice list filters by customer, subscription and status; search ORs customers', async () => {
    const target = seed.customers[10];
    const expected = seed.invoices.filter((i) => i.customerIndex === target.index);
    const byCustomer = await stripe.invoices.list({ customer: target.billingId, limit: 100 });
    expect(byCustomer.data.map((i) => i.id).sort()).toEqual(expected.map((i) => i.id).sort());
    const contract = expected[0].contractId;
    const bySubscription = await stripe.invoices.list({ subscription: contract, limit: 100 });
    expect(bySubscription.data.every((i) => i.parent?.subscription_details?.subscription === contract)).toBe(true);
    const paid = await stripe.invoices.list({ customer: target.billingId, status: 'paid' });
    expect(paid.data.map((i) => i.id).sort()).toEqual(expected.filter((i) => i.status === 'paid').map((i) => i.id).sort());

    const three = seed.customers.slice(20, 23);
    const searched = await stripe.invoices.search({
      query: three.map((c) => `customer:'${c.billingId}'`).join(' OR '),
      limit: 100,
      expand: ['data.customer'],
    });
    const want = seed.invoices.filter((i) => three.some((c) => c.index === i.customerIndex));
    expect(searched.data.map((i) => i.id).sort()).toEqual(want.map((i) => i.id).sort());
    expect((searched.data[0].customer as Stripe.Customer).object).toBe('customer');
    const big = await stripe.invoices.search({ query: 'total>400000 AND status:\'paid\'', limit: 100 });
    expect(big.data.every((i) => i.total > 400_000 && i.status === 'paid')).toBe(true);

    const expanded = await stripe.invoices.retrieve(expected[0].id, { expand: ['customer'] });
    expect((expanded.customer as Stripe.Customer).metadata.concord_customer_id).toBe(target.crmId);
  });
});

describe('errors, idempotency, faults and auth', () => {
  test('resource_missing 404 and unknown parameters are answered as Stripe does', async () => {
    const missing = await failure(stripe.customers.retrieve('cus_doesnotexist'));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id', message: "No such customer: 'cus_doesnotexist'" });
    const unknown = await failure(stripe.customers.create({ colour: 'teal' } as Stripe.CustomerCreateParams));
    expect(unknown).toMatchObject({ statusCode: 400, code: 'parameter_unknown', message: 'Received unknown parameter: colour' });
    const nested = await failure(stripe.subscriptions.create({ customer: seed.customers[0].billingId, items: [{ price: 'price_1ConcordSEAT', colour: 'x' } as any] }));
    expect(nested.message).toBe('Received unknown parameter: items[0][colour]');
    const required = await failure(stripe.subscriptions.create({ items: [] } as any));
    expect(required).toMatchObject({ code: 'parameter_missing', param: 'customer' });
  });

  test('an Idempotency-Key replays the first answer and creates nothing new; other parameters are refused', async () => {
    const key = `contract-${Date.now()}`;
    const before = (await control(sim, 'state')).customers.length;
    const first = await stripe.customers.create({ name: 'Once Inc', metadata: { k: '1' } }, { idempotencyKey: key });
    const again = await stripe.customers.create({ name: 'Once Inc', metadata: { k: '1' } }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect((await control(sim, 'state')).customers.length).toBe(before + 1);

    const reused = await failure(stripe.customers.create({ name: 'Twice Inc' }, { idempotencyKey: key }));
    expect(reused).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(reused.message).toMatch(/same parameters/);
    expect((await control(sim, 'state')).customers.length).toBe(before + 1);
  });

  test('a request applied before a 500 is replayed for the same key, not applied twice', async () => {
    const key = `lost-answer-${Date.now()}`;
    const before = (await control(sim, 'state')).customers.length;
    await control(sim, 'faults', { rate: 1, kinds: ['500'], applyBeforeFail: 1 });
    const lost = await failure(stripe.customers.create({ name: 'Lost Answer' }, { idempotencyKey: key }));
    expect(lost).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(lost.headers?.['stripe-should-retry']).toBe('true');
    await control(sim, 'reset', {});
    const retried = await stripe.customers.create({ name: 'Lost Answer' }, { idempotencyKey: key });
    expect(retried.lastResponse.headers['idempotent-replayed']).toBe('true');
    const state = await control(sim, 'state');
    expect(state.customers.length).toBe(before + 1);
    expect(state.customers.filter((c: any) => c.name === 'Lost Answer')).toHaveLength(1);
  });

  test('429 answers as real Stripe does: a rate limit without Stripe-Should-Retry, a lock_timeout with it; 503 answers StripeAPIError', async () => {
    await control(sim, 'faults', { rate: 1, kinds: ['429'] });
    const limited = await failure(stripe.customers.retrieve(seed.customers[0].billingId));
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(limited.code).toBe('rate_limit');
    expect(limited.headers?.['stripe-should-retry']).toBeUndefined();
    const locked = await failure(stripe.customers.update(seed.customers[0].billingId, { description: 'locked' }));
    expect(locked).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(locked.code).toBe('lock_timeout');
    expect(locked.headers?.['stripe-should-retry']).toBe('true');
    await control(sim, 'faults', { rate: 1, kinds: ['503'] });
    const down = await failure(stripe.customers.retrieve(seed.customers[0].billingId));
    expect(down).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(down.statusCode).toBe(503);
  });

  test('keys: any sk_test_ key by default; only the required key when one is set', async () => {
    expect((await failure(client(sim, 'not-a-key').customers.list())).constructor).toBe(Stripe.errors.StripeAuthenticationError);
    const guarded = await startStripeSimulator({ seed, requiredApiKey: 'sk_test_the_right_key' });
    try {
      const wrong = await failure(client(guarded, 'sk_test_the_wrong_key').customers.list());
      expect(wrong).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(wrong.message).toMatch(/^Invalid API Key provided: sk_test_\*+_key$/);
      const right = await client(guarded, 'sk_test_the_right_key').customers.list({ limit: 1 });
      expect(right.data).toHaveLength(1);
    } finally {
      await guarded.close();
    }
  });

  test('/__sim/stats counts requests by route since the last reset', async () => {
    await control(sim, 'reset', {});
    await stripe.customers.retrieve(seed.customers[0].billingId);
    await stripe.customers.retrieve(seed.customers[1].billingId);
    await stripe.invoices.list({ limit: 1 });
    const stats = await control(sim, 'stats');
    expect(stats.requests).toBe(3);
    expect(stats.byRoute).toEqual({ 'GET /v1/customers/:id': 2, 'GET /v1/invoices': 1 });
  });
});
