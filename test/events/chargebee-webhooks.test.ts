/**
 * The Chargebee webhook handler (`/webhooks/chargebee`) on its own: deliveries authenticated by the
 * endpoint's Basic-auth credentials, Chargebee's event types normalised to BusinessEvents with the
 * canonical customer id from the custom field or the subscription's meta_data, redeliveries of one
 * event id appended once, Chargebee's echo of a Concord amendment dropped, and a customer Chargebee
 * no longer knows acknowledged rather than retried.
 */
import { createMemoryEventLog } from '../../core/events/memory-log';
import { createLogger } from '../../core/log';
import { createChargebeeWebhookHandler } from '../../vendors/chargebee/webhooks';

const CREDENTIALS = 'concord:hook-password';
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('Chargebee webhooks', () => {
  const lookups: string[] = [];
  const setup = (link: (id: string) => Promise<string | null> = async (id) => (lookups.push(id), `crm-of-${id}`)) => {
    const log = createMemoryEventLog();
    const handler = createChargebeeWebhookHandler({ credentials: CREDENTIALS, log, customerLink: link, logger: createLogger({ level: 'silent' }) });
    const deliver = (event: unknown, auth = basic(CREDENTIALS)) =>
      handler({ body: Buffer.from(JSON.stringify(event)), headers: { authorization: auth, 'content-type': 'application/json' } });
    return { log, deliver };
  };
  const event = (id: string, type: string, content: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id, occurred_at: 1764633600, source: 'admin_console', object: 'event', api_version: 'v2', event_type: type, content, ...extra,
  });
  const invoice = (status: string) => ({ id: 'CB-1001', customer_id: 'cus_1', subscription_id: 'sub_1', status });

  it('refuses deliveries without the endpoint\'s credentials, and bodies that are not events', async () => {
    const { log, deliver } = setup();
    expect((await deliver(event('ev_1', 'payment_succeeded', { invoice: invoice('paid') }), basic('concord:wrong'))).status).toBe(401);
    expect((await deliver(event('ev_1', 'payment_succeeded', { invoice: invoice('paid') }), 'Bearer x')).status).toBe(401);
    expect((await deliver({ hello: 'world' })).status).toBe(400);
    expect(await log.read(null, 100)).toEqual([]);
  });

  it('normalises Chargebee\'s event types, with the link from the custom field, the meta_data or a lookup', async () => {
    const { log, deliver } = setup();
    const customer = { id: 'cus_1', cf_concord_customer_id: '001CRM' };
    const subscription = { id: 'sub_1', customer_id: 'cus_1', status: 'active', meta_data: { concord_customer_id: '001META', concord_correlation_id: 'corr-1' } };
    const cases: [string, Record<string, unknown>, string | null, string | null][] = [
      ['pending_invoice_created', { invoice: invoice('pending') }, 'INVOICE_CREATED', 'crm-of-cus_1'],
      ['invoice_generated', { invoice: invoice('payment_due'), customer, subscription }, 'INVOICE_FINALIZED', '001META'],
      ['payment_succeeded', { invoice: invoice('paid'), customer }, 'INVOICE_PAID', '001CRM'],
      ['payment_succeeded', { invoice: invoice('payment_due'), customer }, null, null],
      ['payment_failed', { invoice: invoice('payment_due'), customer }, 'PAYMENT_FAILED', '001CRM'],
      ['invoice_updated', { invoice: invoice('voided') }, 'INVOICE_VOIDED', 'crm-of-cus_1'],
      ['invoice_updated', { invoice: invoice('payment_due') }, null, null],
      ['subscription_created', { subscription, customer }, 'CONTRACT_ACTIVATED', '001META'],
      ['subscription_changed', { subscription }, 'CONTRACT_AMENDED', '001META'],
      ['customer_changed', { customer }, null, null],
    ];
    for (const [i, [type, content, expected, customerId]] of cases.entries()) {
      const answer = await deliver(event(`ev_${i}`, type, content));
      expect(answer.status).toBe(200);
      if (expected === null) expect(answer.body).toMatchObject({ ignored: type });
    }
    const appended = await log.read(null, 100);
    expect(appended.map((e) => [e.type, e.customerId, e.source])).toEqual(
      cases.filter(([, , expected]) => expected !== null).map(([, , expected, customerId]) => [expected, customerId, 'BILLING']),
    );
    expect(appended.find((e) => e.type === 'INVOICE_FINALIZED')).toMatchObject({ invoiceId: 'CB-1001', contractId: 'sub_1', correlationId: 'corr-1' });
  });

  it('appends a redelivered event once, drops the API echo of a Concord amendment, and acknowledges an unknown customer', async () => {
    const { log, deliver } = setup();
    const paid = event('ev_paid', 'payment_succeeded', { invoice: invoice('paid'), customer: { id: 'cus_1', cf_concord_customer_id: '001CRM' } });
    expect((await deliver(paid)).body).toMatchObject({ duplicate: false });
    expect((await deliver(paid)).body).toMatchObject({ duplicate: true });
    const amended = { id: 'sub_1', customer_id: 'cus_1', status: 'active', meta_data: { concord_customer_id: '001CRM', concord_amendment_id: 'run-1' } };
    expect((await deliver(event('ev_echo', 'subscription_changed', { subscription: amended }, { source: 'api' }))).body).toMatchObject({ ignored: 'subscription_changed' });
    expect((await log.read(null, 100)).map((e) => e.type)).toEqual(['INVOICE_PAID']);

    const gone = setup(async () => {
      throw Object.assign(new Error('not found'), { http_status_code: 404, api_error_code: 'resource_not_found' });
    });
    const answer = await gone.deliver(event('ev_gone', 'payment_failed', { invoice: { ...invoice('payment_due'), customer_id: 'cus_gone' } }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ unprocessed: expect.stringContaining('404') });
    const down = setup(async () => {
      throw Object.assign(new Error('unavailable'), { http_status_code: 503 });
    });
    await expect(down.deliver(event('ev_down', 'payment_failed', { invoice: invoice('payment_due') }))).rejects.toThrow('unavailable');
  });
});
