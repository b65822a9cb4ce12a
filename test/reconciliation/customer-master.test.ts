/**
 * The customer master through the gateway: upsertCustomer writes the CRM first, then billing and the
 * ERP through a run; likely duplicates in any of the three systems are refused with CONFLICT unless
 * confirmed; replays make no second record. Effects are counted in the simulators' own state.
 */
import { buildSeed } from '../../simulators/common/seed';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { mintToken } from '../../gateway/token';
import { TEST_JWT_SECRET } from '../helpers/system';

const seed = buildSeed();
const acme = seed.customers.find((c) => c.name === 'Acme Corp')!;

const UPSERT = `mutation($input: UpsertCustomerInput!) {
  upsertCustomer(input: $input) {
    id name domain
    externalRefs { system id }
    erp { customerNumber taxRegistration }
    syncRun { id kind status idempotencyKey steps { name system status } customer { id } }
  }
}`;

describe('customer master (embedded)', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_MUTATION_WAIT_MS: '20000' } });
  });
  afterAll(() => system.close());

  const upsert = (input: Record<string, unknown>, token?: string) =>
    system.gql(UPSERT, { input }, token ? { authorization: `Bearer ${token}` } : {});

  async function recordsOf(customerId: string) {
    const [sf, stripe, ns] = await Promise.all([
      simCall(system.simulators.salesforce!.url, 'state'),
      simCall(system.simulators.stripe!.url, 'state'),
      simCall(system.simulators.netsuite!.url, 'state'),
    ]);
    return {
      accounts: sf.Account.filter((a: any) => a.Id === customerId),
      billing: stripe.customers.filter((c: any) => c.metadata?.concord_customer_id === customerId),
      erp: ns.customer.filter((c: any) => c.externalId === customerId),
    };
  }

  it('creates the customer in the CRM, then billing and the ERP through a run, once; a replay changes nothing', async () => {
    const input = { name: 'Northwind Traders', domain: 'https://www.northwind-traders.example/', email: 'ap@northwind-traders.example', taxRegistration: 'GB-123456789', idempotencyKey: 'cm-northwind' };
    const { body } = await upsert(input);
    expect(body.errors).toBeUndefined();
    const customer = body.data.upsertCustomer;
    expect(customer).toMatchObject({ name: 'Northwind Traders', domain: 'northwind-traders.example', erp: { taxRegistration: 'GB-123456789' } });
    expect(customer.syncRun).toMatchObject({ kind: 'CUSTOMER_SYNC', status: 'COMPLETED', idempotencyKey: 'cm-northwind', customer: { id: customer.id } });
    expect(customer.syncRun.steps.map((s: any) => [s.name, s.system, s.status])).toEqual([
      ['syncErpCustomer', 'ERP', 'SUCCEEDED'],
      ['syncBillingCustomer', 'BILLING', 'SUCCEEDED'],
      ['linkCrmAccount', 'CRM', 'SUCCEEDED'],
    ]);
    // The CRM account links the other two systems' records.
    expect(customer.externalRefs.map((r: any) => r.system).sort()).toEqual(['BILLING', 'CRM', 'ERP']);
    const records = await recordsOf(customer.id);
    expect(records.accounts).toHaveLength(1);
    expect(records.billing).toHaveLength(1);
    expect(records.billing[0]).toMatchObject({ name: 'Northwind Traders', email: 'ap@northwind-traders.example' });
    expect(records.erp).toHaveLength(1);
    expect(records.erp[0]).toMatchObject({ companyName: 'Northwind Traders', vatRegNumber: 'GB-123456789' });
    const created = (await system.events.log.read(null, 10_000)).filter((e) => e.type === 'CUSTOMER_CREATED' && e.customerId === customer.id);
    expect(created).toHaveLength(1);

    // The same request again: the same customer and run, nothing written anywhere.
    const writes = async () => {
      const stats = await Promise.all(['salesforce', 'stripe', 'netsuite'].map((s) => simCall((system.simulators as any)[s].url, 'stats')));
      return stats.map((st: any) => Object.entries(st.byRoute).filter(([route]) => !route.startsWith('GET') && !route.includes('suiteql') && !route.includes('search')).reduce((n, [, c]) => n + (c as number), 0));
    };
    const before = await writes();
    const again = await upsert(input);
    expect(again.body.data.upsertCustomer).toMatchObject({ id: customer.id, syncRun: { id: customer.syncRun.id } });
    expect(await writes()).toEqual(before);
    expect(await recordsOf(customer.id)).toMatchObject({ accounts: [expect.anything()], billing: [expect.anything()], erp: [expect.anything()] });

    // The same key for another input is refused.
    const other = await upsert({ ...input, name: 'Northwind Trading' });
    expect(other.body.errors![0].extensions.code).toBe('CONFLICT');
  });

  it('refuses "ACME Corporation" on Acme Corp\'s domain as a likely duplicate, listing it, until the caller confirms', async () => {
    const input = { name: 'ACME Corporation', domain: acme.domain, idempotencyKey: 'cm-acme-dup' };
    const refused = await upsert(input);
    const error = refused.body.errors![0];
    expect(error.extensions.code).toBe('CONFLICT');
    expect(error.message).toContain('Acme Corp');
    expect(error.extensions.duplicates).toEqual([
      {
        id: acme.crmId,
        name: 'Acme Corp',
        reasons: ['SAME_NAME'],
        records: expect.arrayContaining([
          { system: 'CRM', id: acme.crmId },
          { system: 'BILLING', id: acme.billingId },
          { system: 'ERP', id: acme.erpId },
        ]),
      },
    ]);
    // Nothing was created.
    const sf = await simCall(system.simulators.salesforce!.url, 'state');
    expect(sf.Account.filter((a: any) => /acme corporation/i.test(a.Name))).toHaveLength(0);

    // The same search, as a query (what a form shows before submitting).
    const { body } = await system.gql(`query { customerDuplicates(name: "Acme, Inc.", domain: "${acme.domain}") { id name reasons records { system id } customer { id name } } }`);
    expect(body.data.customerDuplicates).toEqual([expect.objectContaining({ id: acme.crmId, reasons: ['SAME_NAME'], customer: { id: acme.crmId, name: 'Acme Corp' } })]);

    // Confirmed as another company: created.
    const confirmed = await upsert({ ...input, confirmNotDuplicateOf: [acme.crmId] });
    expect(confirmed.body.errors).toBeUndefined();
    expect(confirmed.body.data.upsertCustomer).toMatchObject({ name: 'ACME Corporation', syncRun: { status: 'COMPLETED' } });
    expect(confirmed.body.data.upsertCustomer.id).not.toBe(acme.crmId);
  });

  it('does not flag a company that merely shares a word with others ("Acme Rockets" next to Acme Corp and Acme Industries)', async () => {
    const { body } = await upsert({ name: 'Acme Rockets', domain: 'acme-rockets.example', idempotencyKey: 'cm-acme-rockets' });
    expect(body.errors).toBeUndefined();
    expect(body.data.upsertCustomer).toMatchObject({ name: 'Acme Rockets', syncRun: { status: 'COMPLETED' } });
  });

  it('finds a duplicate by tax registration in the ERP, whatever the name', async () => {
    const target = seed.customers[7];
    const { body } = await upsert({ name: 'Completely Different Name Ltd', taxRegistration: target.taxRegistration.toLowerCase(), idempotencyKey: 'cm-tax-dup' });
    expect(body.errors![0].extensions).toMatchObject({ code: 'CONFLICT', duplicates: [expect.objectContaining({ id: target.crmId, reasons: ['SAME_TAX_REGISTRATION'] })] });
  });

  it('updates a customer in all three systems, and refuses a rename onto another company', async () => {
    const created = await upsert({ name: 'Contoso Widgets', domain: 'contoso-widgets.example', idempotencyKey: 'cm-contoso' });
    const id = created.body.data.upsertCustomer.id;
    const renamed = await upsert({ id, name: 'Contoso Widgets International', domain: 'contoso-widgets.example', email: 'billing@contoso-widgets.example', idempotencyKey: 'cm-contoso-rename' });
    expect(renamed.body.errors).toBeUndefined();
    expect(renamed.body.data.upsertCustomer).toMatchObject({ id, name: 'Contoso Widgets International', syncRun: { status: 'COMPLETED' } });
    const records = await recordsOf(id);
    expect(records.billing).toEqual([expect.objectContaining({ name: 'Contoso Widgets International', email: 'billing@contoso-widgets.example' })]);
    expect(records.erp).toEqual([expect.objectContaining({ companyName: 'Contoso Widgets International' })]);
    // Created once, whoever reports it (the sync, or the CRM change poller under the same key).
    expect((await system.events.log.read(null, 10_000)).filter((e) => e.type === 'CUSTOMER_CREATED' && e.customerId === id)).toHaveLength(1);

    const collide = await upsert({ id, name: 'Globex Corporation', idempotencyKey: 'cm-contoso-collide' });
    expect(collide.body.errors![0].extensions).toMatchObject({ code: 'CONFLICT', duplicates: [expect.objectContaining({ name: 'Globex Corp' })] });
    const missing = await upsert({ id: '001Dn0000009999AAA', name: 'Nobody', idempotencyKey: 'cm-missing' });
    expect(missing.body.errors![0].extensions.code).toBe('NOT_FOUND');
  });

  it('refuses bad input, and lets a portal token update only its own customer and create none', async () => {
    expect((await upsert({ name: '  ', idempotencyKey: 'cm-bad-1' })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await upsert({ name: 'X Co', domain: 'not a domain', idempotencyKey: 'cm-bad-2' })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await upsert({ name: 'X Co', idempotencyKey: 'bad key!' })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');

    const portal = await mintToken({ secret: TEST_JWT_SECRET, subject: 'portal-user', scopes: ['orders:write', 'customers:read'], customerId: acme.crmId });
    const create = await upsert({ name: 'Portal Made Co', idempotencyKey: 'cm-portal-1' }, portal);
    expect(create.body.errors![0].extensions.code).toBe('FORBIDDEN');
    const other = await upsert({ id: seed.customers[1].crmId, name: 'Hijacked', idempotencyKey: 'cm-portal-2' }, portal);
    expect(other.body.errors![0].extensions.code).toBe('FORBIDDEN');
  });

  it('sets a parent account, refuses one that is no customer or itself, and clears it with parentId: null', async () => {
    const PARENT = `query($id: ID!) { customer(id: $id) { parent { id } } }`;
    const created = await upsert({ name: 'Fabrikam Subsidiary', domain: 'fabrikam-sub.example', idempotencyKey: 'cm-fab' });
    const id = created.body.data.upsertCustomer.id;
    const parent = seed.customers[3].crmId;
    expect((await upsert({ id, name: 'Fabrikam Subsidiary', parentId: '001Dn0000009999AAA', idempotencyKey: 'cm-fab-nope' })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await upsert({ id, name: 'Fabrikam Subsidiary', parentId: id, idempotencyKey: 'cm-fab-self' })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await upsert({ id, name: 'Fabrikam Subsidiary', parentId: parent, idempotencyKey: 'cm-fab-parent' })).body.errors).toBeUndefined();
    expect((await system.gql(PARENT, { id })).body.data.customer.parent).toEqual({ id: parent });
    // Leaving parentId out keeps the parent; null removes it.
    expect((await upsert({ id, name: 'Fabrikam Subsidiary Ltd', idempotencyKey: 'cm-fab-rename' })).body.errors).toBeUndefined();
    expect((await system.gql(PARENT, { id })).body.data.customer.parent).toEqual({ id: parent });
    expect((await upsert({ id, name: 'Fabrikam Subsidiary Ltd', parentId: null, idempotencyKey: 'cm-fab-orphan' })).body.errors).toBeUndefined();
    expect((await system.gql(PARENT, { id })).body.data.customer.parent).toBeNull();
  });
});
