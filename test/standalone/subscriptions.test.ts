/**
 * Subscriptions of the gateway on its own, passed through to the subgraph that owns the field
 * (gateway/standalone-subscriptions.ts): what the client is told when the subgraph refuses or drops
 * the subscription, when its token expires, and what is not served over the socket.
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
