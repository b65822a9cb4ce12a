/**
 * Webhook ingress under abuse, through `POST /webhooks/stripe` of a real system: well-signed events
 * Concord cannot use are acknowledged and said to be unprocessed (not 500 for Stripe to retry for
 * days), and a flood of forged deliveries does not write a log line each.
 */
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import { createLogger } from '../../core/log';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { raw } from './helpers';

const SECRET = 'whsec_ingressTestSecret0123456789';

describe('webhook ingress under abuse', () => {
  let system: TestSystem;
  const lines: string[] = [];

  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    system = await startTestSystem({ env: { STRIPE_WEBHOOK_SECRET: SECRET }, system: { logger: createLogger({ level: 'warn', destination }) } });
  }, 60_000);
  afterAll(() => system?.close());

  const deliver = (payload: string, secret = SECRET) =>
    raw(`${system.gateway.url}/webhooks/stripe`, {
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      body: payload,
    });

  it('acknowledges a well-signed event it cannot use, and says so', async () => {
    const payload = JSON.stringify({ id: `evt_unusable_${Date.now()}`, object: 'event', type: 'invoice.paid', created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'in_nobody0000000000', object: 'invoice', customer: 'cus_nobody00000000', status: 'paid', metadata: {}, lines: { data: [] } } } });
    const response = await deliver(payload);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ received: true, unprocessed: expect.stringMatching(/stripe refused a lookup/) });
    // Redelivered, it is acknowledged again: it never turns into a retry loop.
    expect((await deliver(payload)).status).toBe(200);
  });

  it('writes a bounded number of warnings for a flood of forged deliveries', async () => {
    const before = lines.filter((l) => l.includes('stripe webhook refused')).length;
    const responses = [];
    for (let i = 0; i < 40; i++) responses.push(await deliver(JSON.stringify({ id: `evt_forged_${i}`, object: 'event', type: 'customer.updated' }), 'whsec_notTheSecret000000000'));
    expect(responses.every((r) => r.status === 400)).toBe(true);
    const written = lines.filter((l) => l.includes('stripe webhook refused')).length - before;
    // All 40 were refused, and only the first was logged (the next line would carry the suppressed count).
    expect(written).toBe(1);
  });
});
