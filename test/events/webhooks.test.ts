/**
 * Stripe webhook ingestion through the gateway, on Redis: signature checks (forged, stale,
 * tampered), de-duplication by Stripe event id, unknown types, and the simulator's own signed
 * deliveries, including a receiver outage that its retries ride out (delivered later, once).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BusinessEvent } from '../../core/events/event-log';
import { REDIS_URL } from '../helpers/redis';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { eventsPrefix, postStripeWebhook, sleep, stripeApi, stripeEvent } from './helpers';

describe('Stripe webhooks (redis)', () => {
  let system: TestSystem;
  let secret: string;
  const keys = eventsPrefix('webhooks');

  /** Events appended after `since` (the log's head before the action). */
  const appendedSince = async (since: string | null): Promise<BusinessEvent[]> => {
    const all = await system.events.log.read(since, 1000);
    return all;
  };

  /** A finalized-invoice event for one of the seeded customers, as Stripe would send it. */
  async function finalizedInvoiceEvent() {
    const state = await simCall(system.simulators.stripe!.url, 'state');
    const invoice = state.invoices.find((i: any) => i.status === 'open' && i.parent?.subscription_details);
    return { invoice, event: stripeEvent('invoice.finalized', invoice) };
  }

  beforeAll(async () => {
    system = await startTestSystem({ env: { REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_POLL_INTERVAL_MS: '0' } });
    secret = system.stripeWebhookSecret!;
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('refuses a forged, stale, tampered or unsigned delivery with 400 and appends nothing', async () => {
    const { event } = await finalizedInvoiceEvent();
    const head = await system.events.log.head();
    const forged = await postStripeWebhook(system.gateway.url, event, 'whsec_not_the_real_secret_at_all');
    const stale = await postStripeWebhook(system.gateway.url, event, secret, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    const tampered = await postStripeWebhook(system.gateway.url, event, secret, { tamper: true });
    const unsigned = await fetch(`${system.gateway.url}/webhooks/stripe`, { method: 'POST', body: JSON.stringify(event), headers: { 'content-type': 'application/json' } });
    expect([forged.status, stale.status, tampered.status, unsigned.status]).toEqual([400, 400, 400, 400]);
    expect(forged.body).toEqual({ error: 'signature verification failed' });
    expect(await appendedSince(head)).toEqual([]);
  });

  it('appends one canonical event for an event delivered twice (or concurrently)', async () => {
    const { invoice, event } = await finalizedInvoiceEvent();
    const head = await system.events.log.head();
    const first = await postStripeWebhook(system.gateway.url, event, secret);
    const again = await Promise.all([1, 2, 3].map(() => postStripeWebhook(system.gateway.url, event, secret)));
    expect(first).toMatchObject({ status: 200, body: { received: true, duplicate: false } });
    expect(again.map((r) => r.body.duplicate)).toEqual([true, true, true]);
    const appended = await appendedSince(head);
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({
      type: 'INVOICE_FINALIZED',
      source: 'BILLING',
      invoiceId: invoice.id,
      contractId: invoice.parent.subscription_details.subscription,
      customerId: invoice.parent.subscription_details.metadata.concord_customer_id,
      dedupeKey: `stripe:${event.id}`,
      data: { stripeEvent: event.id, status: 'open' },
    });
  });

  it('acknowledges an event type it does not follow, and ignores it', async () => {
    const head = await system.events.log.head();
    const response = await postStripeWebhook(system.gateway.url, stripeEvent('charge.dispute.created', { id: 'dp_1' }), secret);
    expect(response).toEqual({ status: 200, body: { received: true, ignored: 'charge.dispute.created' } });
    expect(await appendedSince(head)).toEqual([]);
  });

  it('ingests what the simulator signs and sends when its state changes', async () => {
    const state = await simCall(system.simulators.stripe!.url, 'state');
    const customer = state.customers.find((c: any) => c.metadata?.concord_customer_id);
    const head = await system.events.log.head();
    const created = await stripeApi(system.simulators.stripe!.url, 'POST', '/v1/invoices', { customer: customer.id, collection_method: 'send_invoice', days_until_due: '30' });
    expect(created.status).toBe(200);
    await stripeApi(system.simulators.stripe!.url, 'POST', `/v1/invoices/${created.body.id}/finalize`);
    const deadline = Date.now() + 30_000; // generous: a busy machine is slow, not wrong
    let mine: BusinessEvent[] = [];
    while (Date.now() < deadline) {
      mine = (await appendedSince(head)).filter((e) => e.invoiceId === created.body.id);
      if (mine.length >= 3) break;
      await sleep(50);
    }
    // Stripe does not promise order, and the simulator sends each event on its own: compare as sets.
    expect(mine.map((e) => e.type).sort()).toEqual(['INVOICE_CREATED', 'INVOICE_FINALIZED', 'INVOICE_PAID']);
    expect(mine.every((e) => e.customerId === customer.metadata.concord_customer_id)).toBe(true);
  });

  it('rides out a receiver outage: the simulator retries with backoff and the event lands once', async () => {
    // A stand-in for the gateway's ingress that is down, then answers after the work was done but
    // loses the answer (the worst case: Stripe retries an event that was appended), then recovers.
    let attempts = 0;
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        attempts += 1;
        if (attempts <= 2) {
          res.writeHead(503).end();
          return;
        }
        const forwarded = await fetch(`${system.gateway.url}/webhooks/stripe`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': String(req.headers['stripe-signature']) },
          body: Buffer.concat(chunks),
        });
        res.writeHead(attempts === 3 ? 500 : forwarded.status).end(await forwarded.text());
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const sim = system.simulators.stripe!.url;
    try {
      await simCall(sim, 'webhooks', { url: proxyUrl, secret, enabledEvents: ['invoice.created'], baseDelayMs: 100, maxDelayMs: 400 });
      const state = await simCall(sim, 'state');
      const customer = state.customers.find((c: any) => c.metadata?.concord_customer_id);
      const head = await system.events.log.head();
      const created = await stripeApi(sim, 'POST', '/v1/invoices', { customer: customer.id, collection_method: 'send_invoice', days_until_due: '30' });
      const deadline = Date.now() + 30_000;
      let stats = await simCall(sim, 'webhooks');
      while (stats.delivered < 1 && Date.now() < deadline) {
        await sleep(50);
        stats = await simCall(sim, 'webhooks');
      }
      expect(stats).toMatchObject({ delivered: 1, failedAttempts: 3, pending: 0, abandoned: 0 });
      expect(attempts).toBe(4);
      const mine = (await appendedSince(head)).filter((e) => e.invoiceId === created.body.id);
      expect(mine.map((e) => e.type)).toEqual(['INVOICE_CREATED']);
    } finally {
      await simCall(sim, 'webhooks', { url: `${system.gateway.url}/webhooks/stripe`, secret });
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
