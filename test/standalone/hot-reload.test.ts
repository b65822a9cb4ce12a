/**
 * The supergraph file changes under the running command (`concord-gateway`, a child process) while
 * a query load runs and a subscription is open: the valid change is swapped in with no failed
 * request and the subscription still delivering; invalid files are rejected with a log line and the
 * previous supergraph keeps serving; a fixed file is picked up again.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gql, sleep, startGatewayProcess, subscribe, tempDir, wsClient, type GatewayProcess } from './helpers';
import { ACCOUNTS_SDL, startTestSubgraphs, writeAtomically, type TestSubgraphs } from './subgraphs';

// Each test starts the real command (a cold start through tsx): seconds of CPU, which a busy machine
// stretches well past jest's default 30 s. The waits inside have their own generous deadlines.
jest.setTimeout(180_000);

const LOAD_QUERY = `query Load {
  topProducts(first: 3) { upc name ... on Book { shippingEstimate reviews { author { name } } } }
  latestReviews(first: 2) { author { username } product { name } }
}`;
const NEW_FIELD = '{ product(upc: "b1") { ... on Book { upc pages } } }';

interface Sample {
  start: number;
  end: number;
  ok: boolean;
  detail?: string;
}

/** `concurrency` clients sending LOAD_QUERY back to back until stopped. */
function runLoad(url: string, concurrency: number) {
  const samples: Sample[] = [];
  let running = true;
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      const start = Date.now();
      try {
        const { status, body } = await gql(url, LOAD_QUERY);
        const ok = status === 200 && !body.errors && body.data?.topProducts?.length === 3 && body.data.latestReviews.length === 2;
        samples.push({ start, end: Date.now(), ok, detail: ok ? undefined : JSON.stringify({ status, body }) });
      } catch (error) {
        samples.push({ start, end: Date.now(), ok: false, detail: String(error) });
      }
    }
  });
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

describe('hot reload of the supergraph file', () => {
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

  it('swaps a valid change in under load without a failed request or a dropped subscription, and rejects invalid ones', async () => {
    const client = wsClient(gateway.url);
    // Opened on the first supergraph, kept open across every change below.
    const sub = subscribe(client, 'subscription { reviewAdded { body author { name } product { name } } }');
    await waitFor(() => subgraphs.reviews.openSubscriptions() === 1);
    const load = runLoad(gateway.url, 6);
    /** The load has run on: `n` more requests answered (a signal, not a sleep). */
    const loadRan = (n = 10) => {
      const target = load.samples.length + n;
      return waitFor(() => load.samples.length >= target, 30_000);
    };
    try {
      await loadRan();

      // Before: the gateway does not know Book.pages.
      const before = await gql(gateway.url, NEW_FIELD);
      expect(before.status).toBe(400);
      expect(before.body.errors![0].message).toMatch(/Cannot query field "pages"/);

      // A valid change, written as deploy tools do (temporary file + rename).
      const v2 = subgraphs.compose(2);
      writeAtomically(file, v2);
      const swapped = await gateway.waitForLog((l) => l.msg === 'supergraph reloaded');
      expect(swapped).toMatchObject({ level: 30, id: sha(v2).slice(0, 12), added: [], removed: [], moved: [] });
      const after = await gql(gateway.url, NEW_FIELD);
      expect(after).toEqual({ status: 200, body: { data: { product: { upc: 'b1', pages: 66 } } } });
      expect(await (await fetch(`${gateway.url}/health`)).json()).toMatchObject({ status: 'ok', supergraph: { id: sha(v2) } });
      await loadRan();

      // The subscription opened before the swap still delivers, completed through the other subgraphs.
      await gql(gateway.url, 'mutation { addReview(upc: "b1", body: "After the swap.", rating: 5, authorId: "u2") { id } }');
      expect((await sub.received(1))[0]).toEqual({
        data: { reviewAdded: { body: 'After the swap.', author: { name: 'Alan Turing' }, product: { name: 'Sketch of the Analytical Engine' } } },
      });

      // Invalid: a syntax error, written in place (not atomically). Rejected with its reason.
      writeFileSync(file, `${v2}\ntype Broken {`);
      const syntax = await gateway.waitForLog((l) => l.msg === 'supergraph file rejected; still serving the previous supergraph');
      expect(syntax).toMatchObject({ level: 50, serving: sha(v2).slice(0, 12), reason: expect.stringMatching(/GraphQL syntax error: Syntax Error: .*\(line \d+, column \d+\)/) });
      // Invalid: a subgraph's SDL instead of a composed supergraph.
      writeAtomically(file, ACCOUNTS_SDL);
      await gateway.waitForLog((l) => l.msg?.startsWith('supergraph file rejected') && /does not link the join spec/.test(l.reason));
      await loadRan();
      // The previous supergraph (v2) keeps serving, new field included.
      expect(await gql(gateway.url, NEW_FIELD)).toEqual({ status: 200, body: { data: { product: { upc: 'b1', pages: 66 } } } });
      expect(await (await fetch(`${gateway.url}/health`)).json()).toMatchObject({ supergraph: { id: sha(v2) } });

      // The open subscription is untouched by the rejected files; a new one can use the new field.
      const newer = subscribe(client, 'subscription { reviewAdded(upc: "b2") { product { name pages } } }');
      await waitFor(() => subgraphs.reviews.openSubscriptions() === 2);
      await gql(gateway.url, 'mutation { addReview(upc: "b2", body: "Still here.", rating: 4) { id } }');
      expect((await sub.received(2))[1]).toMatchObject({ data: { reviewAdded: { body: 'Still here.', author: { name: 'Ada Lovelace' } } } });
      expect((await newer.received(1))[0]).toEqual({ data: { reviewAdded: { product: { name: 'Computing Machinery and Intelligence', pages: 28 } } } });
      newer.stop();

      // Fixed again (back to v1): picked up; the field is gone for new requests.
      writeAtomically(file, subgraphs.compose(1));
      await gateway.waitForLog((l) => l.msg === 'supergraph reloaded' && l.id === sha(subgraphs.compose(1)).slice(0, 12));
      expect((await gql(gateway.url, NEW_FIELD)).status).toBe(400);
      await loadRan();

    } finally {
      await load.stop();
    }
    const failures = load.samples.filter((s) => !s.ok);
    expect(failures.map((f) => f.detail)).toEqual([]);
    // A few hundred on an idle machine; the point is that the load ran across every swap (below).
    expect(load.samples.length).toBeGreaterThan(30);
    // Requests were in flight across each swap (the log's time is the gateway's clock, the same machine's).
    for (const swap of gateway.logs().filter((l) => l.msg === 'supergraph reloaded')) {
      expect(load.samples.some((s) => s.start <= swap.time && s.end >= swap.time)).toBe(true);
    }
    expect(sub.failure).toBeUndefined();
    expect(sub.completed).toBe(false);
    sub.stop();
    await client.dispose();
  });
});

describe('reload on SIGHUP', () => {
  it('re-reads the file on SIGHUP when it is not watched', async () => {
    const subgraphs = await startTestSubgraphs();
    const file = path.join(tempDir(), 'supergraph.graphql');
    writeFileSync(file, subgraphs.compose(1));
    const gateway = await startGatewayProcess(['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing', '--no-watch']);
    // A watching gateway on the same file: its reload is the proof that the change was there to be
    // seen, so that "the unwatched one did not reload" is asserted after it had its chance, not after a sleep.
    const watching = await startGatewayProcess(['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing']);
    try {
      expect(gateway.output()).not.toMatch(/watched for changes/);
      expect(watching.output()).toMatch(/watched for changes/);
      writeAtomically(file, subgraphs.compose(2));
      await watching.waitForLog((l) => l.msg === 'supergraph reloaded');
      expect((await gql(gateway.url, NEW_FIELD)).status).toBe(400);
      expect(gateway.logs().filter((l) => l.msg === 'supergraph reloaded')).toEqual([]);
      gateway.child.kill('SIGHUP');
      await gateway.waitForLog((l) => l.msg === 'supergraph reloaded');
      expect((await gql(gateway.url, NEW_FIELD)).body).toEqual({ data: { product: { upc: 'b1', pages: 66 } } });
    } finally {
      await watching.stop();
      await gateway.stop();
      await subgraphs.close();
    }
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
