/**
 * The real command (`concord-gateway`, what `npx concord-gateway` and `npm run gateway` run) over a
 * supergraph file of three fresh subgraphs, auth off: federated answers across entities (@key),
 * @requires, @provides, an interface, a union, a mutation and a subscription.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gql, startGatewayProcess, subscribe, tempDir, wsClient, type GatewayProcess } from './helpers';
import { PRODUCTS, shippingEstimate, startTestSubgraphs, type TestSubgraphs } from './subgraphs';

// Each test starts the real command (a cold start through tsx): seconds of CPU, which a busy machine
// stretches well past jest's default 30 s. The waits inside have their own generous deadlines.
jest.setTimeout(180_000);

describe('concord-gateway over a supergraph file (auth off)', () => {
  let subgraphs: TestSubgraphs;
  let gateway: GatewayProcess;
  let file: string;

  beforeAll(async () => {
    subgraphs = await startTestSubgraphs();
    file = path.join(tempDir(), 'supergraph.graphql');
    writeFileSync(file, subgraphs.compose(1));
    gateway = await startGatewayProcess(['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing']);
  });
  afterAll(async () => {
    await gateway?.stop();
    await subgraphs?.close();
  });

  it('says what it serves, and warns that auth is off', () => {
    const out = gateway.output();
    expect(out).toMatch(/AUTH IS OFF/);
    for (const s of subgraphs.all) expect(out).toContain(s.url);
    expect(out).toMatch(/auth\s+off/);
    expect(out).toMatch(/signing\s+off/);
  });

  it('answers an interface with fragments per type, @requires across subgraphs, and entities joined by @key', async () => {
    const { status, body } = await gql(gateway.url, `{
      topProducts(first: 3) {
        __typename upc name price
        ... on Book { writer shippingEstimate reviews { rating author { name } } }
        ... on Furniture { material }
      }
    }`);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const [b1, b2, f1] = body.data.topProducts;
    expect(b1).toEqual({
      __typename: 'Book',
      upc: 'b1',
      name: PRODUCTS[0].name,
      price: 2500,
      writer: 'Menabrea',
      // reviews computed it from price and weight it does not own (@requires).
      shippingEstimate: shippingEstimate({ price: 2500, weight: 800 }),
      reviews: [
        { rating: 5, author: { name: 'Alan Turing' } },
        { rating: 4, author: { name: 'Ada Lovelace' } },
      ],
    });
    expect(b2).toMatchObject({ __typename: 'Book', shippingEstimate: 0, reviews: [{ author: { name: 'Ada Lovelace' } }] });
    expect(f1).toEqual({ __typename: 'Furniture', upc: 'f1', name: 'Writing desk', price: 20000, material: 'oak' });
    expect(shippingEstimate({ price: 2500, weight: 800 })).toBe(400);
  });

  it('answers a union', async () => {
    const { body } = await gql(gateway.url, `{
      search(text: "in") { __typename ... on Book { upc writer } ... on Furniture { upc material } }
    }`);
    expect(body.errors).toBeUndefined();
    expect(body.data.search).toEqual([
      { __typename: 'Book', upc: 'b1', writer: 'Menabrea' },
      { __typename: 'Book', upc: 'b2', writer: 'Turing' },
      { __typename: 'Furniture', upc: 'f1', material: 'oak' },
    ]);
  });

  it('uses @provides: a provided field does not call its owner, another field does', async () => {
    const before = subgraphs.accounts.operations().length;
    const provided = await gql(gateway.url, '{ latestReviews(first: 2) { id author { id username } product { upc name } } }');
    expect(provided.body.errors).toBeUndefined();
    expect(provided.body.data.latestReviews).toEqual([
      { id: 'r3', author: { id: 'u1', username: 'ada' }, product: { upc: 'b1', name: PRODUCTS[0].name } },
      { id: 'r2', author: { id: 'u1', username: 'ada' }, product: { upc: 'b2', name: PRODUCTS[1].name } },
    ]);
    expect(subgraphs.accounts.operations().length).toBe(before);

    const owned = await gql(gateway.url, '{ latestReviews(first: 1) { author { username name } } }');
    expect(owned.body.data.latestReviews).toEqual([{ author: { username: 'ada', name: 'Ada Lovelace' } }]);
    expect(subgraphs.accounts.operations().length).toBe(before + 1);
    expect(subgraphs.accounts.operations().at(-1)!.query).toMatch(/_entities/);
  });

  it('runs a mutation and completes its answer from the other subgraphs', async () => {
    const { status, body } = await gql(
      gateway.url,
      'mutation Add($upc: ID!) { addReview(upc: $upc, body: "Sturdy.", rating: 4, authorId: "u2") { body author { name } product { name shippingEstimate } } }',
      { upc: 'b2' },
    );
    expect(status).toBe(200);
    expect(body).toEqual({ data: { addReview: { body: 'Sturdy.', author: { name: 'Alan Turing' }, product: { name: PRODUCTS[1].name, shippingEstimate: 0 } } } });
    const latest = await gql(gateway.url, '{ latestReviews(first: 1) { body } }');
    expect(latest.body.data.latestReviews).toEqual([{ body: 'Sturdy.' }]);
  });

  it('passes a subscription through to the subgraph that owns it and completes each event from the others', async () => {
    const client = wsClient(gateway.url);
    const sub = subscribe(client, 'subscription OnBook($upc: ID) { reviewAdded(upc: $upc) { body author { username name } product { name price shippingEstimate } } }', { upc: 'b1' });
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 1);
    await gql(gateway.url, 'mutation { addReview(upc: "b2", body: "Not this one.", rating: 1) { id } }');
    await gql(gateway.url, 'mutation { addReview(upc: "b1", body: "Visionary.", rating: 5, authorId: "u2") { id } }');
    const [payload] = await sub.received(1);
    expect(payload).toEqual({
      data: { reviewAdded: { body: 'Visionary.', author: { username: 'alan', name: 'Alan Turing' }, product: { name: PRODUCTS[0].name, price: 2500, shippingEstimate: 400 } } },
    });
    sub.stop();
    // The client left: so does the gateway's upstream subscription.
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 0);
    await client.dispose();
  });

  it('refuses a subscription over HTTP with a pointer to WebSocket', async () => {
    const { status, body } = await gql(gateway.url, 'subscription { reviewAdded { id } }');
    expect(status).toBe(400);
    expect(body.errors![0]).toMatchObject({ message: expect.stringMatching(/WebSocket/), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('is healthy with the file loaded and ready with its subgraphs up; nothing else is started', async () => {
    const health = await fetch(`${gateway.url}/health`);
    expect(health.status).toBe(200);
    const id = createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex');
    expect(await health.json()).toMatchObject({ status: 'ok', supergraph: { id } });
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
    // Only the supergraph's subgraphs: none of Concord's bundled ones.
    expect(await ready.json()).toEqual({ ready: true, subgraphs: { accounts: 'up', products: 'up', reviews: 'up' } });
  });

  it('npm run gateway is the same command', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'gateway', '--', '--help'], { cwd: path.join(__dirname, '..', '..') });
    expect(stdout).toMatch(/Usage: concord-gateway --supergraph <file>/);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
