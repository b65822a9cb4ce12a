/**
 * The graphql-ws endpoint's contract, in embedded mode: authentication in connection_init, token
 * expiry, admission (validation, scopes), portal isolation, errors in the API's error contract,
 * subscriptions refused over HTTP and queries over WebSocket, and shared work across subscribers.
 */
import type { Client } from 'graphql-ws';
import type { NewBusinessEvent } from '../../core/events/event-log';
import { mintToken } from '../../gateway/token';
import { TEST_JWT_SECRET, startTestSystem, type TestSystem } from '../helpers/system';
import { subscribe, wsClient } from './helpers';

const A = '001Dn0000000001IAA';
const B = '001Dn0000000002IAA';

function event(overrides: Partial<NewBusinessEvent>): NewBusinessEvent {
  // Not a reaction trigger (INVOICE_PAID would make the account-status reaction call the vendors).
  return { type: 'INVOICE_CREATED', occurredAt: new Date().toISOString(), correlationId: null, source: 'BILLING', customerId: A, contractId: null, invoiceId: null, runId: null, ...overrides };
}

describe('subscriptions over graphql-ws (embedded)', () => {
  let system: TestSystem;
  const clients: Client[] = [];
  const open = (token: string | null, connectionParams?: Record<string, unknown>) => {
    const client = wsClient(system.gateway.url, token, { connectionParams });
    clients.push(client);
    return client;
  };
  const token = (scopes: string[], customerId: string | null = null, ttl = '1h') =>
    mintToken({ secret: TEST_JWT_SECRET, subject: `test-${customerId ?? 'staff'}`, scopes, customerId, ttl });

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0' } });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.dispose();
  });
  afterAll(() => system.close());

  it('refuses a connection without a valid token in connection_init (4403)', async () => {
    for (const params of [{}, { authorization: 'Bearer not-a-token' }]) {
      const sub = subscribe(open(null, params), 'subscription { businessEvents { id } }');
      await sub.until(() => sub.failure !== undefined).catch(() => undefined);
      expect(sub.failure).toEqual({ code: 4403, reason: 'Forbidden' });
    }
  });

  it('accepts the token under the shapes clients send it', async () => {
    const admin = system.token;
    for (const params of [{ authorization: `Bearer ${admin}` }, { Authorization: `Bearer ${admin}` }, { headers: { authorization: `Bearer ${admin}` } }, { token: admin }]) {
      const head = (await system.events.log.head()) ?? '0-0';
      const sub = subscribe(open(null, params), 'subscription($after: String) { businessEvents(types: [DRIFT_DETECTED], after: $after) { id } }', { after: head });
      await system.events.log.append(event({ type: 'DRIFT_DETECTED' }));
      await sub.until((p) => p.length === 1);
    }
  });

  it('ends subscriptions with UNAUTHENTICATED when the token expires', async () => {
    const short = await token(['customers:read'], null, '2s');
    const sub = subscribe(open(short), 'subscription { businessEvents { id } }');
    await sub.until(() => sub.failure !== undefined, 10_000).catch(() => undefined);
    expect(sub.failure).toEqual([expect.objectContaining({ message: expect.stringMatching(/expired/), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
  });

  it('answers errors in the error contract: validation, unknown cursors, unknown runs', async () => {
    const client = open(system.token);
    const cases: [string, Record<string, unknown> | undefined, string][] = [
      ['subscription { businessEvents { nope } }', undefined, 'BAD_USER_INPUT'],
      ['subscription($a: String) { businessEvents(after: $a) { id } }', { a: 'yesterday' }, 'BAD_USER_INPUT'],
      ['subscription { orderToCashRunUpdated(runId: "run_does_not_exist") { id } }', undefined, 'NOT_FOUND'],
      ['query { customer(id: "x") { id } }', undefined, 'BAD_USER_INPUT'],
    ];
    for (const [query, variables, code] of cases) {
      const sub = subscribe(client, query, variables);
      await sub.until(() => sub.failure !== undefined).catch(() => undefined);
      expect({ query, failure: sub.failure }).toEqual({ query, failure: [expect.objectContaining({ extensions: expect.objectContaining({ code, correlationId: expect.any(String) }) })] });
    }
  });

  it('refuses a subscription sent over HTTP, pointing at the WebSocket', async () => {
    const { status, body } = await system.gql('subscription { businessEvents { id } }');
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/WebSocket/), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('needs the scopes the schema asks for', async () => {
    const erpOnly = await token(['erp:read']);
    const sub = subscribe(open(erpOnly), `subscription { customerEvents(customerId: "${A}") { id } }`);
    await sub.until(() => sub.failure !== undefined).catch(() => undefined);
    expect(sub.failure).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
  });

  it('keeps a portal token to its own customer: another customer is FORBIDDEN, businessEvents are filtered', async () => {
    const portal = await token(['customers:read', 'billing:read'], A);
    const client = open(portal);
    const other = subscribe(client, `subscription { customerEvents(customerId: "${B}") { id } }`);
    await other.until(() => other.failure !== undefined).catch(() => undefined);
    expect(other.failure).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);

    const head = (await system.events.log.head()) ?? '0-0';
    const own = subscribe(client, `subscription($after: String) { customerEvents(customerId: "${A}", after: $after) { id customer { id } } }`, { after: head });
    const all = subscribe(client, 'subscription($after: String) { businessEvents(after: $after) { id customer { id } } }', { after: head });
    await system.events.log.append(event({ customerId: B }));
    await system.events.log.append(event({ customerId: null }));
    const mine = await system.events.log.append(event({ customerId: A }));
    // The log delivers in order: once A's event (appended last) has arrived, B's and the
    // customer-less one had their chance to arrive before it, so "only A's" is observable.
    await Promise.all([
      own.until((p) => p.some((x) => x.data.customerEvents.id === mine!.id)),
      all.until((p) => p.some((x) => x.data.businessEvents.id === mine!.id)),
    ]);
    expect(all.payloads.map((p) => p.data.businessEvents.id)).toEqual([mine!.id]);
    expect(own.payloads.map((p) => p.data.customerEvents)).toEqual([{ id: mine!.id, customer: { id: A } }]);
  });

  it('delivers what resolved, with an error carrying code and correlation id, when a subgraph fails', async () => {
    const head = (await system.events.log.head()) ?? '0-0';
    const sub = subscribe(open(system.token), `subscription($after: String) { customerEvents(customerId: "${A}", after: $after) { id customer { name erp { creditHold } } } }`, { after: head });
    await system.subgraphs.erp.close();
    await system.events.log.append(event({ customerId: A }));
    const [payload] = await sub.until((p) => p.length >= 1);
    expect(payload.data.customerEvents.customer.name).toEqual(expect.any(String));
    expect(payload.data.customerEvents.customer.erp).toBeNull();
    expect(payload.errors?.[0]).toMatchObject({ extensions: { code: expect.any(String), correlationId: expect.any(String) } });
    expect(JSON.stringify(payload.errors)).not.toMatch(/stack|ECONNREFUSED|127\.0\.0\.1/);
  });
});

describe('shared work across subscribers (embedded)', () => {
  let system: TestSystem;
  const clients: Client[] = [];
  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0' } });
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await system.close();
  });

  const crmCalls = () => system.vendorCalls.filter((c) => c.system === 'CRM').length;

  it('resolves one event once for every subscriber of the same operation', async () => {
    const client = wsClient(system.gateway.url, system.token);
    clients.push(client);
    const before = crmCalls();
    const head = (await system.events.log.head()) ?? '0-0';
    const query = `subscription($after: String) { businessEvents(types: [INVOICE_CREATED], after: $after) { id customer { name domain } } }`;
    const subs = Array.from({ length: 25 }, () => subscribe(client, query, { after: head }));
    await system.events.log.append(event({ customerId: A }));
    await Promise.all(subs.map((s) => s.until((p) => p.length === 1)));
    expect(crmCalls() - before).toBe(1);
    expect(new Set(subs.map((s) => JSON.stringify(s.payloads[0]))).size).toBe(1);
  });

  it('batches the entity fetches of a replayed burst into few subgraph requests', async () => {
    const head = (await system.events.log.head()) ?? '0-0';
    const customers = Array.from({ length: 12 }, (_, i) => `001Dn00000000${String(i + 10).padStart(2, '0')}IAA`);
    for (const customerId of customers) await system.events.log.append(event({ type: 'INVOICE_CREATED', customerId }));
    const client = wsClient(system.gateway.url, system.token);
    clients.push(client);
    const before = crmCalls();
    const sub = subscribe(client, `subscription($after: String) { businessEvents(types: [INVOICE_CREATED], after: $after) { id customer { id name } } }`, { after: head });
    const payloads = await sub.until((p) => p.length === 12);
    expect(payloads.map((p) => p.data.businessEvents.customer.id)).toEqual(customers);
    // 12 events, each needing a CRM entity: merged into far fewer SOQL queries than 12.
    expect(crmCalls() - before).toBeLessThanOrEqual(3);
  });
});
