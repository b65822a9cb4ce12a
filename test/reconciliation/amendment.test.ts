/**
 * Contract amendments through the gateway, on both engines (embedded and Redis): a quantity increase
 * mid-period makes one proration invoice in billing (Stripe's own proration), one matching ERP
 * posting and one CONTRACT_AMENDED event; the same amendment replayed makes no second effect; an
 * amendment into a closed ERP period leaves the systems consistent, whether the period was closed
 * before the amendment (refused, nothing changed) or closed while it was under way (undone).
 */
import { buildSeed, type SeedContract } from '../../simulators/common/seed';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const seed = buildSeed();
const MODES = [
  { mode: 'embedded', env: () => ({}) as Record<string, string> },
  { mode: 'redis', env: (prefix: string) => ({ REDIS_URL, CONCORD_REDIS_PREFIX: prefix }) },
];

const AMEND = `mutation($input: AmendContractInput!) {
  amendContract(input: $input) {
    id status
    items { productCode quantity }
    latestAmendment { id kind status idempotencyKey steps { name system status attempts lastError { code } } invoice { id status total { amount } erpPosting { status } } }
  }
}`;

/** Active seed contracts with a SEAT item, for one test each. */
const seatContracts: SeedContract[] = seed.contracts.filter((c) => c.status === 'active' && c.items.some((i) => i.productCode === 'SEAT'));
const seatsOf = (contract: SeedContract) => contract.items.find((i) => i.productCode === 'SEAT')!.quantity;

describe.each(MODES)('contract amendments ($mode)', ({ mode, env }) => {
  let system: TestSystem;
  const keys = testPrefix(`amend-${mode}`);
  const contracts = [...seatContracts];
  const take = () => contracts.shift()!;

  beforeAll(async () => {
    system = await startTestSystem({ env: { ...env(keys.prefix), CONCORD_MUTATION_WAIT_MS: '20000', CONCORD_O2C_LEASE_MS: '5000' } });
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  const amend = (input: Record<string, unknown>) => system.gql(AMEND, { input });
  const state = async () => {
    const [stripe, ns] = await Promise.all([simCall(system.simulators.stripe!.url, 'state'), simCall(system.simulators.netsuite!.url, 'state')]);
    return { stripe, ns };
  };
  const prorationInvoices = (stripe: any, contractId: string) =>
    stripe.invoices.filter((i: any) => i.parent?.subscription_details?.subscription === contractId && i.billing_reason === 'subscription_update');
  const erpDocuments = (ns: any, invoiceId: string) => [...ns.invoice, ...(ns.creditMemo ?? [])].filter((d: any) => d.externalId === invoiceId);
  const amendedEvents = async (contractId: string) =>
    (await system.events.log.read(null, 100_000)).filter((e) => e.type === 'CONTRACT_AMENDED' && e.contractId === contractId);

  it('quantity up mid-period: one proration invoice, one matching ERP posting, one CONTRACT_AMENDED; a replay makes no second', async () => {
    const contract = take();
    const seats = seatsOf(contract);
    const input = { contractId: contract.id, idempotencyKey: `amend-up-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seats + 3 }] };
    const { body } = await amend(input);
    expect(body.errors).toBeUndefined();
    const amended = body.data.amendContract;
    expect(amended.items).toEqual(expect.arrayContaining([{ productCode: 'SEAT', quantity: seats + 3 }]));
    expect(amended.latestAmendment).toMatchObject({ kind: 'CONTRACT_AMENDMENT', status: 'COMPLETED', idempotencyKey: input.idempotencyKey });
    expect(amended.latestAmendment.steps.map((s: any) => [s.name, s.system, s.status])).toEqual([
      ['amendSubscription', 'BILLING', 'SUCCEEDED'],
      ['postAmendment', 'ERP', 'SUCCEEDED'],
      ['finalizeAmendment', 'BILLING', 'SUCCEEDED'],
    ]);
    expect(amended.latestAmendment.invoice).toMatchObject({ status: 'OPEN', erpPosting: { status: 'POSTED' } });

    const { stripe, ns } = await state();
    const invoices = prorationInvoices(stripe, contract.id);
    expect(invoices).toHaveLength(1);
    const [invoice] = invoices;
    expect(invoice.status).toBe('open');
    // Stripe prorated: a credit for the unused time of the old quantity, a charge for the new.
    expect(invoice.lines.data.map((l: any) => [l.quantity, Math.sign(l.amount)])).toEqual([
      [seats, -1],
      [seats + 3, 1],
    ]);
    expect(invoice.lines.data.every((l: any) => l.parent.invoice_item_details.proration)).toBe(true);
    expect(invoice.total).toBeGreaterThan(0);
    const posted = erpDocuments(ns, invoice.id);
    expect(posted).toHaveLength(1);
    expect(posted[0].total).toBeCloseTo(invoice.total / 100, 2);
    expect(posted[0].postingPeriod.refName).toMatch(/\d{4}/);
    expect(await amendedEvents(contract.id)).toHaveLength(1);

    // Replayed (a client retry): the same answer, no second invoice, posting, event or Stripe write.
    const before = await simCall(system.simulators.stripe!.url, 'stats');
    const replay = await amend(input);
    expect(replay.body.errors).toBeUndefined();
    expect(replay.body.data.amendContract.latestAmendment.id).toBe(amended.latestAmendment.id);
    const after = await simCall(system.simulators.stripe!.url, 'stats');
    const posts = (stats: any) => Object.entries(stats.byRoute).filter(([route]) => route.startsWith('POST')).reduce((n, [, c]) => n + (c as number), 0);
    expect(posts(after)).toBe(posts(before));
    const again = await state();
    expect(prorationInvoices(again.stripe, contract.id)).toHaveLength(1);
    expect(erpDocuments(again.ns, invoice.id)).toHaveLength(1);
    expect(await amendedEvents(contract.id)).toHaveLength(1);

    // The same key with another change is refused.
    const other = await amend({ ...input, items: [{ productCode: 'SEAT', quantity: seats + 4 }] });
    expect(other.body.errors![0].extensions.code).toBe('CONFLICT');
  });

  it('quantity down: billing credits the proration, and the ERP gets a credit memo of the same amount', async () => {
    const contract = take();
    const seats = seatsOf(contract);
    const { body } = await amend({ contractId: contract.id, idempotencyKey: `amend-down-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seats - 2 }] });
    expect(body.errors).toBeUndefined();
    expect(body.data.amendContract.latestAmendment.status).toBe('COMPLETED');
    const { stripe, ns } = await state();
    const [invoice] = prorationInvoices(stripe, contract.id);
    expect(invoice.total).toBeLessThan(0);
    // A credit is not owed: Stripe finalizes it as paid and credits the customer's balance.
    expect(invoice).toMatchObject({ status: 'paid', amount_due: 0 });
    expect(stripe.customers.find((c: any) => c.id === invoice.customer).balance).toBe(invoice.total);
    const credit = (ns.creditMemo ?? []).filter((d: any) => d.externalId === invoice.id);
    expect(credit).toHaveLength(1);
    expect(credit[0].total).toBeCloseTo(-invoice.total / 100, 2);
    expect(ns.invoice.filter((d: any) => d.externalId === invoice.id)).toHaveLength(0);
    expect(await amendedEvents(contract.id)).toHaveLength(1);
  });

  it('an ERP period closed beforehand: PERIOD_CLOSED, and nothing changed anywhere', async () => {
    const contract = take();
    const period = new Date().toISOString().slice(0, 7);
    await simCall(system.simulators.netsuite!.url, 'periods', { closed: [period] });
    try {
      const { body } = await amend({ contractId: contract.id, idempotencyKey: `amend-closed-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seatsOf(contract) + 1 }] });
      expect(body.errors![0].extensions).toMatchObject({ code: 'PERIOD_CLOSED', system: 'ERP', retryable: false });
      const { stripe } = await state();
      const subscription = stripe.subscriptions.find((s: any) => s.id === contract.id);
      expect(subscription.items.data.find((i: any) => i.price.lookup_key === 'SEAT').quantity).toBe(seatsOf(contract));
      expect(prorationInvoices(stripe, contract.id)).toHaveLength(0);
      expect(await amendedEvents(contract.id)).toHaveLength(0);
    } finally {
      await simCall(system.simulators.netsuite!.url, 'periods', { closed: [] });
    }
  });

  it('an ERP period that closes while the amendment is under way: the amendment is undone, billing as before, nothing posted', async () => {
    const contract = take();
    const seats = seatsOf(contract);
    const stripeUrl = system.simulators.stripe!.url;
    const netsuiteUrl = system.simulators.netsuite!.url;
    const period = new Date().toISOString().slice(0, 7);
    /** Wait until a simulator holds at least one request (the `hold` fault): an event, not a delay. */
    const untilHeld = async (url: string) => {
      const deadline = Date.now() + 60_000;
      while ((await simCall(url, 'stats')).held < 1) {
        if (Date.now() > deadline) throw new Error(`no request held at ${url}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    // Close the period between the amendment's own check of it and the billing change, whatever the
    // machine's speed: the order of calls is contract read (billing), period check (ERP), change
    // (billing), posting (ERP). Hold the ERP to catch the check, then hold billing to catch the change.
    await simCall(netsuiteUrl, 'faults', { hold: true });
    try {
      const pending = amend({ contractId: contract.id, idempotencyKey: `amend-race-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seats + 5 }] });
      await untilHeld(netsuiteUrl); // the period check waits, the period still open
      await simCall(stripeUrl, 'faults', { hold: true });
      await simCall(netsuiteUrl, 'faults', { hold: false }); // the check answers: open
      await untilHeld(stripeUrl); // the billing change waits, after the check
      await simCall(netsuiteUrl, 'periods', { closed: [period] });
      await simCall(stripeUrl, 'faults', { hold: false });
      const { body } = await pending;
      expect(body.errors![0].extensions.code).toBe('PERIOD_CLOSED');
      expect(body.errors![0].message).toMatch(/undone/);

      const { stripe, ns } = await state();
      const subscription = stripe.subscriptions.find((s: any) => s.id === contract.id);
      expect(subscription.items.data.find((i: any) => i.price.lookup_key === 'SEAT').quantity).toBe(seats);
      const invoices = prorationInvoices(stripe, contract.id);
      expect(invoices).toHaveLength(1);
      expect(invoices[0].status).toBe('void');
      expect(erpDocuments(ns, invoices[0].id)).toHaveLength(0);
      expect(await amendedEvents(contract.id)).toHaveLength(0);

      const run = await system.gql(`query($id: ID!) { contract(id: $id) { latestAmendment { status steps { name status lastError { code } } } } }`, { id: contract.id });
      expect(run.body.data.contract.latestAmendment).toMatchObject({
        status: 'COMPENSATED',
        steps: [
          { name: 'amendSubscription', status: 'COMPENSATED' },
          { name: 'postAmendment', status: 'COMPENSATED', lastError: { code: 'PERIOD_CLOSED' } },
          { name: 'finalizeAmendment', status: 'PENDING' },
        ],
      });
    } finally {
      await simCall(stripeUrl, 'faults', { hold: false });
      await simCall(netsuiteUrl, 'faults', { hold: false });
      await simCall(netsuiteUrl, 'periods', { closed: [] });
    }
  });

  it('under vendor faults (lost answers, 5xx, resets): every amendment completes once, with one invoice, one posting, one event', async () => {
    if (mode !== 'embedded') return; // the engine is the same; once is enough for the time it takes
    const chosen = [take(), take(), take()];
    const faults = { rate: 0.3, kinds: ['500', '503', 'reset', '429'], applyBeforeFail: 0.5, seed: 7 };
    await Promise.all([simCall(system.simulators.stripe!.url, 'faults', faults), simCall(system.simulators.netsuite!.url, 'faults', faults)]);
    try {
      await Promise.all(
        chosen.map(async (contract) => {
          const input = { contractId: contract.id, idempotencyKey: `amend-faults-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seatsOf(contract) + 1 }] };
          // A client retries a failed request with the same key; the key makes it one amendment.
          for (let attempt = 0; attempt < 20; attempt++) {
            const { body } = await amend(input);
            if (!body.errors && body.data.amendContract.latestAmendment.status === 'COMPLETED') return;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          throw new Error(`amendment of ${contract.id} did not complete`);
        }),
      );
    } finally {
      await Promise.all([simCall(system.simulators.stripe!.url, 'faults', { rate: 0 }), simCall(system.simulators.netsuite!.url, 'faults', { rate: 0 })]);
    }
    const { stripe, ns } = await state();
    for (const contract of chosen) {
      const invoices = prorationInvoices(stripe, contract.id);
      expect(invoices).toHaveLength(1);
      expect(invoices[0].status).toBe('open');
      expect(erpDocuments(ns, invoices[0].id)).toHaveLength(1);
      expect(await amendedEvents(contract.id)).toHaveLength(1);
    }
  });

  it('leaves the systems consistent: after every amendment above (up, down, refused, undone), reconciliation finds no drift', async () => {
    const { body } = await system.gql(`mutation { runReconciliation { status driftCount drifts { kind system subjectId detail } } }`);
    expect(body.errors).toBeUndefined();
    expect(body.data.runReconciliation).toEqual({ status: 'COMPLETED', driftCount: 0, drifts: [] });
  });

  it('refuses what cannot be amended: an unknown or inactive contract, a change that changes nothing, a plan that is not there', async () => {
    const unknown = await amend({ contractId: 'sub_doesnotexist', idempotencyKey: 'amend-unknown', items: [{ productCode: 'SEAT', quantity: 1 }] });
    expect(unknown.body.errors![0].extensions.code).toBe('NOT_FOUND');
    const pastDue = seed.contracts.find((c) => c.status === 'past_due')!;
    const inactive = await amend({ contractId: pastDue.id, idempotencyKey: 'amend-past-due', items: [{ productCode: 'SEAT', quantity: 1 }] });
    expect(inactive.body.errors![0].extensions.code).toBe('VALIDATION_FAILED');
    const contract = contracts[0];
    const same = await amend({ contractId: contract.id, idempotencyKey: 'amend-same', items: [{ productCode: 'SEAT', quantity: seatsOf(contract) }] });
    expect(same.body.errors![0].extensions.code).toBe('VALIDATION_FAILED');
    const swap = await amend({ contractId: contract.id, idempotencyKey: 'amend-swap-missing', items: [{ productCode: 'CONCORD-ENT', quantity: 1, replacesProductCode: 'NOT-ON-IT' }] });
    expect(swap.body.errors![0].extensions.code).toBe('VALIDATION_FAILED');
    const negative = await amend({ contractId: contract.id, idempotencyKey: 'amend-negative', items: [{ productCode: 'SEAT', quantity: -1 }] });
    expect(negative.body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
  });
});
