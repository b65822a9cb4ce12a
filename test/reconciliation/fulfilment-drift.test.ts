/**
 * Reconciliation finds what breaks "exactly once" for the business, and repairs it through the
 * orchestrator: a deal billed a second time behind Concord's back (DUPLICATE_FULFILMENT), and an
 * invoice left behind by a cancelled order (ORPHANED_INVOICE). The default seed has neither.
 */
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const RUN = `mutation { runReconciliation { status drifts { id kind system subjectId repairable } } }`;
const REPAIR = `mutation($id: ID!) { repairDrift(driftId: $id) { id kind repair { status run { status outcome } } } }`;
const KINDS = ['DUPLICATE_FULFILMENT', 'ORPHANED_INVOICE'];

describe('fulfilment drift (embedded)', () => {
  let system: TestSystem;
  const stripe = () => system.simulators.stripe!.url;

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_MUTATION_WAIT_MS: '20000' } });
  });
  afterAll(async () => {
    await system.close();
  });

  async function stripeCall(method: string, path: string, form: Record<string, string> = {}) {
    const response = await fetch(`${stripe()}${path}`, {
      method,
      headers: { authorization: 'Bearer sk_test_behind_the_back', 'content-type': 'application/x-www-form-urlencoded' },
      body: method === 'GET' ? undefined : new URLSearchParams(form).toString(),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  }

  /** A subscription made directly in Stripe for the deal, as a person (or an old integration) would. */
  async function subscribeBehindTheBack(opportunityId: string, like: any) {
    return stripeCall('POST', '/v1/subscriptions', {
      customer: like.customer,
      'items[0][price]': like.items.data[0].price.id,
      collection_method: 'send_invoice',
      days_until_due: '30',
      'metadata[concord_opportunity_id]': opportunityId,
      'metadata[concord_customer_id]': like.metadata.concord_customer_id,
    });
  }

  const report = async () => {
    const { body } = await system.gql(RUN);
    expect(body.errors).toBeUndefined();
    expect(body.data.runReconciliation.status).toBe('COMPLETED');
    return body.data.runReconciliation.drifts.filter((d: any) => KINDS.includes(d.kind));
  };

  it('the default seed shows no double fulfilment and no orphaned invoice', async () => {
    expect(await report()).toEqual([]);
  });

  it('finds a deal billed twice and an invoice of a cancelled order, and repairs both', async () => {
    const state = await simCall(stripe(), 'state');
    const tagged = state.subscriptions.filter((s: any) => s.metadata?.concord_opportunity_id && s.status === 'active');
    const [original, other] = tagged;
    const duplicate = await subscribeBehindTheBack(original.metadata.concord_opportunity_id, original);
    // An order made and cancelled in Stripe: its first invoice stays a draft that would auto-advance.
    const cancelled = await subscribeBehindTheBack('006Dn0000000999ZZZ', other);
    await stripeCall('DELETE', `/v1/subscriptions/${cancelled.id}`);

    const drifts = await report();
    expect(drifts.map((d: any) => `${d.kind} ${d.subjectId}`).sort()).toEqual(
      [`DUPLICATE_FULFILMENT ${duplicate.id}`, `ORPHANED_INVOICE ${cancelled.latest_invoice}`].sort(),
    );
    for (const drift of drifts) {
      expect(drift.repairable).toBe(true);
      const { body } = await system.gql(REPAIR, { id: drift.id });
      expect(body.errors).toBeUndefined();
      expect(body.data.repairDrift.repair).toMatchObject({ status: 'REPAIRED', run: { status: 'COMPLETED' } });
    }

    const after = await simCall(stripe(), 'state');
    const sub = (id: string) => after.subscriptions.find((s: any) => s.id === id);
    const inv = (id: string) => after.invoices.find((i: any) => i.id === id);
    expect(sub(duplicate.id).status).toBe('canceled');
    expect(inv(duplicate.latest_invoice).status).toBe('void');
    expect(inv(cancelled.latest_invoice).status).toBe('void');
    // The fulfilment the CRM links is untouched.
    expect(sub(original.id).status).toBe('active');
    expect(after.subscriptions.filter((s: any) => s.metadata?.concord_opportunity_id === original.metadata.concord_opportunity_id && s.status !== 'canceled')).toHaveLength(1);

    expect(await report()).toEqual([]);
  });
});
