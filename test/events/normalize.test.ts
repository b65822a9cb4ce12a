/**
 * Vendor and run changes as canonical events: Stripe event types, subscription status changes, and
 * what one saved run change appends.
 */
import type Stripe from 'stripe';
import { normalizeStripeEvent } from '../../vendors/stripe/normalize';
import { eventsOfRunChange } from '../../subgraphs/events/run-events';
import { STEP_NAMES, emptyContext, newStep, type Run } from '../../subgraphs/orchestration/model';
import { stripeEvent } from './helpers';

const noLink = async () => null;

describe('Stripe events -> BusinessEvents', () => {
  const invoice = {
    id: 'in_1',
    object: 'invoice',
    customer: 'cus_1',
    number: 'CNCD-00001',
    status: 'open',
    attempt_count: 1,
    metadata: {},
    parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_1', metadata: { concord_customer_id: '001A', concord_correlation_id: 'corr-1' } } },
  };

  it.each([
    ['invoice.created', 'INVOICE_CREATED'],
    ['invoice.finalized', 'INVOICE_FINALIZED'],
    ['invoice.paid', 'INVOICE_PAID'],
    ['invoice.payment_failed', 'PAYMENT_FAILED'],
    ['invoice.voided', 'INVOICE_VOIDED'],
  ])('%s -> %s, with the canonical ids from Stripe metadata', async (type, expected) => {
    const event = stripeEvent(type, invoice) as unknown as Stripe.Event;
    expect(await normalizeStripeEvent(event, noLink)).toMatchObject({
      type: expected,
      source: 'BILLING',
      customerId: '001A',
      contractId: 'sub_1',
      invoiceId: 'in_1',
      correlationId: 'corr-1',
      occurredAt: new Date(event.created * 1000).toISOString(),
      data: { stripeEvent: event.id, status: 'open' },
    });
  });

  it("finds the customer through the Stripe customer's link when the invoice carries none", async () => {
    const manual = { ...invoice, parent: null };
    const link = jest.fn(async (id: string) => (id === 'cus_1' ? '001B' : null));
    expect(await normalizeStripeEvent(stripeEvent('invoice.paid', manual) as unknown as Stripe.Event, link)).toMatchObject({ customerId: '001B', contractId: null });
    expect(link).toHaveBeenCalledWith('cus_1');
  });

  it('maps subscription changes: activated, amended, and nothing for other status changes', async () => {
    const subscription = { id: 'sub_1', object: 'subscription', customer: 'cus_1', status: 'active', latest_invoice: 'in_1', metadata: { concord_customer_id: '001A' } };
    const updated = (previous: Record<string, unknown>, status = 'active') =>
      normalizeStripeEvent({ ...stripeEvent('customer.subscription.updated', { ...subscription, status }), data: { object: { ...subscription, status }, previous_attributes: previous } } as unknown as Stripe.Event, noLink);
    expect(await updated({ status: 'past_due' })).toMatchObject({ type: 'CONTRACT_ACTIVATED', contractId: 'sub_1', customerId: '001A', invoiceId: 'in_1' });
    expect(await updated({ items: { data: [] } })).toMatchObject({ type: 'CONTRACT_AMENDED' });
    expect(await updated({ status: 'active' }, 'past_due')).toBeNull();
    expect(await normalizeStripeEvent(stripeEvent('customer.subscription.created', subscription) as unknown as Stripe.Event, noLink)).toMatchObject({ type: 'CONTRACT_ACTIVATED' });
    expect(await normalizeStripeEvent(stripeEvent('charge.succeeded', { id: 'ch_1' }) as unknown as Stripe.Event, noLink)).toBeNull();
  });
});

describe('run changes -> BusinessEvents', () => {
  function run(overrides: Partial<Run> = {}): Run {
    const context = { ...emptyContext(), customerId: '001A', contractId: 'sub_1', invoiceId: 'in_1', erpInvoiceId: '9001' };
    return {
      id: 'run_1', correlationId: 'corr-1', idempotencyKey: 'k', inputHash: 'h', opportunityId: '006A', status: 'RUNNING', version: 7,
      steps: STEP_NAMES.map(newStep), context, cancelRequested: false, deadLetter: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:05.000Z',
      ...overrides,
    };
  }

  it('appends RUN_STATUS_CHANGED with the run as it is, ordered by its version', () => {
    const r = run();
    r.steps[0].status = 'SUCCEEDED';
    r.steps[1].status = 'RUNNING';
    const [changed] = eventsOfRunChange(r);
    expect(changed).toMatchObject({
      type: 'RUN_STATUS_CHANGED', runId: 'run_1', customerId: '001A', correlationId: 'corr-1', occurredAt: r.updatedAt,
      sequence: { key: 'run:run_1', version: 7 },
      data: { status: 'RUNNING', version: 7, step: 'erpCustomer', stepStatus: 'RUNNING' },
      state: { status: 'RUNNING', updatedAt: r.updatedAt, customerId: '001A' },
    });
    expect((changed.state!.steps as any[]).map((s) => s.status).slice(0, 3)).toEqual(['SUCCEEDED', 'RUNNING', 'PENDING']);
  });

  it('reports the ERP posting: INVOICE_POSTED under the ERP document key, POSTING_FAILED when it failed', () => {
    const posted = run();
    posted.steps.find((s) => s.name === 'erpPosting')!.status = 'SUCCEEDED';
    expect(eventsOfRunChange(posted)[1]).toMatchObject({ type: 'INVOICE_POSTED', source: 'ERP', invoiceId: 'in_1', dedupeKey: 'erp:invoice-posted:9001' });
    const failed = run({ status: 'DEAD_LETTERED' });
    Object.assign(failed.steps.find((s) => s.name === 'erpPosting')!, { status: 'FAILED', attempts: 1, lastError: { code: 'PERIOD_CLOSED', message: 'closed', retryable: false, system: 'ERP' } });
    expect(eventsOfRunChange(failed)[1]).toMatchObject({ type: 'POSTING_FAILED', data: { code: 'PERIOD_CLOSED' } });
  });
});
