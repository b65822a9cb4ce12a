/**
 * A payload shared by many subscribers is serialised once and written into each socket's own
 * `next` frame (gateway/shared-frames.ts). What a client sees must not change: through raw
 * graphql-transport-ws sockets, every frame is valid JSON with the subscriber's own id; subscribers
 * with the same document, variables and visibility get byte-identical payloads; one with other
 * scopes or another selection gets its own; an id that imitates the placeholder changes nothing.
 */
import WebSocket from 'ws';
import type { NewBusinessEvent } from '../../core/events/event-log';
import { mintToken } from '../../gateway/token';
import { TEST_JWT_SECRET, startTestSystem, type TestSystem } from '../helpers/system';

const A = '001Dn0000000001IAA';

interface RawSubscriber {
  /** `next` frames as received, text. */
  frames: string[];
  /** Any other message (an `error` of the subscribe), for the failure report. */
  others: string[];
  close(): void;
}

/** A graphql-transport-ws connection by hand, so that the frames' text is seen as sent. */
async function rawSubscribe(gatewayUrl: string, token: string, id: string, query: string, variables: Record<string, unknown>): Promise<RawSubscriber> {
  const ws = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const frames: string[] = [];
  const others: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (data) => {
      const text = data.toString();
      const message = JSON.parse(text) as { type: string };
      if (message.type === 'connection_ack') {
        ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
        resolve();
      } else if (message.type === 'next') frames.push(text);
      else if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else others.push(text);
    });
  });
  return { frames, others, close: () => ws.close() };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('shared subscription payloads', () => {
  let system: TestSystem;
  const sockets: RawSubscriber[] = [];

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0' } });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await system?.close();
  });

  it('gives every subscriber its own frame around one serialised payload', async () => {
    const after = (await system.events.log.head()) ?? '0-0';
    const query = 'subscription($after: String) { businessEvents(types: [DRIFT_DETECTED], after: $after) { id type occurredAt detail } }';
    const staff = (subject: string) => mintToken({ secret: TEST_JWT_SECRET, subject, scopes: ['customers:read', 'ops:read'], ttl: '1h' });
    const narrow = await mintToken({ secret: TEST_JWT_SECRET, subject: 'narrow', scopes: ['customers:read'], ttl: '1h' });
    const tricky = 'x"concord-shared-payload:000000000000000000000000"';
    const first = await rawSubscribe(system.gateway.url, await staff('staff-1'), 'one', query, { after });
    const second = await rawSubscribe(system.gateway.url, await staff('staff-2'), tricky, query, { after });
    const other = await rawSubscribe(system.gateway.url, narrow, 'narrow', query, { after });
    const aliased = await rawSubscribe(system.gateway.url, await staff('staff-3'), 'aliased', query.replace('{ id type', '{ eventId: id type'), { after });
    sockets.push(first, second, other, aliased);

    const appended: NewBusinessEvent = {
      type: 'DRIFT_DETECTED',
      occurredAt: new Date().toISOString(),
      correlationId: null,
      source: 'CRM',
      customerId: A,
      contractId: null,
      invoiceId: null,
      runId: null,
      data: { field: 'name' },
    };
    const id = (await system.events.log.append(appended))!.id;
    await until(() => [first, second, other, aliased].every((s) => s.frames.length >= 1), 'a frame on every socket').catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify([first, second, other, aliased].map((s) => ({ frames: s.frames.length, others: s.others })))}`);
    });

    const parsed = [first, second, other, aliased].map((s) => JSON.parse(s.frames[0]) as { id: string; type: string; payload: any });
    expect(parsed.map((m) => m.id)).toEqual(['one', tricky, 'narrow', 'aliased']);
    expect(parsed.every((m) => m.type === 'next')).toBe(true);
    expect(parsed[0].payload.data.businessEvents).toMatchObject({ id, type: 'DRIFT_DETECTED' });
    // Same document, variables and visibility: the very same payload text (subjects may differ).
    expect(JSON.stringify(parsed[1].payload)).toBe(JSON.stringify(parsed[0].payload));
    expect(first.frames[0]).toBe(`{"id":"one","type":"next","payload":${JSON.stringify(parsed[0].payload)}}`);
    expect(second.frames[0]).toBe(`{"id":${JSON.stringify(tricky)},"type":"next","payload":${JSON.stringify(parsed[0].payload)}}`);
    // Another selection: its own payload.
    expect(parsed[3].payload.data.businessEvents).toMatchObject({ eventId: id, type: 'DRIFT_DETECTED' });
    expect(parsed[3].payload.data.businessEvents.id).toBeUndefined();
    // Other scopes: the same event, and never a payload serialised for the wider scopes.
    expect(parsed[2].payload.data.businessEvents).toMatchObject({ id, type: 'DRIFT_DETECTED' });
    if (JSON.stringify(parsed[2].payload) !== JSON.stringify(parsed[0].payload)) {
      expect(parsed[2].payload.errors?.some((e: any) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
    }
  }, 120_000);
});
