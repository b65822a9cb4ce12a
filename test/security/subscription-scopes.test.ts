/**
 * One authorization model for queries and subscriptions: an event's own fields that repeat a
 * record's fields (detail, correlationId, the run) need the scopes those fields need in a query,
 * and are removed from the payload with FORBIDDEN at their path. Through the gateway's WebSocket,
 * with a real order-to-cash run producing the events.
 */
import type { Client } from 'graphql-ws';
import { buildSeed } from '../../simulators/common/seed';
import { subscribe, wsClient, type Collected } from '../events/helpers';
import { readyOpportunities, waitForRun } from '../helpers/order-to-cash';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { claims, hs256, post } from './helpers';

const seed = buildSeed();
const QUERY = `subscription($after: String) { businessEvents(after: $after) { id type correlationId detail run { id idempotencyKey correlationId steps { name externalId } } } }`;
const CUSTOMER_QUERY = `subscription($c: ID!, $after: String) { customerEvents(customerId: $c, after: $after) { id type correlationId detail run { id idempotencyKey } } }`;

const RUN_ID_QUERY = `subscription($after: String) { businessEvents(after: $after) { id type run { id } } }`;

type Payload = { data?: any; errors?: any[] };
const eventsOf = (sub: Collected, field = 'businessEvents') => sub.payloads.map((p: Payload) => p.data?.[field]).filter(Boolean);
const forbiddenPaths = (payload: Payload) => (payload.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN').map((e) => e.path.join('.'));

describe('subscription payloads need the scopes of the fields they repeat', () => {
  let system: TestSystem;
  const clients: Client[] = [];
  const subs: Record<string, Collected> = {};
  let run: any;
  let ownOpportunity: string;
  let invoiceNumber: string;
  let postedEventId: string;
  let finalizedEventId: string;

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0' } });
    // From the log's position now, so that nothing appended from here on is missed.
    const after = (await system.events.log.head()) ?? '0-0';
    const open = async (name: string, scopes: string[], query = QUERY, variables: Record<string, unknown> = {}, subject = `scopes-${name}`) => {
      const client = wsClient(system.gateway.url, await hs256(claims(subject, scopes)));
      clients.push(client);
      subs[name] = subscribe(client, query, { ...variables, after });
    };
    await open('operator', ['ops:read', 'customers:read', 'billing:read', 'erp:read', 'orders:write']);
    await open('reader', ['customers:read']);
    await open('billing', ['customers:read', 'billing:read']);
    await open('erp', ['customers:read', 'erp:read']);
    await open('writer', ['customers:read', 'orders:write']);
    // The same caller asking for nothing but the run's id: the id alone must not leak either.
    await open('writer-ids', ['customers:read', 'orders:write'], RUN_ID_QUERY, {}, 'scopes-writer');
    const ready = await readyOpportunities(system.simulators.salesforce!.url);
    const customerId = ready[0].accountId;
    ownOpportunity = ready[1].id;
    await open('reader-customer', ['customers:read'], CUSTOMER_QUERY, { c: customerId });
    // Every subscription is live before the run starts: a marker event reaches each one first.
    const marker = await system.events.log.append({ type: 'CUSTOMER_UPDATED', occurredAt: new Date().toISOString(), correlationId: null, source: 'CRM', customerId, contractId: null, invoiceId: null, runId: null });
    await Promise.all(Object.entries(subs).map(([name, sub]) => sub.until(() => eventsOf(sub, name === 'reader-customer' ? 'customerEvents' : 'businessEvents').some((e) => e.id === marker!.id))));

    const started = await system.gql(`mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id } }`, { input: { opportunityId: ready[0].id, idempotencyKey: `scopes-${ready[0].id}` } });
    await waitForRun(system, started.body.data.startOrderToCash.id, ['COMPLETED'], 90_000);
    const { body } = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { id correlationId idempotencyKey steps { name externalId } invoice { id number } } }`, { id: started.body.data.startOrderToCash.id });
    run = body.data.orderToCashRun;
    invoiceNumber = run.invoice.number;
    // The operator sees the run's ERP posting and its finalized invoice: the signal that the events were delivered.
    await subs.operator.until(() => eventsOf(subs.operator).some((e) => e.type === 'INVOICE_POSTED') && eventsOf(subs.operator).some((e) => e.type === 'INVOICE_FINALIZED' && e.detail?.includes(invoiceNumber)), 60_000);
    postedEventId = eventsOf(subs.operator).find((e) => e.type === 'INVOICE_POSTED').id;
    finalizedEventId = eventsOf(subs.operator).find((e) => e.type === 'INVOICE_FINALIZED' && e.detail.includes(invoiceNumber)).id;
    // Every other subscriber has had its chance: each has received the last of those events.
    const last = [postedEventId, finalizedEventId].sort().pop();
    await Promise.all(Object.entries(subs).map(([name, sub]) => sub.until(() => eventsOf(sub, name === 'reader-customer' ? 'customerEvents' : 'businessEvents').some((e) => e.id === last), 60_000)));
  }, 180_000);
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await system?.close();
  });

  const secretsOfRun = () => [run.correlationId, run.idempotencyKey, invoiceNumber, ...run.steps.map((s: any) => s.externalId).filter(Boolean)];

  it('an operator receives detail, correlation ids and the run', () => {
    const events = eventsOf(subs.operator);
    const runEvent = events.find((e) => e.type === 'RUN_STATUS_CHANGED' && e.run?.id === run.id);
    expect(runEvent).toMatchObject({ correlationId: run.correlationId, detail: expect.stringContaining('"status"'), run: { idempotencyKey: run.idempotencyKey } });
    expect(events.find((e) => e.id === postedEventId).detail).toContain('documentId');
  });

  it('customers:read alone receives none of the run\'s details, invoice numbers or ERP document ids, on businessEvents and customerEvents', () => {
    for (const [name, field] of [['reader', 'businessEvents'], ['reader-customer', 'customerEvents']] as const) {
      const sub = subs[name];
      const text = JSON.stringify(sub.payloads.map((p: Payload) => p.data));
      expect(secretsOfRun().filter((s) => text.includes(s))).toEqual([]);
      const runPayload = sub.payloads.find((p: Payload) => p.data?.[field]?.type === 'RUN_STATUS_CHANGED')!;
      expect(runPayload.data[field]).toMatchObject({ correlationId: null, detail: null, run: null });
      expect(forbiddenPaths(runPayload)).toEqual(expect.arrayContaining([`${field}.correlationId`, `${field}.detail`, `${field}.run`]));
      const posted = sub.payloads.find((p: Payload) => p.data?.[field]?.id === postedEventId)!;
      expect(posted.data[field].detail).toBeNull();
      expect(forbiddenPaths(posted)).toContain(`${field}.detail`);
    }
  });

  it('billing:read reads an invoice event\'s detail (its number), not the ERP posting\'s', () => {
    const events = eventsOf(subs.billing);
    expect(events.find((e) => e.id === finalizedEventId).detail).toContain(invoiceNumber);
    expect(events.find((e) => e.id === postedEventId).detail).toBeNull();
  });

  it('erp:read reads the ERP posting\'s detail, not the invoice number', () => {
    const events = eventsOf(subs.erp);
    expect(events.find((e) => e.id === postedEventId).detail).toContain('documentId');
    expect(events.find((e) => e.id === finalizedEventId).detail).toBeNull();
  });

  it('orders:write without ops:read gets no run it did not start, and no run detail', () => {
    const text = JSON.stringify(subs.writer.payloads.map((p: Payload) => p.data));
    expect(secretsOfRun().filter((s) => text.includes(s))).toEqual([]);
    const runPayload = subs.writer.payloads.find((p: Payload) => p.data?.businessEvents?.type === 'RUN_STATUS_CHANGED')!;
    expect(runPayload.data.businessEvents).toMatchObject({ correlationId: null, detail: null, run: null });
    expect(forbiddenPaths(runPayload)).toEqual(expect.arrayContaining(['businessEvents.run']));
    // Not even the id of a run another caller started (orderToCashRun refuses it the same way).
    const ids = subs['writer-ids'].payloads.find((p: Payload) => p.data?.businessEvents?.type === 'RUN_STATUS_CHANGED')!;
    expect(ids.data.businessEvents.run).toBeNull();
    expect(forbiddenPaths(ids)).toEqual(['businessEvents.run']);
    expect(JSON.stringify([text, subs['writer-ids'].payloads])).not.toContain(run.id);
  });

  it('orders:write without ops:read reads the run id of a run it started itself', async () => {
    const token = await hs256(claims('scopes-writer', ['customers:read', 'orders:write']));
    const started = await post(system.gateway.url, token, {
      query: 'mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id } }',
      variables: { input: { opportunityId: ownOpportunity, idempotencyKey: `scopes-own-${ownOpportunity}` } },
    });
    const ownId = started.json.data.startOrderToCash.id;
    await subs.writer.until(() => eventsOf(subs.writer).some((e) => e.type === 'RUN_STATUS_CHANGED' && e.run?.id === ownId), 60_000);
    // Its own run's id, still without the operator's detail; and never the other caller's run.
    const own = eventsOf(subs.writer).find((e) => e.run?.id === ownId);
    expect(own).toMatchObject({ correlationId: null, detail: null, run: { id: ownId } });
    await subs['writer-ids'].until(() => eventsOf(subs['writer-ids']).some((e) => e.run?.id === ownId), 60_000);
    expect(JSON.stringify([subs.writer.payloads, subs['writer-ids'].payloads])).not.toContain(run.id);
  });
});
