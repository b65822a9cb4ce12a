/**
 * The Business Central simulator speaks BC's API v2.0 wire format as Microsoft documents it.
 * Microsoft ships no Node SDK for it, so the requests here are the documented ones sent with plain
 * fetch: a client-credentials token from the identity platform's token endpoint (form-encoded,
 * scope https://api.businesscentral.dynamics.com/.default), then `companies({id})/customers`,
 * OData `$filter`/`$top`/`$orderby` and server paging through @odata.nextLink, PATCH with
 * If-Match on @odata.etag, a deep insert of a sales invoice with its lines and its
 * Microsoft.NAV.post action, JSON `$batch`, BC's error envelope, closed periods, and the per-user
 * limits (requests per window, requests at once) as 429s.
 */
import type { SimServer } from '../../simulators/common/sim-server';
import { buildSeed } from '../../simulators/common/seed';
import { businessCentralSeed } from '../../simulators/businesscentral/seed';
import { startBusinessCentralSimulator } from '../../simulators/businesscentral/server';
import { createBusinessCentralAdapter } from '../../vendors/businesscentral/adapter';

type Json = Record<string, any>;
const TENANT = 'sim-test-tenant';
const seed = businessCentralSeed(buildSeed());

describe('Business Central simulator (documented wire format)', () => {
  let sim: SimServer;
  let api: string;
  let token: string;
  let company: string;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(path.startsWith('http') ? path : `${api}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Json };
  };
  const control = async (method: string, path: string, body?: unknown) =>
    (await (await fetch(`${sim.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json()) as Json;

  beforeAll(async () => {
    sim = await startBusinessCentralSimulator({ seed, tenant: TENANT, clientId: 'app-id', clientSecret: 'app-secret', maxPageSize: 20 });
    api = `${sim.url}/v2.0/${TENANT}/production/api/v2.0`;
    const response = await fetch(`${sim.url}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'app-id', client_secret: 'app-secret', scope: 'https://api.businesscentral.dynamics.com/.default' }),
    });
    const grant = (await response.json()) as Json;
    expect(grant).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number) });
    token = grant.access_token;
    const companies = await call('GET', 'companies');
    expect(companies.status).toBe(200);
    company = `companies(${companies.body.value[0].id})`;
  });
  afterAll(() => sim.close());

  test('the token endpoint refuses a wrong secret or scope as Entra ID does; the API refuses a missing token', async () => {
    const grant = (fields: Record<string, string>) =>
      fetch(`${sim.url}/${TENANT}/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    const wrong = await grant({ grant_type: 'client_credentials', client_id: 'app-id', client_secret: 'nope', scope: 'https://api.businesscentral.dynamics.com/.default' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    const scope = await grant({ grant_type: 'client_credentials', client_id: 'app-id', client_secret: 'app-secret', scope: 'https://graph.microsoft.com/.default' });
    expect(await scope.json()).toMatchObject({ error: 'invalid_scope' });
    const anonymous = await fetch(`${api}/companies`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'Authentication_InvalidCredentials' } });
  });

  test('customers: $filter on number, server paging through @odata.nextLink, unknown property is BadRequest', async () => {
    const target = seed.customers[3];
    const one = await call('GET', `${company}/customers?$filter=${encodeURIComponent(`number eq '${target.customerNumber}'`)}`);
    expect(one.body.value).toHaveLength(1);
    expect(one.body.value[0]).toMatchObject({ id: target.erpId, number: target.crmId.toUpperCase(), displayName: target.name, creditLimit: target.creditLimit, blocked: target.creditHold ? 'Ship' : ' ' });
    expect(one.body.value[0]['@odata.etag']).toMatch(/^W\/"/);

    const seen: Json[] = [];
    let next: string | undefined = `${company}/customers?$orderby=number`;
    let pages = 0;
    while (next) {
      const page = await call('GET', next);
      seen.push(...page.body.value);
      next = page.body['@odata.nextLink'];
      pages += 1;
    }
    expect(pages).toBe(Math.ceil(seed.customers.length / 20));
    expect(seen.map((c) => c.number)).toEqual(seed.customers.map((c) => c.crmId.toUpperCase()).sort());

    const bad = await call('GET', `${company}/customers?$filter=${encodeURIComponent("nosuchfield eq 'x'")}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BadRequest');
  });

  test('PATCH needs If-Match: a stale etag is 412, the current one updates, a Code field is upper-cased', async () => {
    const created = await call('POST', `${company}/customers`, { number: 'sim-cust-1', displayName: 'Sim Customer' });
    expect(created.status).toBe(201);
    expect(created.body.number).toBe('SIM-CUST-1');
    const path = `${company}/customers(${created.body.id})`;
    expect((await call('PATCH', path, { blocked: 'Ship' })).status).toBe(428);
    const updated = await call('PATCH', path, { blocked: 'Ship' }, { 'if-match': created.body['@odata.etag'] });
    expect(updated.body).toMatchObject({ blocked: 'Ship' });
    const stale = await call('PATCH', path, { blocked: ' ' }, { 'if-match': created.body['@odata.etag'] });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('Request_EntityChanged');
    const duplicate = await call('POST', `${company}/customers`, { number: 'SIM-CUST-1', displayName: 'Again' });
    expect(duplicate.body.error.code).toBe('Internal_EntityWithSameKeyExists');
  });

  test('a sales invoice: deep insert, post (a posted number; closed period refused), not deletable once posted, cancel', async () => {
    const customer = seed.customers[0];
    const draft = await call('POST', `${company}/salesInvoices`, {
      customerNumber: customer.customerNumber,
      externalDocumentNumber: 'in_simtest1',
      invoiceDate: '2027-04-02',
      postingDate: '2027-04-02',
      salesInvoiceLines: [{ lineType: 'Account', lineObjectNumber: '40100', description: 'Plan', quantity: 2, unitPrice: 50.5 }],
    });
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ status: 'Draft', externalDocumentNumber: 'IN_SIMTEST1', totalAmountIncludingTax: 101, customerId: customer.erpId });
    const lines = await call('GET', `${company}/salesInvoices(${draft.body.id})/salesInvoiceLines`);
    expect(lines.body.value).toEqual([expect.objectContaining({ quantity: 2, unitPrice: 50.5, amountIncludingTax: 101 })]);

    await control('POST', '/__sim/periods', { closed: ['2027-04'] });
    const refused = await call('POST', `${company}/salesInvoices(${draft.body.id})/Microsoft.NAV.post`);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/not within your range of allowed posting dates/);
    await control('POST', '/__sim/periods', { closed: [] });
    expect((await call('POST', `${company}/salesInvoices(${draft.body.id})/Microsoft.NAV.post`)).status).toBe(204);
    const posted = await call('GET', `${company}/salesInvoices(${draft.body.id})`);
    expect(posted.body).toMatchObject({ status: 'Open', remainingAmount: 101 });
    expect(posted.body.number).not.toBe(draft.body.number);
    expect((await call('DELETE', `${company}/salesInvoices(${draft.body.id})`)).status).toBe(400);
    expect((await call('POST', `${company}/salesInvoices(${draft.body.id})/Microsoft.NAV.cancel`)).status).toBe(204);
    expect((await call('GET', `${company}/salesInvoices(${draft.body.id})`)).body.status).toBe('Canceled');
  });

  test('JSON $batch answers each operation in order; over 100 operations is refused', async () => {
    const requests = seed.customers.slice(0, 3).map((c, i) => ({ id: String(i + 1), method: 'GET', url: `${company}/customers?$filter=${encodeURIComponent(`number eq '${c.customerNumber}'`)}` }));
    const answer = await call('POST', '$batch', { requests: [...requests, { id: '4', method: 'GET', url: `${company}/customers(00000000-0000-0000-0000-000000000001)` }] });
    expect(answer.status).toBe(200);
    expect(answer.body.responses.map((r: Json) => [r.id, r.status])).toEqual([['1', 200], ['2', 200], ['3', 200], ['4', 404]]);
    expect(answer.body.responses[0].body.value[0].number).toBe(seed.customers[0].customerNumber);
    const tooBig = await call('POST', '$batch', { requests: Array.from({ length: 101 }, (_, i) => ({ ...requests[0], id: String(i) })) });
    expect(tooBig.status).toBe(400);
  });

  test('the per-user request window: over it is 429 with BC\'s body until the window allows again', async () => {
    await control('POST', '/__sim/limits', { requests: 3, windowMs: 60_000 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await call('GET', `${company}/accountingPeriods?$top=1`)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const limited = await call('GET', `${company}/accountingPeriods?$top=1`);
      expect(limited.body.error.code).toBe('Application_TooManyRequests');
    } finally {
      await control('POST', '/__sim/limits', { requests: 6000, windowMs: 300_000 });
    }
    expect((await call('GET', `${company}/accountingPeriods?$top=1`)).status).toBe(200);
  });

  test('requests at once over the limit are 429 (the shell counts them as concurrency rejections)', async () => {
    await control('POST', '/__sim/faults', { concurrency: 2, latencyMs: 1500 });
    try {
      const statuses = await Promise.all(Array.from({ length: 6 }, () => call('GET', `${company}/accountingPeriods?$top=1`).then((r) => r.status)));
      expect(statuses.filter((s) => s === 200)).toHaveLength(2);
      expect(statuses.filter((s) => s === 429)).toHaveLength(4);
      expect((await control('GET', '/__sim/stats')).concurrencyRejections).toBeGreaterThanOrEqual(4);
    } finally {
      await control('POST', '/__sim/reset');
    }
  });

  test('Concord\'s adapter with a wrong client secret: VENDOR_UNAVAILABLE, not retryable, no secret in the message', async () => {
    const port = createBusinessCentralAdapter({
      baseUrl: sim.url,
      tokenUrl: `${sim.url}/${TENANT}/oauth2/v2.0/token`,
      tenant: TENANT,
      environment: 'production',
      clientId: 'app-id',
      clientSecret: 'not-the-secret-4711',
    });
    const error = (await port.getCustomerProfiles([seed.customers[0].crmId]).catch((e: unknown) => e)) as Json;
    expect(error).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'ERP', retryable: false });
    expect(String(error.message)).not.toMatch(/not-the-secret-4711|app-secret/);
  });
});
