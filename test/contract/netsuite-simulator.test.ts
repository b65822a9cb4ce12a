/**
 * The NetSuite simulator speaks NetSuite's REST wire protocol: record API, external-id upsert,
 * SuiteQL, error envelope, closed periods, the account concurrency limit and OAuth 1.0a TBA with
 * HMAC-SHA256. NetSuite has no official Node SDK, so the protocol is exercised through Concord's
 * own signed client (vendors/netsuite/client.ts) against a real server on port 0.
 */
import type { SimServer } from '../../simulators/common/sim-server';
import { buildSeed } from '../../simulators/common/seed';
import { startNetSuiteSimulator } from '../../simulators/netsuite/server';
import { buildUrl, createNetSuiteClient, createTbaSigner, type NetSuiteClient, type NetSuiteRequest } from '../../vendors/netsuite/client';

const ACCOUNT = 'TSTDRV1234567';
const CREDENTIALS = { consumerKey: 'ck-test', consumerSecret: 'cs-test', tokenId: 'tk-test', tokenSecret: 'ts-test' };
const RECORD = '/services/rest/record/v1';
const SUITEQL = '/services/rest/query/v1/suiteql';
const seed = buildSeed();

type Json = Record<string, any>;

function clientFor(sim: SimServer, overrides: Partial<typeof CREDENTIALS> & { concurrency?: number } = {}): NetSuiteClient {
  return createNetSuiteClient({ baseUrl: sim.url, accountId: ACCOUNT, ...CREDENTIALS, ...overrides });
}

async function control(sim: SimServer, method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await response.json()) as Json;
}

const suiteql = (client: NetSuiteClient, q: string, query: NetSuiteRequest['query'] = {}) =>
  client.request({ method: 'POST', path: SUITEQL, query, headers: { prefer: 'transient' }, body: { q }, operation: 'suiteql' });

const errorCode = (body: unknown) => (body as Json)['o:errorDetails']?.[0]?.['o:errorCode'];

describe('NetSuite simulator (open credentials)', () => {
  let sim: SimServer;
  let client: NetSuiteClient;

  beforeAll(async () => {
    sim = await startNetSuiteSimulator({ seed });
    client = clientFor(sim);
  });
  afterAll(() => sim.close());

  test('record API: create -> 204 + Location, read, patch, delete', async () => {
    const created = await client.request({ method: 'POST', path: `${RECORD}/customer`, body: { companyName: 'Simulated Co', email: 'a@sim.example' }, operation: 't' });
    expect(created.status).toBe(204);
    expect(created.body).toBeNull();
    const location = created.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${sim.url}${RECORD}/customer/\\d+$`));
    const path = new URL(location).pathname;

    const read = await client.request({ method: 'GET', path, operation: 't' });
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toContain('application/vnd.oracle.resource+json; type=singular-resource');
    const record = read.body as Json;
    expect(record).toMatchObject({ companyName: 'Simulated Co', email: 'a@sim.example', balance: 0, creditHoldOverride: { id: 'AUTO' }, currency: { id: '1', refName: 'USD' } });
    expect(record.entityId).toMatch(/^CUST-\d{5}$/);
    expect(record.links).toEqual([{ rel: 'self', href: location }]);

    const patched = await client.request({ method: 'PATCH', path, body: { email: 'b@sim.example', creditLimit: 1234.5 }, operation: 't' });
    expect(patched.status).toBe(204);
    expect((await client.request({ method: 'GET', path, operation: 't' })).body).toMatchObject({ email: 'b@sim.example', creditLimit: 1234.5 });

    const readOnly = await client.request({ method: 'PATCH', path, body: { balance: 10 }, operation: 't' });
    expect(readOnly.status).toBe(400);
    expect(readOnly.headers.get('content-type')).toBe('application/vnd.oracle.resource+json; type=error');
    expect(readOnly.body).toMatchObject({ status: 400, title: 'Bad Request', 'o:errorDetails': [{ 'o:errorCode': 'USER_ERROR', 'o:errorPath': 'balance' }] });

    expect((await client.request({ method: 'DELETE', path, operation: 't' })).status).toBe(204);
    const gone = await client.request({ method: 'GET', path, operation: 't' });
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ status: 404, 'o:errorDetails': [{ 'o:errorCode': 'NONEXISTENT_ID', detail: expect.stringContaining('record instance does not exist') }] });
  });

  test('invoice sublist is a link unless expandSubResources=true; a customer with transactions cannot be deleted', async () => {
    const invoice = seed.invoices.find((i) => i.posting)!;
    const path = `${RECORD}/invoice/${invoice.posting!.erpId}`;
    const plain = (await client.request({ method: 'GET', path, operation: 't' })).body as Json;
    expect(plain.item).toEqual({ links: [{ rel: 'self', href: `${sim.url}${path}/item` }] });
    expect(plain).toMatchObject({ tranId: invoice.posting!.tranId, externalId: invoice.id, total: invoice.total / 100, postingPeriod: { refName: expect.stringMatching(/^[A-Z][a-z]{2} \d{4}$/) } });
    const expanded = (await client.request({ method: 'GET', path, query: { expandSubResources: true }, operation: 't' })).body as Json;
    expect(expanded.item.items).toHaveLength(invoice.lines.length);
    expect(expanded.item.items[0]).toMatchObject({ quantity: invoice.lines[0].quantity, amount: invoice.lines[0].amount / 100 });

    const customer = seed.customers[invoice.customerIndex];
    const refused = await client.request({ method: 'DELETE', path: `${RECORD}/customer/eid:${customer.crmId}`, operation: 't' });
    expect(refused.status).toBe(400);
  });

  test('list paging: limit, offset, hasMore, totalResults and links', async () => {
    const first = (await client.request({ method: 'GET', path: `${RECORD}/customer`, query: { limit: 20 }, operation: 't' })).body as Json;
    const total = first.totalResults as number;
    expect(total).toBeGreaterThanOrEqual(seed.customers.length);
    expect(first).toMatchObject({ count: 20, hasMore: true, offset: 0 });
    expect(first.links.find((l: Json) => l.rel === 'next').href).toContain('offset=20');
    const ids: string[] = [];
    for (let offset = 0; ; offset += 20) {
      const page = (await client.request({ method: 'GET', path: `${RECORD}/customer`, query: { limit: 20, offset }, operation: 't' })).body as Json;
      ids.push(...page.items.map((item: Json) => item.id));
      expect(page.items[0].links[0].href).toBe(`${sim.url}${RECORD}/customer/${page.items[0].id}`);
      if (!page.hasMore) break;
    }
    expect(new Set(ids).size).toBe(total);

    const filtered = (await client.request({ method: 'GET', path: `${RECORD}/customer`, query: { q: 'companyName START_WITH "Globex"' }, operation: 't' })).body as Json;
    expect(filtered.totalResults).toBe(seed.customers.filter((c) => c.name.startsWith('Globex')).length);
    const tooMany = await client.request({ method: 'GET', path: `${RECORD}/customer`, query: { limit: 1001 }, operation: 't' });
    expect(tooMany.status).toBe(400);
    expect(errorCode(tooMany.body)).toBe('INVALID_PARAMETER');
  });

  test('external-id upsert twice makes one record, updated in place', async () => {
    const path = `${RECORD}/customer/eid:SIM-UPSERT-1`;
    const first = await client.request({ method: 'PUT', path, body: { companyName: 'Upsert One' }, operation: 't' });
    const second = await client.request({ method: 'PUT', path, body: { companyName: 'Upsert Two' }, operation: 't' });
    expect([first.status, second.status]).toEqual([204, 204]);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    const state = await control(sim, 'GET', '/__sim/state');
    const held = state.customer.filter((c: Json) => c.externalId === 'SIM-UPSERT-1');
    expect(held).toHaveLength(1);
    expect(held[0].companyName).toBe('Upsert Two');
    expect((await client.request({ method: 'GET', path, operation: 't' })).body).toMatchObject({ companyName: 'Upsert Two' });

    const duplicate = await client.request({ method: 'POST', path: `${RECORD}/customer`, body: { companyName: 'Dup', externalId: 'SIM-UPSERT-1' }, operation: 't' });
    expect(duplicate.status).toBe(400);
    expect((duplicate.body as Json)['o:errorDetails'][0].detail).toContain('already exists');
  });

  test('SuiteQL: IN, AND, ORDER BY, offset paging, string values', async () => {
    const entities = seed.customers.slice(0, 3).map((c) => Number(c.erpId));
    const expected = seed.invoices
      .filter((i) => i.posting && entities.includes(Number(seed.customers[i.customerIndex].erpId)))
      .sort((a, b) => b.total - a.total || Number(a.posting!.erpId) - Number(b.posting!.erpId));
    const q = `SELECT t.id, t.externalid, t.foreigntotal FROM transaction t WHERE t.type = 'CustInvc' AND t.entity IN (${entities.join(', ')}) ORDER BY t.foreigntotal DESC, t.id ASC`;
    const first = await suiteql(client, q, { limit: 5 });
    expect(first.status).toBe(200);
    const page1 = first.body as Json;
    expect(page1).toMatchObject({ count: 5, hasMore: true, offset: 0, totalResults: expected.length });
    expect(page1.items[0]).toEqual({ links: [], id: expected[0].posting!.erpId, externalid: expected[0].id, foreigntotal: String(expected[0].total / 100) });
    const page2 = (await suiteql(client, q, { limit: 5, offset: 5 })).body as Json;
    expect(page2.offset).toBe(5);
    const ids = [...page1.items, ...page2.items].map((row: Json) => row.id);
    expect(ids).toEqual(expected.slice(0, 10).map((i) => i.posting!.erpId));

    const held = seed.customers.filter((c) => (c.creditHold || c.creditLimit >= 250_000) && c.email);
    const grouped = (await suiteql(client, "SELECT id FROM customer WHERE (creditholdoverride = 'ON' OR creditlimit >= 250000) AND email IS NOT NULL AND NOT externalid = 'x'")).body as Json;
    expect(grouped.totalResults).toBe(held.length);

    const periods = (await suiteql(client, "SELECT periodname, closed, TO_CHAR(startdate, 'YYYY-MM-DD') AS startdate FROM accountingperiod WHERE periodname = 'Nov 2026'")).body as Json;
    expect(periods.items).toEqual([{ links: [], periodname: 'Nov 2026', closed: 'F', startdate: '2026-11-01' }]);
  });

  test('bad SuiteQL -> 400 INVALID_PARAMETER in o:errorDetails', async () => {
    for (const q of ['SELEC id FROM customer', 'SELECT nosuchcolumn FROM customer', 'SELECT id FROM nosuchtable', "SELECT id FROM customer WHERE externalid IN ('a'"]) {
      const response = await suiteql(client, q);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ status: 400, 'o:errorDetails': [{ 'o:errorCode': 'INVALID_PARAMETER', 'o:errorQueryParam': 'q', detail: expect.stringMatching(/^Invalid search query/) }] });
    }
    const noPrefer = await client.request({ method: 'POST', path: SUITEQL, body: { q: 'SELECT id FROM customer' }, operation: 't' });
    expect(noPrefer.status).toBe(400);
  });

  test('closed period: rejected with nothing written, reopened: accepted', async () => {
    const customer = seed.customers[0];
    const body = { entity: { id: customer.erpId }, tranDate: '2026-12-05', item: { items: [{ item: { id: '500' }, quantity: 1, amount: 10 }] } };
    const closed = await control(sim, 'POST', '/__sim/periods', { closed: ['2026-12'] });
    expect(closed).toEqual({ closed: ['2026-12'] });
    expect(await control(sim, 'GET', '/__sim/periods')).toEqual({ closed: ['2026-12'] });

    const refused = await client.request({ method: 'PUT', path: `${RECORD}/invoice/eid:SIM-CLOSED-1`, body, operation: 't' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ 'o:errorDetails': [{ 'o:errorCode': 'USER_ERROR', detail: expect.stringContaining('not within an open accounting period') }] });
    expect((await control(sim, 'GET', '/__sim/state')).invoice.some((i: Json) => i.externalId === 'SIM-CLOSED-1')).toBe(false);
    const period = (await suiteql(client, "SELECT closed FROM accountingperiod WHERE periodname = 'Dec 2026'")).body as Json;
    expect(period.items[0].closed).toBe('T');

    await control(sim, 'POST', '/__sim/periods', { closed: [] });
    const accepted = await client.request({ method: 'PUT', path: `${RECORD}/invoice/eid:SIM-CLOSED-1`, body, operation: 't' });
    expect(accepted.status).toBe(204);
    const invoice = (await client.request({ method: 'GET', path: `${RECORD}/invoice/eid:SIM-CLOSED-1`, operation: 't' })).body as Json;
    expect(invoice).toMatchObject({ total: 10, amountRemaining: 10, status: { refName: 'Open' }, postingPeriod: { refName: 'Dec 2026' } });
  });

  test('customerPayment applied to an open invoice: amount remaining, status and balance follow', async () => {
    const open = seed.invoices.find((i) => i.posting && i.status === 'open')!;
    const customer = seed.customers[open.customerIndex];
    const before = (await client.request({ method: 'GET', path: `${RECORD}/customer/${customer.erpId}`, operation: 't' })).body as Json;
    const payment = {
      customer: { externalId: customer.crmId },
      payment: open.total / 100,
      tranDate: '2026-12-10',
      apply: { items: [{ doc: { id: open.posting!.erpId }, apply: true, amount: open.total / 100 }] },
    };
    const overpaid = await client.request({ method: 'POST', path: `${RECORD}/customerPayment`, body: { ...payment, apply: { items: [{ doc: { id: open.posting!.erpId }, apply: true, amount: open.total }] } }, operation: 't' });
    expect(overpaid.status).toBe(400);

    const created = await client.request({ method: 'POST', path: `${RECORD}/customerPayment`, body: payment, operation: 't' });
    expect(created.status).toBe(204);
    const invoice = (await client.request({ method: 'GET', path: `${RECORD}/invoice/eid:${open.id}`, operation: 't' })).body as Json;
    expect(invoice).toMatchObject({ amountRemaining: 0, status: { id: 'B', refName: 'Paid In Full' } });
    const after = (await client.request({ method: 'GET', path: `${RECORD}/customer/${customer.erpId}`, operation: 't' })).body as Json;
    expect(Math.round((before.balance - after.balance) * 100)).toBe(open.total);
    const row = (await suiteql(client, `SELECT status, foreignamountremaining FROM transaction WHERE externalid = '${open.id}'`)).body as Json;
    expect(row.items).toEqual([{ links: [], status: 'B', foreignamountremaining: '0' }]);
  });

  test('concurrency: over the limit -> 429 CONCURRENCY_LIMIT_EXCEEDED; the gated client never exceeds it', async () => {
    await control(sim, 'POST', '/__sim/reset');
    await control(sim, 'POST', '/__sim/faults', { latencyMs: 500 });
    const sign = createTbaSigner({ accountId: ACCOUNT, ...CREDENTIALS });
    const raw = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const url = buildUrl(sim.url, `${RECORD}/customer/${seed.customers[0].erpId}`);
        const response = await fetch(url, { headers: { authorization: sign('GET', url) } });
        return { status: response.status, body: (await response.json()) as Json };
      }),
    );
    const refused = raw.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(raw.filter((r) => r.status === 200).length).toBeLessThanOrEqual(5);
    expect(refused[0].body).toMatchObject({ status: 429, 'o:errorDetails': [{ 'o:errorCode': 'CONCURRENCY_LIMIT_EXCEEDED' }] });

    await control(sim, 'POST', '/__sim/reset');
    await control(sim, 'POST', '/__sim/faults', { latencyMs: 100 });
    const gated = clientFor(sim, { concurrency: 5 });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () => gated.request({ method: 'GET', path: `${RECORD}/customer/${seed.customers[0].erpId}`, operation: 't' }).then((r) => r.status)),
    );
    expect(statuses).toEqual(Array(10).fill(200));
    const stats = await control(sim, 'GET', '/__sim/stats');
    expect(stats.maxInFlight).toBeLessThanOrEqual(5);
    expect(stats.concurrencyRejections).toBe(0);
    await control(sim, 'POST', '/__sim/reset');
  });

  test('/__sim/stats counts requests by route', async () => {
    await control(sim, 'POST', '/__sim/reset');
    await suiteql(client, 'SELECT id FROM customer');
    await suiteql(client, 'SELECT id FROM customer');
    await client.request({ method: 'GET', path: `${RECORD}/customer/${seed.customers[1].erpId}`, operation: 't' });
    const stats = await control(sim, 'GET', '/__sim/stats');
    expect(stats.requests).toBe(3);
    expect(stats.byRoute).toEqual({ [`POST ${SUITEQL}`]: 2, [`GET ${RECORD}/customer/:id`]: 1 });
  });

  test('a missing or malformed OAuth header gets 401 even with open credentials', async () => {
    const missing = await fetch(`${sim.url}${RECORD}/customer/1000`);
    expect(missing.status).toBe(401);
    const basic = await fetch(`${sim.url}${RECORD}/customer/1000`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.status).toBe(401);
    expect(errorCode(await basic.json())).toBe('INVALID_LOGIN');
  });
});

describe('NetSuite simulator (required credentials: HMAC-SHA256 verified)', () => {
  let sim: SimServer;

  beforeAll(async () => {
    sim = await startNetSuiteSimulator({ seed, credentials: CREDENTIALS });
  });
  afterAll(() => sim.close());

  test('the right secret works, a wrong one gets 401 INVALID_LOGIN', async () => {
    const good = await clientFor(sim).request({ method: 'GET', path: `${RECORD}/customer`, query: { limit: 2, offset: 2 }, operation: 't' });
    expect(good.status).toBe(200);
    expect((good.body as Json).items).toHaveLength(2);

    const bad = await clientFor(sim, { tokenSecret: 'not-the-secret' }).request({ method: 'GET', path: `${RECORD}/customer`, query: { limit: 2 }, operation: 't' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('token_rejected');
    expect(bad.body).toMatchObject({ status: 401, title: 'Unauthorized', 'o:errorDetails': [{ 'o:errorCode': 'INVALID_LOGIN', detail: expect.stringMatching(/^Invalid login attempt/) }] });

    const wrongConsumer = await clientFor(sim, { consumerSecret: 'nope' }).request({ method: 'POST', path: SUITEQL, headers: { prefer: 'transient' }, body: { q: 'SELECT id FROM customer' }, operation: 't' });
    expect(wrongConsumer.status).toBe(401);
  });

  test('query parameters are part of the signature: a changed one fails', async () => {
    const sign = createTbaSigner({ accountId: ACCOUNT, ...CREDENTIALS });
    const signed = buildUrl(sim.url, `${RECORD}/customer`, { limit: 2, q: 'companyName START_WITH "Acme Corp"' });
    const ok = await fetch(signed, { headers: { authorization: sign('GET', signed) } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Json).totalResults).toBe(1);

    const tampered = await fetch(signed.replace('limit=2', 'limit=3'), { headers: { authorization: sign('GET', signed) } });
    expect(tampered.status).toBe(401);
    const wrongMethod = await fetch(signed, { method: 'DELETE', headers: { authorization: sign('GET', signed) } });
    expect(wrongMethod.status).toBe(401);
  });

  test('a replayed header (same nonce) is refused', async () => {
    const sign = createTbaSigner({ accountId: ACCOUNT, ...CREDENTIALS });
    const url = buildUrl(sim.url, `${RECORD}/customer/1000`);
    const header = sign('GET', url);
    expect((await fetch(url, { headers: { authorization: header } })).status).toBe(200);
    expect((await fetch(url, { headers: { authorization: header } })).status).toBe(401);
  });
});
