/**
 * WebSocket limits through the gateway's real /graphql socket (graphql-ws over `ws`), and failed
 * authentication limits on HTTP and WebSocket alike: subscribes take from the caller's rate limit,
 * the per-connection subscription cap and the per-subject and per-address connection caps hold
 * under concurrent bursts, and an address that keeps failing authentication is refused (429 / 4429)
 * before any token is verified.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { claims, hs256, post } from './helpers';

const QUERY = 'subscription { businessEvents { id } }';

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('WebSocket and authentication limits', () => {
  let system: TestSystem;
  let wsUrl: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    system = await startTestSystem({
      env: {
        CONCORD_RATE_LIMIT_RPS: '1',
        CONCORD_RATE_LIMIT_BURST: '150',
        CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT: '5',
        CONCORD_WS_MAX_CONNECTIONS_PER_ADDRESS: '30',
        CONCORD_AUTH_FAILURES_PER_MINUTE: '8',
        CONCORD_POLL_INTERVAL_MS: '0',
      },
    });
    wsUrl = `${system.gateway.url.replace(/^http/, 'ws')}/graphql`;
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await system?.close();
  });

  /** A graphql-ws client that reports how its connection ended (close code) or that it was acknowledged. */
  function connect(token: string) {
    const state: { acked: boolean; closed: number | null } = { acked: false, closed: null };
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      on: { connected: () => void (state.acked = true), closed: (event) => void (state.closed = (event as { code: number }).code) },
      onNonLazyError: () => undefined,
    });
    clients.push(client);
    return { client, state };
  }

  it('caps subscriptions per connection under a concurrent burst of subscribes', async () => {
    const { client, state } = connect(await hs256(claims('burst-subscriber', ['customers:read', 'ops:read'])));
    await waitFor(() => state.acked, 'the connection to be acknowledged');
    const refused: string[] = [];
    // 130 subscribes at once on one connection; the cap is 100.
    for (let i = 0; i < 130; i++) {
      client.subscribe({ query: QUERY }, { next: () => undefined, error: (e) => void refused.push(String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code)), complete: () => undefined });
    }
    await waitFor(() => refused.length >= 30, '30 refusals');
    // One more, after the burst: refused as well, and nothing else was.
    client.subscribe({ query: QUERY }, { next: () => undefined, error: (e) => void refused.push(String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code)), complete: () => undefined });
    await waitFor(() => refused.length >= 31, 'the 131st refusal');
    expect(refused).toHaveLength(31);
    expect(new Set(refused)).toEqual(new Set(['RATE_LIMITED']));
  });

  it('counts subscribes against the caller\'s rate limit, as HTTP requests are', async () => {
    // The same subject took 100 of its burst of 150 above; 80 more subscribes on a second
    // connection (below its cap of 100) run out of it, and then HTTP is limited too.
    const token = await hs256(claims('burst-subscriber', ['customers:read', 'ops:read']));
    const { client, state } = connect(token);
    await waitFor(() => state.acked, 'the second connection to be acknowledged');
    const refused: { code?: string; retryAfterSeconds?: number }[] = [];
    for (let i = 0; i < 80; i++) {
      client.subscribe({ query: QUERY }, { next: () => undefined, error: (e) => void refused.push((e as { extensions: { code?: string; retryAfterSeconds?: number } }[])[0].extensions), complete: () => undefined });
    }
    await waitFor(() => refused.length >= 20, 'rate-limit refusals');
    expect(refused[0]).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    const response = await post(system.gateway.url, token, { query: '{ __typename }' });
    expect(response.status).toBe(429);
  });

  it('caps connections per subject under a concurrent burst', async () => {
    const token = await hs256(claims('many-sockets', ['customers:read']));
    const attempts = Array.from({ length: 12 }, () => connect(token).state);
    await waitFor(() => attempts.every((s) => s.acked || s.closed !== null), 'every connection to be answered');
    expect(attempts.filter((s) => s.acked)).toHaveLength(5);
    expect(attempts.filter((s) => s.closed === 4429)).toHaveLength(7);
  });

  it('caps open sockets per client address, before any token is read', async () => {
    const outcomes: ('open' | number)[] = [];
    const sockets = Array.from({ length: 40 }, () => {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      socket.on('open', () => outcomes.push('open'));
      socket.on('unexpected-response', (_req, res) => outcomes.push(res.statusCode ?? 0));
      socket.on('error', () => undefined);
      return socket;
    });
    await waitFor(() => outcomes.length === 40, 'every socket to be answered');
    // 30 per address, less the sockets the earlier tests still hold open (2 + 5).
    expect(outcomes.filter((o) => o === 'open')).toHaveLength(30 - 7);
    expect(outcomes.filter((o) => o === 429)).toHaveLength(40 - 23);
    for (const socket of sockets) socket.terminate();
  });

  it('limits failed authentications per address, on HTTP and WebSocket', async () => {
    const bad = await hs256(claims('mallory'), 'an-attackers-guess-at-the-secret-0123456789');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await post(system.gateway.url, bad, { query: '{ __typename }' })).status);
    expect(statuses.slice(0, 8)).toEqual(Array(8).fill(401));
    expect(statuses.slice(8)).toEqual([429, 429]);
    // A good token from the same address waits too: the address is what is limited.
    const good = await post(system.gateway.url, system.token, { query: '{ __typename }' });
    expect(good.status).toBe(429);
    expect(Number(good.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const { state } = connect(system.token);
    await waitFor(() => state.closed !== null || state.acked, 'the connection to be answered');
    expect(state).toMatchObject({ acked: false, closed: 4429 });
  });
});
