/**
 * The account-status reaction against the simulators, through the real adapters: idempotent under
 * duplicate, out-of-order and concurrent delivery, and never releasing a hold it did not set.
 * The system runs with CONCORD_WORKERS=0 so that only the reaction under test writes the vendors.
 */
import { createMemoryCoordination } from '../../core/events/coordination';
import type { BusinessEvent, EventLog } from '../../core/events/event-log';
import { createMemoryEventLog } from '../../core/events/memory-log';
import { createLogger } from '../../core/log';
import { createAccountStatusReaction } from '../../subgraphs/events/account-status';
import type { Ports } from '../../subgraphs/orchestration/steps';
import { createVendorPorts } from '../../system';
import { loadConfig } from '../../core/config';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { stripeApi } from './helpers';

/** A moment inside the seed's timeline (its open invoices fall due in December 2026). */
const SEED_NOW = new Date('2026-11-25T12:00:00Z');

describe('account-status reaction', () => {
  let system: TestSystem;
  let ports: Ports;
  let candidates: { invoiceId: string; customerId: string }[];

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_WORKERS: '0', CONCORD_POLL_INTERVAL_MS: '0' } });
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), system.simulators);
    const [stripe, netsuite, salesforce] = await Promise.all(['stripe', 'netsuite', 'salesforce'].map((s) => simCall((system.simulators as any)[s].url, 'state')));
    // The seed's invoices are dated in late 2026: judge them at a fixed moment inside that timeline,
    // the same clock the reaction is given, so the test does not depend on today's date.
    const now = SEED_NOW.getTime() / 1000;
    const linked = new Map<string, string>(stripe.customers.map((c: any) => [c.id, c.metadata?.concord_customer_id]));
    candidates = stripe.invoices
      .filter((i: any) => {
        const customerId = linked.get(i.customer);
        if (i.status !== 'open' || !customerId || (i.due_date && i.due_date < now)) return false;
        const overdue = stripe.invoices.some((o: any) => o.customer === i.customer && o.status === 'open' && o.id !== i.id);
        const account = salesforce.Account.find((a: any) => a.Id === customerId);
        const erp = netsuite.customer.find((c: any) => c.externalId === customerId);
        return !overdue && account?.Concord_Status__c !== 'Credit Hold' && erp?.creditHoldOverride?.id !== 'ON';
      })
      .map((i: any) => ({ invoiceId: i.id, customerId: linked.get(i.customer)! }));
    expect(candidates.length).toBeGreaterThanOrEqual(4);
  });
  afterAll(() => system.close());

  function setup() {
    const log = createMemoryEventLog();
    const reaction = createAccountStatusReaction({ log, coordination: createMemoryCoordination(), ports, logger: createLogger({ level: 'silent' }), now: () => SEED_NOW });
    return { log, reaction };
  }

  let seq = 0;
  /** The canonical event as ingestion would have appended it (ids as the log gives them). */
  function trigger(type: BusinessEvent['type'], target: { invoiceId: string; customerId: string }): BusinessEvent {
    seq += 1;
    return { id: `${Date.now()}-${seq}`, type, occurredAt: new Date().toISOString(), correlationId: null, source: 'BILLING', customerId: target.customerId, contractId: null, invoiceId: target.invoiceId, runId: null };
  }

  async function held(customerId: string): Promise<{ erp: boolean; crm: string | null }> {
    const [profile, account] = await Promise.all([ports.erp.getCustomerProfiles([customerId]), ports.crm.getAccounts([customerId])]);
    return { erp: profile.get(customerId)!.creditHold, crm: account.get(customerId)!.status };
  }

  const announcements = async (log: EventLog) => (await log.read(null, 100)).filter((e) => e.type === 'ACCOUNT_STATUS_CHANGED').map((e) => e.data);
  const pay = (invoiceId: string, paymentMethod: string) => stripeApi(system.simulators.stripe!.url, 'POST', `/v1/invoices/${invoiceId}/pay`, { payment_method: paymentMethod });
  const holdWrites = () => system.simulators.netsuite!.stats().byRoute['PATCH /services/rest/record/v1/customer/:id'] ?? 0;

  it('holds once for a payment failure delivered twice', async () => {
    const target = candidates[0];
    const { log, reaction } = setup();
    expect((await pay(target.invoiceId, 'pm_card_chargeDeclined')).status).toBe(402);
    const failed = trigger('PAYMENT_FAILED', target);
    const writes = holdWrites();
    await reaction.handle(failed);
    await reaction.handle(failed);
    await reaction.handle({ ...failed, id: `${Date.now()}-${++seq}` }); // Stripe's retry of the same failure, re-ingested
    expect(await held(target.customerId)).toEqual({ erp: true, crm: 'Credit Hold' });
    expect(holdWrites() - writes).toBe(1);
    expect(await announcements(log)).toEqual([expect.objectContaining({ creditHold: true, reason: 'PAYMENT_FAILED' })]);

    // Paid: released once, announced once, however often the payment is delivered.
    expect((await pay(target.invoiceId, 'pm_card_visa')).status).toBe(200);
    const paid = trigger('INVOICE_PAID', target);
    await reaction.handle(paid);
    await reaction.handle(paid);
    expect(await held(target.customerId)).toEqual({ erp: false, crm: 'Active' });
    expect((await announcements(log)).map((d) => d!.creditHold)).toEqual([true, false]);
  });

  it('holds nothing when the payment arrives before the failure it settled', async () => {
    const target = candidates[1];
    const { log, reaction } = setup();
    await pay(target.invoiceId, 'pm_card_chargeDeclined');
    await pay(target.invoiceId, 'pm_card_visa');
    // Delivered out of order: the paid event first, then the (older) failure.
    await reaction.handle(trigger('INVOICE_PAID', target));
    await reaction.handle(trigger('PAYMENT_FAILED', target));
    expect(await held(target.customerId)).toEqual({ erp: false, crm: expect.not.stringMatching(/Credit Hold/) });
    expect(await announcements(log)).toEqual([]);
  });

  it('ends released when a failure and its payment are handled at the same time', async () => {
    const target = candidates[2];
    const { reaction } = setup();
    await pay(target.invoiceId, 'pm_card_chargeDeclined');
    await pay(target.invoiceId, 'pm_card_visa');
    await Promise.all([reaction.handle(trigger('PAYMENT_FAILED', target)), reaction.handle(trigger('INVOICE_PAID', target))]);
    expect((await held(target.customerId)).erp).toBe(false);
  });

  it('does not release a hold that finance set in the ERP', async () => {
    const target = candidates[3];
    const { log, reaction } = setup();
    await ports.erp.setCreditHold(target.customerId, true, { correlationId: 'finance-manual-hold' });
    await pay(target.invoiceId, 'pm_card_chargeDeclined');
    await reaction.handle(trigger('PAYMENT_FAILED', target));
    await pay(target.invoiceId, 'pm_card_visa');
    await reaction.handle(trigger('INVOICE_PAID', target));
    expect((await held(target.customerId)).erp).toBe(true);
    expect(await announcements(log)).toEqual([]);
  });
});
