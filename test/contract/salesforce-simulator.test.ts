/**
 * The Salesforce simulator driven through jsforce, the official client, as Concord's adapter
 * drives a real org: SOQL with relationships and paging, sObject rows, upsert, collections, and
 * Salesforce's error envelope, API budget, session check and faults.
 */
import type { Connection } from 'jsforce';
import { buildSeed, salesforceId18 } from '../../simulators/common/seed';
import type { SimServer } from '../../simulators/common/sim-server';
import { API, connect, raw, simControl, simStats, soqlUrl, startSim } from './helpers-salesforce';

const seed = buildSeed();
const customer = (i: number) => seed.customers[i];

/** jsforce rejects with HttpApiError carrying Salesforce's errorCode and the entry as data. */
async function failure(promise: PromiseLike<unknown>): Promise<{ errorCode: string; message: string; data: any }> {
  try {
    await promise;
  } catch (error) {
    return error as { errorCode: string; message: string; data: any };
  }
  throw new Error('expected the call to fail');
}

describe('Salesforce simulator through jsforce', () => {
  let sim: SimServer;
  let conn: Connection;

  beforeAll(async () => {
    sim = await startSim();
    conn = connect(sim);
  });
  afterAll(() => sim.close());
  afterEach(() => sim.reset());

  describe('SOQL', () => {
    it('nests parent fields and child subqueries as Salesforce does', async () => {
      const child = customer(5); // its parent is customer 0
      const result = await conn.query<any>(
        `SELECT Id, Name, Website, Parent.Name, (SELECT Id, StageName, Amount FROM Opportunities ORDER BY Id), (SELECT Id FROM ChildAccounts) FROM Account WHERE Id IN ('${child.crmId}', '${customer(0).crmId}') ORDER BY Name`,
      );
      expect(result.totalSize).toBe(2);
      const byId = new Map(result.records.map((r: any) => [r.Id, r]));
      const record: any = byId.get(child.crmId);
      expect(record.attributes).toEqual({ type: 'Account', url: `${API}/sobjects/Account/${child.crmId}` });
      expect(record.Website).toBe(child.domain);
      expect(record.Parent).toEqual({
        attributes: { type: 'Account', url: `${API}/sobjects/Account/${customer(0).crmId}` },
        Name: customer(0).name,
      });
      const expected = seed.opportunities.filter((o) => o.customerIndex === 5);
      expect(record.Opportunities.totalSize).toBe(expected.length);
      expect(record.Opportunities.done).toBe(true);
      expect(record.Opportunities.records.map((o: any) => [o.Id, o.StageName, o.Amount])).toEqual(
        expected.map((o) => [o.crmId, o.stage, o.amount / 100]),
      );
      expect(record.ChildAccounts).toBeNull(); // empty child relationship is null, not []
      const parent: any = byId.get(customer(0).crmId);
      expect(parent.Parent).toBeNull();
      expect(parent.ChildAccounts.records.map((r: any) => r.Id)).toContain(child.crmId);
    });

    it('returns opportunity products with derived TotalPrice and the parent account path', async () => {
      const opp = seed.opportunities[0];
      const result = await conn.query<any>(
        `SELECT Id, Account.Name, (SELECT Id, ProductCode, Quantity, UnitPrice, TotalPrice FROM OpportunityLineItems ORDER BY Id) FROM Opportunity WHERE Id = '${opp.crmId}'`,
      );
      const record = result.records[0];
      expect(record.Account.Name).toBe(customer(opp.customerIndex).name);
      expect(record.OpportunityLineItems.records.map((l: any) => [l.Id, l.ProductCode, l.Quantity, l.UnitPrice, l.TotalPrice])).toEqual(
        opp.lines.map((l) => [l.id, l.productCode, l.quantity, l.unitPrice / 100, (l.quantity * l.unitPrice) / 100]),
      );
    });

    it('filters with IN and AND, orders, limits and offsets like the seed says', async () => {
      const result = await conn.query<any>(
        "SELECT Id, Amount FROM Opportunity WHERE StageName IN ('Closed Won', 'Closed Lost') AND Amount > 1000 AND CloseDate >= 2026-01-01 ORDER BY Amount DESC, Id LIMIT 5 OFFSET 1",
      );
      const expected = seed.opportunities
        .filter((o) => o.isClosed && o.amount > 100_000 && o.closeDate >= '2026-01-01')
        .sort((a, b) => b.amount - a.amount || (a.crmId < b.crmId ? -1 : 1))
        .slice(1, 6);
      expect(expected).toHaveLength(5);
      expect(result.records.map((r: any) => r.Id)).toEqual(expected.map((o) => o.crmId));
      const count = await conn.query('SELECT COUNT() FROM Opportunity WHERE IsWon = true');
      expect(count.totalSize).toBe(seed.opportunities.filter((o) => o.isWon).length);
      expect(count.records).toEqual([]);
    });

    it('sorts nulls first in either direction unless NULLS LAST is given', async () => {
      const first = async (order: string) => (await conn.query<any>(`SELECT ParentId FROM Account ORDER BY ${order} LIMIT 1`)).records[0].ParentId;
      expect(await first('ParentId')).toBeNull();
      expect(await first('ParentId DESC')).toBeNull();
      expect(await first('ParentId DESC NULLS LAST')).toBe(customer(40).crmId); // parent of customer 45, the highest
      expect(await first('ParentId NULLS LAST')).toBe(customer(0).crmId);
    });

    it('accepts 15-character ids and rejects values of the wrong type', async () => {
      const id15 = customer(3).crmId.slice(0, 15);
      const result = await conn.query<any>(`SELECT Id FROM Account WHERE Id = '${id15}'`);
      expect(result.records.map((r: any) => r.Id)).toEqual([customer(3).crmId]);
      expect((await failure(conn.query("SELECT Id FROM Account WHERE Id = 'nope'"))).errorCode).toBe('INVALID_QUERY_FILTER_OPERATOR');
      const quotedDate = await failure(conn.query("SELECT Id FROM Opportunity WHERE CloseDate = '2026-01-01'"));
      expect(quotedDate.errorCode).toBe('INVALID_QUERY_FILTER_OPERATOR');
    });

    it('pages past pageSize with nextRecordsUrl, served by queryMore and autoFetch', async () => {
      const small = await startSim({ pageSize: 7 });
      try {
        const c = connect(small);
        const first = await c.query<any>('SELECT Id FROM Account ORDER BY Id');
        expect(first.done).toBe(false);
        expect(first.totalSize).toBe(50);
        expect(first.records).toHaveLength(7);
        expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-7$/);
        const second = await c.queryMore<any>(first.nextRecordsUrl!);
        expect(second.records.map((r: any) => r.Id)).toEqual(
          [...seed.customers.map((x) => x.crmId)].sort().slice(7, 14),
        );
        const all = await c.query<any>('SELECT Id FROM Account ORDER BY Id').autoFetch(true);
        expect(all.records.map((r: any) => r.Id)).toEqual(seed.customers.map((x) => x.crmId).sort());
        expect((await simStats(small.url)).byRoute[`GET ${API}/query/:locator`]).toBe(1 + 7);
      } finally {
        await small.close();
      }
    });
  });

  describe('sObject rows', () => {
    it('creates, reads, updates and deletes with derived and system fields', async () => {
      const created = await conn.sobject('Opportunity').create({
        AccountId: customer(1).crmId,
        Name: 'Test deal',
        StageName: 'Prospecting',
        CloseDate: '2026-12-31',
        Amount: 1234.5,
      });
      expect(created.success).toBe(true);
      const id = created.id!;
      expect(id).toHaveLength(18);
      expect(id.startsWith('006')).toBe(true);
      expect(salesforceId18(id.slice(0, 15))).toBe(id); // the real checksum suffix
      const read = await conn.sobject('Opportunity').retrieve(id);
      expect(read).toMatchObject({ Name: 'Test deal', IsWon: false, IsClosed: false, Amount: 1234.5, CloseDate: '2026-12-31' });
      expect(read.CreatedDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);

      await conn.sobject('Opportunity').update({ Id: id, StageName: 'Closed Won' });
      const won = await conn.sobject('Opportunity').retrieve(id, { fields: ['IsWon', 'IsClosed', 'LastModifiedDate'] } as any);
      expect(won).toMatchObject({ IsWon: true, IsClosed: true });
      expect(won.LastModifiedDate >= read.CreatedDate).toBe(true);

      await conn.sobject('Opportunity').destroy(id);
      expect((await failure(conn.sobject('Opportunity').retrieve(id))).errorCode).toBe('NOT_FOUND');
    });

    it("rejects bad writes with Salesforce's error codes", async () => {
      const opp = conn.sobject('Opportunity');
      const missing = await failure(opp.create({ StageName: 'Prospecting' }));
      expect(missing.errorCode).toBe('REQUIRED_FIELD_MISSING');
      expect(missing.data.fields).toEqual(['Name', 'CloseDate']);
      const readOnly = await failure(opp.update({ Id: seed.opportunities[0].crmId, IsWon: false }));
      expect(readOnly.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
      expect((await failure(opp.update({ Id: seed.opportunities[0].crmId, Foo__c: 1 }))).errorCode).toBe('INVALID_FIELD');
      expect((await failure(opp.update({ Id: seed.opportunities[0].crmId, Amount: -1 }))).errorCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
      expect((await failure(opp.update({ Id: seed.opportunities[0].crmId, StageName: 'Won-ish' }))).errorCode).toBe(
        'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
      );
      expect((await failure(conn.sobject('Account').retrieve('not-an-id'))).errorCode).toBe('MALFORMED_ID');
      // An Opportunity id is not an Account id.
      expect((await failure(conn.sobject('Account').retrieve(seed.opportunities[0].crmId))).errorCode).toBe('MALFORMED_ID');
    });

    it('upserts on an external-ID field: 201 created, then 200 updating the same record', async () => {
      const path = `${API}/sobjects/Opportunity/Concord_Order_Key__c/run-1:billing`;
      const body = { Name: 'Upserted', StageName: 'Closed Won', CloseDate: '2026-11-30', AccountId: customer(2).crmId };
      const first = await raw(sim, 'PATCH', path, { body });
      expect(first.status).toBe(201);
      expect(first.body).toEqual({ id: expect.any(String), success: true, errors: [], created: true });
      const again = await conn.sobject('Opportunity').upsert({ Concord_Order_Key__c: 'run-1:billing', Name: 'Renamed' }, 'Concord_Order_Key__c');
      expect(again).toMatchObject({ id: first.body.id, success: true, created: false });
      const third = await raw(sim, 'PATCH', path, { body: { Name: 'Renamed again' } });
      expect(third.status).toBe(200);
      const matches = await conn.query<any>("SELECT Id, Name FROM Opportunity WHERE Concord_Order_Key__c = 'run-1:billing'");
      expect(matches.records.map((r: any) => [r.Id, r.Name])).toEqual([[first.body.id, 'Renamed again']]);
    });

    it('answers 300 with the matching records when an external id is ambiguous', async () => {
      const shared = { Billing_Customer_Id__c: 'cus_shared_twice' };
      const a = await conn.sobject('Account').create({ Name: 'Twin A', ...shared });
      const b = await conn.sobject('Account').create({ Name: 'Twin B', ...shared });
      const response = await raw(sim, 'PATCH', `${API}/sobjects/Account/Billing_Customer_Id__c/cus_shared_twice`, { body: { Name: 'Who?' } });
      expect(response.status).toBe(300);
      expect(response.body).toEqual([`${API}/sobjects/Account/${a.id}`, `${API}/sobjects/Account/${b.id}`]);
    });

    it('creates and updates many records in one sObject Collections call', async () => {
      await simControl(sim.url, 'reset');
      const results = await conn.sobject('Account').create([{ Name: 'Bulk 1' }, { Name: 'Bulk 2' }]);
      expect(results.map((r) => r.success)).toEqual([true, true]);
      const updated = await conn.sobject('Account').update(results.map((r) => ({ Id: r.id!, Website: 'https://bulk.example.com' })));
      expect(updated.map((r) => r.success)).toEqual([true, true]);
      const stats = await simStats(sim.url);
      expect(stats.byRoute[`POST ${API}/composite/sobjects`]).toBe(1);
      expect(stats.byRoute[`PATCH ${API}/composite/sobjects`]).toBe(1);
      expect(stats.requests).toBe(2);
      const read = await conn.query<any>("SELECT Website FROM Account WHERE Name IN ('Bulk 1', 'Bulk 2')");
      expect(read.records.map((r: any) => r.Website)).toEqual(['https://bulk.example.com', 'https://bulk.example.com']);
    });

    it('rolls back the whole collection with allOrNone, and only the bad record without it', async () => {
      const rolledBack: any[] = await conn.sobject('Account').create([{ Name: 'AllOrNone ok' }, { Website: 'x' }], { allOrNone: true });
      expect(rolledBack.map((r) => r.success)).toEqual([false, false]);
      expect(rolledBack[0].errors[0].statusCode).toBe('ALL_OR_NONE_OPERATION_ROLLED_BACK');
      expect(rolledBack[1].errors[0]).toMatchObject({ statusCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] });
      expect((await conn.query("SELECT Id FROM Account WHERE Name = 'AllOrNone ok'")).totalSize).toBe(0);

      const partial: any[] = await conn.sobject('Account').create([{ Name: 'Partial ok' }, { Website: 'x' }]);
      expect(partial.map((r) => r.success)).toEqual([true, false]);
      expect((await conn.query("SELECT Id FROM Account WHERE Name = 'Partial ok'")).totalSize).toBe(1);
    });

    it('describes objects and lists records changed in a window', async () => {
      const describe = await conn.describe('Opportunity');
      const fields = new Map(describe.fields.map((f) => [f.name, f]));
      expect(fields.get('Concord_Order_Key__c')).toMatchObject({ externalId: true, unique: true, updateable: true });
      expect(fields.get('IsWon')).toMatchObject({ updateable: false, createable: false });
      const start = new Date(Date.now() - 60_000);
      const { id } = await conn.sobject('Account').create({ Name: 'Changed lately' });
      const updated = await conn.sobject('Account').updated(start, new Date(Date.now() + 60_000));
      expect(updated.ids).toContain(id);
      expect(updated.ids).not.toContain(customer(0).crmId); // seeded in 2025
    });
  });

  describe('wire protocol', () => {
    it("returns Salesforce's error envelope for bad fields, bad syntax and unknown routes", async () => {
      const badField = await raw(sim, 'GET', soqlUrl('SELECT Id, Foo FROM Account'));
      expect(badField.status).toBe(400);
      expect(badField.body).toEqual([{ errorCode: 'INVALID_FIELD', message: expect.stringContaining("No such column 'Foo' on entity 'Account'") }]);
      expect(badField.body[0].message).toContain('ERROR at Row:1:Column:12');
      const malformed = await raw(sim, 'GET', soqlUrl('SELECT FROM Account'));
      expect(malformed.body[0].errorCode).toBe('MALFORMED_QUERY');
      const unknownObject = await raw(sim, 'GET', soqlUrl('SELECT Id FROM Lead'));
      expect(unknownObject.body[0].errorCode).toBe('INVALID_TYPE');
      const unknownRoute = await raw(sim, 'GET', `${API}/nothing/here`);
      expect(unknownRoute.status).toBe(404);
      expect(unknownRoute.body).toEqual([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    });

    it('reports API usage in Sforce-Limit-Info and refuses requests past the daily limit', async () => {
      const limited = await startSim({ apiLimit: 3 });
      try {
        const usage: (string | null)[] = [];
        for (let i = 0; i < 3; i++) usage.push((await raw(limited, 'GET', `${API}/limits`)).headers.get('sforce-limit-info'));
        expect(usage).toEqual(['api-usage=1/3', 'api-usage=2/3', 'api-usage=3/3']);
        const refused = await raw(limited, 'GET', soqlUrl('SELECT Id FROM Account'));
        expect(refused.status).toBe(403);
        expect(refused.body).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
        expect(refused.headers.get('sforce-limit-info')).toBe('api-usage=3/3');
        await simControl(limited.url, 'reset');
        const c = connect(limited);
        await c.query('SELECT Id FROM Account LIMIT 1');
        expect(c.limitInfo.apiUsage).toEqual({ used: 1, limit: 3 });
      } finally {
        await limited.close();
      }
    });

    it('rejects any other session than the required one with INVALID_SESSION_ID', async () => {
      const strict = await startSim({ requiredToken: 'the-right-token' });
      try {
        const wrong = await failure(connect(strict, 'another-token').query('SELECT Id FROM Account'));
        expect(wrong.errorCode).toBe('INVALID_SESSION_ID');
        const missing = await raw(strict, 'GET', soqlUrl('SELECT Id FROM Account'), { token: null });
        expect(missing.status).toBe(401);
        expect(missing.body).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
        expect((await connect(strict, 'the-right-token').query('SELECT Id FROM Account')).totalSize).toBe(50);
      } finally {
        await strict.close();
      }
    });

    it('counts requests by route in /__sim/stats', async () => {
      await simControl(sim.url, 'reset');
      await conn.query('SELECT Id FROM Account LIMIT 1');
      await conn.query('SELECT Id FROM Contract LIMIT 1');
      await conn.sobject('Account').retrieve(customer(0).crmId);
      const stats = await simStats(sim.url);
      expect(stats.requests).toBe(3);
      expect(stats.byRoute).toEqual({ [`GET ${API}/query`]: 2, [`GET ${API}/sobjects/:type/:id`]: 1 });
    });

    it("answers injected faults in Salesforce's shape", async () => {
      const expectations: [string, number, string, RegExp][] = [
        ['503', 503, 'SERVER_UNAVAILABLE', /unavailable/i],
        ['500', 500, 'UNKNOWN_EXCEPTION', /unexpected error/],
        ['429', 403, 'REQUEST_LIMIT_EXCEEDED', /^ConcurrentPerOrgLongTxn Limit exceeded\.$/],
      ];
      for (const [kind, status, errorCode, message] of expectations) {
        await simControl(sim.url, 'faults', { rate: 1, kinds: [kind as '503'], applyBeforeFail: 0 });
        const response = await raw(sim, 'GET', soqlUrl('SELECT Id FROM Account'));
        expect([response.status, response.body[0].errorCode]).toEqual([status, errorCode]);
        expect(response.body[0].message).toMatch(message);
        expect(response.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/15000$/);
      }
      await simControl(sim.url, 'faults', { rate: 1, kinds: ['503'] });
      // jsforce would retry a GET on 503 five times by itself; one attempt is enough here.
      const viaClient = await failure(conn.request({ method: 'GET', url: soqlUrl('SELECT Id FROM Account') }, { retry: { maxRetries: 0 } }));
      expect(viaClient.errorCode).toBe('SERVER_UNAVAILABLE');
    });

    it('exposes every record in wire shape at /__sim/state', async () => {
      const fresh = await startSim();
      try {
        const state = await simControl<Record<string, any[]>>(fresh.url, 'state');
        expect(Object.keys(state).sort()).toEqual(['Account', 'Contract', 'Opportunity', 'OpportunityLineItem']);
        expect(state.Account).toHaveLength(50);
        expect(state.Opportunity).toHaveLength(seed.opportunities.length);
        expect(state.Contract).toHaveLength(seed.contracts.length);
        const draft = seed.contracts.findIndex((c) => c.status === 'incomplete');
        expect(state.Contract[draft]).toMatchObject({ Status: 'Draft', Billing_Subscription_Id__c: seed.contracts[draft].id });
        const billed = seed.opportunities.find((o) => o.contractId)!;
        const invoice = seed.invoices.find((i) => i.id === billed.invoiceId)!;
        expect(state.Opportunity.find((o) => o.Id === billed.crmId)).toMatchObject({
          attributes: { type: 'Opportunity', url: `${API}/sobjects/Opportunity/${billed.crmId}` },
          Billing_Subscription_Id__c: billed.contractId,
          Billing_Invoice_Id__c: billed.invoiceId,
          ERP_Invoice_Id__c: invoice.posting!.erpId,
          Concord_Order_Status__c: 'Completed',
        });
        const held = seed.customers.find((c) => c.creditHold)!;
        expect(state.Account.find((a) => a.Id === held.crmId).Concord_Status__c).toBe('Credit Hold');
      } finally {
        await fresh.close();
      }
    });
  });
});
