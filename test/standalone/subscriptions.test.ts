/**
 * Subscriptions of the gateway on its own, passed through to the subgraph that owns the field
 * (gateway/standalone-subscriptions.ts): what the client is told when the subgraph refuses or drops
 * the subscription, when its token expires, what is not served over the socket, and the WebSocket
 * limits of the one subscription service (rate limit per subscribe, connections per subject).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { runGatewayCli } from '../../gateway/cli';
import type { RunningStandaloneGateway } from '../../gateway/standalone';
import { gql, subscribe, tempDir, wsClient } from './helpers';
import { ACCOUNTS_SDL, REVIEWS_SDL, composeSupergraph, productsSdl, startTestSubgraphs, type TestSubgraphs } from './subgraphs';

const JWT_SECRET = 'standalone-subscriptions-secret-0123456789';
const token = (expiresInSeconds = 600) =>
  new SignJWT({ scope: '' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('subscriber')
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(new TextEncoder().encode(JWT_SECRET));

describe('standalone subscriptions', () => {
  let subgraphs: TestSubgraphs;
  let gateway: RunningStandaloneGateway;

  beforeAll(async () => {
    subgraphs = await startTestSubgraphs();
    const file = path.join(tempDir(), 'supergraph.graphql');
    // The supergraph promises a field the running reviews subgraph does not have.
    const promised = REVIEWS_SDL.replace('type Subscription {', 'type Subscription {\n  reviewDeleted: ID!');
    writeFileSync(
      file,
      composeSupergraph([
        { name: 'accounts', sdl: ACCOUNTS_SDL, url: subgraphs.accounts.url },
        { name: 'products', sdl: productsSdl(1), url: subgraphs.products.url },
        { name: 'reviews', sdl: promised, url: subgraphs.reviews.url },
      ]),
    );
    gateway = (await runGatewayCli(['--supergraph', file, '--port', '0', '--no-signing', '--no-watch'], { NODE_ENV: 'test', CONCORD_JWT_SECRET: JWT_SECRET, CONCORD_RATE_LIMIT_RPS: '0' }, () => undefined))!;
  });
  afterAll(async () => {
    await gateway?.close();
    await subgraphs?.close();
  });

  it('admits subscriptions as HTTP requests are admitted, and serves only subscriptions over the socket', async () => {
    const client = wsClient(gateway.url, { authorization: `Bearer ${await token()}` });
    const unknown = subscribe(client, 'subscription { reviewAdded { nope } }');
    expect(await unknown.failed()).toEqual([expect.objectContaining({ message: expect.stringMatching(/Cannot query field "nope"/), extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
    const badVariable = subscribe(client, 'subscription($upc: ID) { reviewAdded(upc: $upc) { id } }', { upc: { not: 'an id' } });
    expect(await badVariable.failed()).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
    const query = subscribe(client, '{ users { id } }');
    expect(await query.failed()).toEqual([expect.objectContaining({ message: expect.stringMatching(/send queries and mutations over HTTP/) })]);
    await client.dispose();
  });

  it('passes on the subgraph refusing the subscription, naming the subgraph', async () => {
    const client = wsClient(gateway.url, { authorization: `Bearer ${await token()}` });
    const refused = subscribe(client, 'subscription { reviewDeleted }');
    const errors = (await refused.failed()) as { message: string; extensions: Record<string, unknown> }[];
    expect(errors).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/reviewDeleted/), extensions: expect.objectContaining({ subgraph: 'reviews', correlationId: expect.any(String) }) }),
    ]);
    await client.dispose();
  });

  it('ends subscriptions when the token expires', async () => {
    const client = wsClient(gateway.url, { authorization: `Bearer ${await token(2)}` });
    const sub = subscribe(client, 'subscription { reviewAdded { id } }');
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 1);
    expect(await sub.failed(5000)).toEqual([expect.objectContaining({ message: expect.stringMatching(/token expired/), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 0);
    await client.dispose();
  });

  it('ends the client subscription with a retryable error when the subgraph goes away', async () => {
    const client = wsClient(gateway.url, { authorization: `Bearer ${await token()}` });
    const sub = subscribe(client, 'subscription { reviewAdded { id body author { name } } }');
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 1);
    await gql(gateway.url, 'mutation { addReview(upc: "b1", body: "Last one.", rating: 3) { id } }', undefined, { authorization: `Bearer ${await token()}` });
    expect((await sub.received(1))[0]).toMatchObject({ data: { reviewAdded: { body: 'Last one.', author: { name: 'Ada Lovelace' } } } });
    await subgraphs.reviews.close();
    expect(await sub.failed()).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/subgraph reviews ended the subscription/), extensions: expect.objectContaining({ code: 'INTERNAL', retryable: true, subgraph: 'reviews' }) }),
    ]);
    await client.dispose();
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The standalone gateway's socket is the same subscription service as the full system's
 * (gateway/subscription-service.ts), so the same WebSocket limits hold on it.
 */
describe('standalone subscription limits', () => {
  let subgraphs: TestSubgraphs;
  let gateway: RunningStandaloneGateway;
  const subjectToken = (subject: string) =>
    new SignJWT({ scope: '' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(new TextEncoder().encode(JWT_SECRET));

  beforeAll(async () => {
    subgraphs = await startTestSubgraphs();
    const file = path.join(tempDir(), 'supergraph.graphql');
    writeFileSync(
      file,
      composeSupergraph([
        { name: 'accounts', sdl: ACCOUNTS_SDL, url: subgraphs.accounts.url },
        { name: 'products', sdl: productsSdl(1), url: subgraphs.products.url },
        { name: 'reviews', sdl: REVIEWS_SDL, url: subgraphs.reviews.url },
      ]),
    );
    const env = {
      NODE_ENV: 'test',
      CONCORD_JWT_SECRET: JWT_SECRET,
      // A bucket of 3 that refills once a minute: the 4th subscribe of a subject is over it.
      CONCORD_RATE_LIMIT_RPS: '1',
      CONCORD_RATE_LIMIT_BURST: '3',
      CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT: '2',
    };
    gateway = (await runGatewayCli(['--supergraph', file, '--port', '0', '--no-signing', '--no-watch'], env, () => undefined))!;
  });
  afterAll(async () => {
    await gateway?.close();
    await subgraphs?.close();
  });

  it('counts subscribes against the caller\'s rate limit', async () => {
    const client = wsClient(gateway.url, { authorization: `Bearer ${await subjectToken('rate-limited')}` });
    // Concurrent subscribes: the bucket holds 3 (plus at most one refilled while they run).
    const subs = Array.from({ length: 8 }, () => subscribe(client, 'subscription { reviewAdded { id } }'));
    const refused = await Promise.all(subs.slice(5).map((s) => s.failed()));
    for (const errors of refused) {
      expect(errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'RATE_LIMITED', correlationId: expect.any(String) }) })]);
    }
    await client.dispose();
  });

  it('caps connections per token subject (close 4429)', async () => {
    const token = await subjectToken('many-connections');
    const clients = [0, 1, 2].map(() => wsClient(gateway.url, { authorization: `Bearer ${token}` }));
    const subs = clients.map((client) => subscribe(client, 'subscription { reviewAdded { id } }'));
    // Two connections are accepted; the third is closed with 4429 (which one depends on arrival order).
    const failures: unknown[] = [];
    await waitFor(() => {
      failures.splice(0, failures.length, ...subs.map((s) => s.failure).filter((f) => f !== undefined));
      return failures.length >= 1;
    });
    // The other two hold their subscriptions at the subgraph, and nothing else was refused.
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 2);
    expect(subs.map((s) => s.failure).filter((f) => f !== undefined)).toEqual([expect.objectContaining({ code: 4429 })]);
    await Promise.all(clients.map((c) => c.dispose()));
  });
});
