/**
 * Concurrent requests through the gateway, on the Redis engine (the customer master's reservation
 * and the in-flight markers are Redis SET NX keys): five creates of one company with different
 * keys make one customer in each system, the others get CONFLICT; the same key and input sent
 * five times at once returns one outcome for upsertCustomer and amendContract. Effects are counted
 * in the simulators' /__sim/state.
 */
import { buildSeed } from '../../simulators/common/seed';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';

const UPSERT = `mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id syncRun { id status } } }`;
const AMEND = `mutation($input: AmendContractInput!) { amendContract(input: $input) { id latestAmendment { id status } } }`;

describe('concurrent creates and replays (redis)', () => {
  let system: TestSystem;
  const keys = testPrefix('concurrent');

  beforeAll(async () => {
    system = await startTestSystem({ env: { REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_MUTATION_WAIT_MS: '20000', CONCORD_O2C_LEASE_MS: '5000' } });
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  async function recordsNamed(name: string, taxRegistration: string) {
    const [sf, stripe, ns] = await Promise.all([
      simCall(system.simulators.salesforce!.url, 'state'),
      simCall(system.simulators.stripe!.url, 'state'),
      simCall(system.simulators.netsuite!.url, 'state'),
    ]);
    const accounts = sf.Account.filter((a: any) => a.Name === name);
    const ids = new Set(accounts.map((a: any) => a.Id));
    return {
      accounts,
      billing: stripe.customers.filter((c: any) => ids.has(c.metadata?.concord_customer_id) || c.name === name),
      erp: ns.customer.filter((c: any) => ids.has(c.externalId) || c.taxRegistration === taxRegistration),
    };
  }

  it('5 concurrent creates of one company with different keys: one customer in each system, the others CONFLICT', async () => {
    const input = { name: 'Contoso Pharmaceuticals', domain: 'contoso-pharma.example', email: 'ap@contoso-pharma.example', taxRegistration: 'DE-998877665' };
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => system.gql(UPSERT, { input: { ...input, idempotencyKey: `contoso-${n}` } })));
    const created = answers.filter((a) => a.body.data?.upsertCustomer);
    const refused = answers.filter((a) => a.body.errors);
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(4);
    for (const a of refused) expect(a.body.errors![0].extensions).toMatchObject({ code: 'CONFLICT', correlationId: expect.any(String) });
    expect(created[0].body.data.upsertCustomer.syncRun.status).toBe('COMPLETED');

    const records = await recordsNamed(input.name, input.taxRegistration);
    expect(records.accounts).toHaveLength(1);
    expect(records.billing).toHaveLength(1);
    expect(records.erp).toHaveLength(1);
    expect(records.accounts[0].Id).toBe(created[0].body.data.upsertCustomer.id);

    // A sixth, sent after, is CONFLICT as well (and names the customer made).
    const sixth = await system.gql(UPSERT, { input: { ...input, idempotencyKey: 'contoso-6' } });
    expect(sixth.body.errors![0].extensions.code).toBe('CONFLICT');
    expect(sixth.body.errors![0].message).toContain(records.accounts[0].Id);
  });

  it('the same key and input sent 5 times at once to upsertCustomer: one outcome, one customer', async () => {
    const input = { name: 'Litware Instruments', domain: 'litware-instruments.example', taxRegistration: 'FR-11223344556', idempotencyKey: 'litware-once' };
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => system.gql(UPSERT, { input })));
    for (const a of answers) expect(a.body.errors).toBeUndefined();
    const outcomes = new Set(answers.map((a) => `${a.body.data.upsertCustomer.id} ${a.body.data.upsertCustomer.syncRun.id}`));
    expect(outcomes.size).toBe(1);
    const records = await recordsNamed(input.name, input.taxRegistration);
    expect(records.accounts).toHaveLength(1);
    expect(records.billing).toHaveLength(1);
    expect(records.erp).toHaveLength(1);
  });

  it('the same key and input sent 5 times at once to amendContract: one amendment, one proration invoice', async () => {
    const contract = buildSeed().contracts.find((c) => c.status === 'active' && c.items.some((i) => i.productCode === 'SEAT'))!;
    const seats = contract.items.find((i) => i.productCode === 'SEAT')!.quantity;
    const input = { contractId: contract.id, idempotencyKey: `amend-once-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seats + 2 }] };
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => system.gql(AMEND, { input })));
    for (const a of answers) expect(a.body.errors).toBeUndefined();
    expect(new Set(answers.map((a) => a.body.data.amendContract.latestAmendment.id)).size).toBe(1);
    const stripe = await simCall(system.simulators.stripe!.url, 'state');
    const prorations = stripe.invoices.filter((i: any) => i.parent?.subscription_details?.subscription === contract.id && i.billing_reason === 'subscription_update');
    expect(prorations).toHaveLength(1);
  });
});
