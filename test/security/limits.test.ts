/**
 * Limits and persisted queries: the cost estimate's figures, a request timeout, automatic persisted
 * queries, and production with a safelist (only listed operations, no introspection, no schema hints).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSchema, parse } from 'graphql';
import { selectOperation } from '../../gateway/authorization';
import { checkLimits, DEFAULT_LIMITS, subgraphOwnership } from '../../gateway/limits';
import { sha256 } from '../../gateway/persisted';
import { SUPERGRAPH_PATH } from '../../schema/subgraphs';
import { buildSeed } from '../../simulators/common/seed';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { claims, codes, hs256, post } from './helpers';

const EXAMPLES = path.join(__dirname, '..', '..', 'examples');
const UNIFIED_VIEW = readFileSync(path.join(EXAMPLES, 'unified-view.graphql'), 'utf8');
const schema = buildSchema(readFileSync(SUPERGRAPH_PATH, 'utf8'), { assumeValidSDL: true });
const measure = (query: string, variables?: Record<string, unknown>) => {
  const document = parse(query);
  return checkLimits(schema, document, selectOperation(document)!, variables, { ...DEFAULT_LIMITS, maxCost: Number.MAX_SAFE_INTEGER });
};
const customer = buildSeed().customers[0];
const ownership = subgraphOwnership(readFileSync(SUPERGRAPH_PATH, 'utf8'));
const fetches = (query: string) => {
  const document = parse(query);
  return checkLimits(schema, document, selectOperation(document)!, undefined, { ...DEFAULT_LIMITS, maxCost: Number.MAX_SAFE_INTEGER, maxFetches: 1000 }, ownership).fetches;
};

describe('the cost estimate', () => {
  it('counts list sizes from first, the connection, or the default', () => {
    // 1 + 50 * (edges 1 + node 1 + 10 invoices * (1 + total 1 + amount 1)) = 1601 (see gateway/limits.ts)
    expect(measure('{ customers(first: 50) { edges { node { invoices { total { amount } } } } } }')).toEqual({ depth: 6, aliases: 0, cost: 1601, fetches: 0 });
    expect(measure('query($n: Int) { customers(first: $n) { edges { node { id } } } }', { n: 5 }).cost).toBe(1 + 5 * 3);
    expect(measure('{ customers { edges { node { id } } } }').cost).toBe(1 + 20 * 3); // the schema default, first: Int = 20
  });

  it('lets the unified view of 200 customers through with room to spare', () => {
    expect(measure(UNIFIED_VIEW, { first: 50 })).toMatchObject({ depth: 7, cost: 41854 });
    const at200 = measure(UNIFIED_VIEW, { first: 200 });
    expect(at200.cost).toBe(167404);
    expect(at200.cost).toBeLessThan(DEFAULT_LIMITS.maxCost);
  });
});

describe('the subgraph-fetch estimate (what the query planner must plan)', () => {
  it('counts one fetch per subgraph of the root fields and one per field another subgraph resolves', () => {
    // customers (CRM); contracts, invoices, balance (billing); erpPosting and erp (ERP).
    expect(fetches(UNIFIED_VIEW)).toBe(6);
    expect(fetches(UNIFIED_VIEW)).toBeLessThanOrEqual(DEFAULT_LIMITS.maxFetches);
    // Root fields of one subgraph share a fetch: 30 aliases of a CRM field are one.
    expect(fetches(`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: customer(id: "c") { name }`).join(' ')} }`)).toBe(1);
    // Every alias of a path into another subgraph plans again: customer -> invoices -> erpPosting, and -> customer -> erp.
    expect(fetches('{ customer(id: "c") { invoices { erpPosting { status } customer { erp { creditHold } } } } }')).toBe(4);
    expect(fetches(`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: customer(id: "c") { invoices { erpPosting { status } customer { erp { creditHold } } } }`).join(' ')} }`)).toBe(91);
    // Fragments count wherever they are spread.
    expect(fetches('{ a: customer(id: "c") { ...F } b: customer(id: "d") { ...F } } fragment F on Customer { erp { creditHold } }')).toBe(3);
  });

  it('refuses beyond the bound before planning', () => {
    const document = parse(`{ ${Array.from({ length: 9 }, (_, i) => `a${i}: customer(id: "c") { erp { creditHold } }`).join(' ')} }`);
    expect(() => checkLimits(schema, document, selectOperation(document)!, undefined, DEFAULT_LIMITS, ownership)).toThrow(/more than 8 subgraph fetches/);
  });
});

describe('timeouts and automatic persisted queries', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_REQUEST_TIMEOUT_MS: '1500', CONCORD_WORKERS: '0' } });
  });
  afterAll(() => system?.close());

  it('registers a query by hash and then runs it from the hash alone', async () => {
    const query = `{ customer(id: "${customer.crmId}") { name } }`;
    const hash = sha256(query);
    const miss = await post(system.gateway.url, system.token, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(miss.status).toBe(200);
    expect(miss.json.errors[0].message).toBe('PersistedQueryNotFound');
    const registered = await post(system.gateway.url, system.token, { query, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(registered.json.data.customer.name).toBe(customer.name);
    const hit = await post(system.gateway.url, system.token, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(hit.json).toEqual({ data: { customer: { name: customer.name } } });
  });

  it('answers 504 when a request runs longer than the request timeout, and serves the next one', async () => {
    await simCall(system.simulators.salesforce!.url, 'faults', { latencyMs: 3000 });
    try {
      // The vendor answers after 3 s, past the request timeout: a 504 is the gateway giving up
      // first (no latency bound here: how long that took depends on the machine).
      const slow = await post(system.gateway.url, system.token, { query: `{ customer(id: "${customer.crmId}") { name } }` });
      expect(slow.status).toBe(504);
      expect(codes(slow)).toEqual(['INTERNAL']);
    } finally {
      await simCall(system.simulators.salesforce!.url, 'reset', {});
    }
    const next = await post(system.gateway.url, system.token, { query: '{ __typename }' });
    expect(next.status).toBe(200);
  });
});

const RUNS_BY_STATUS = 'query RunsByStatus($status: RunStatus) { orderToCashRuns(status: $status) { edges { node { id } } } }\n';

describe('production with a safelist', () => {
  let system: TestSystem;
  let safelist: string;
  beforeAll(async () => {
    // The examples, and one listed operation with an enum variable (for the coercion-hint case).
    safelist = mkdtempSync(path.join(tmpdir(), 'concord-safelist-'));
    cpSync(EXAMPLES, safelist, { recursive: true });
    writeFileSync(path.join(safelist, 'runs-by-status.graphql'), RUNS_BY_STATUS);
    system = await startTestSystem({ env: { NODE_ENV: 'production', CONCORD_JWT_ISSUER: 'https://idp.example', CONCORD_JWT_AUDIENCE: 'concord', CONCORD_SAFELIST_DIR: safelist, CONCORD_WORKERS: '0' } });
  });
  afterAll(async () => {
    await system?.close();
    if (safelist) rmSync(safelist, { recursive: true, force: true });
  });
  const send = (body: unknown) => post(system.gateway.url, system.token, body);

  it('gives no "did you mean" hint in variable coercion errors either', async () => {
    const wrong = await send({ query: RUNS_BY_STATUS, variables: { status: 'COMPLETE' } });
    expect(wrong.status).toBe(400);
    expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect(wrong.json.errors[0].message).toMatch(/RunStatus/);
    expect(wrong.text).not.toMatch(/did you mean/i);
    expect(wrong.text).not.toContain('COMPLETED');
  });

  it('runs a listed operation, whatever its whitespace and comments, or by the hash of its file', async () => {
    const listed = await send({ query: UNIFIED_VIEW, variables: { first: 2 } });
    expect(listed.json.errors).toBeUndefined();
    expect(listed.json.data.customers.edges).toHaveLength(2);
    const reformatted = await send({ query: `# the dashboard\n${UNIFIED_VIEW.replace(/\s+/g, '  ')}`, variables: { first: 1 } });
    expect(reformatted.json.data.customers.edges).toHaveLength(1);
    const byHash = await send({ variables: { first: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(UNIFIED_VIEW) } } });
    expect(byHash.json.data.customers.edges).toHaveLength(1);
  });

  it('requires the configured iss and aud on every token', async () => {
    const listed = { query: UNIFIED_VIEW, variables: { first: 1 } };
    const iss = 'https://idp.example';
    for (const [extra, status] of [[{}, 401], [{ iss }, 401], [{ iss, aud: 'another-service' }, 401], [{ iss: 'https://rogue.example', aud: 'concord' }, 401], [{ iss, aud: 'concord' }, 200]] as const) {
      const response = await post(system.gateway.url, await hs256(claims('iss-aud', ['customers:read'], extra)), listed);
      expect({ extra, status: response.status }).toEqual({ extra, status });
      if (status === 401) expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('refuses any other operation', async () => {
    const other = await send({ query: `{ customer(id: "${customer.crmId}") { name } }` });
    expect(other.status).toBe(403);
    expect(codes(other)).toEqual(['FORBIDDEN']);
    const register = await send({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ __typename }') } } });
    expect(register.status).toBe(403);
  });

  it('has introspection off, and gives no schema hints in errors', async () => {
    const introspection = await send({ query: '{ __schema { types { name } } }' });
    expect(introspection.status).toBe(400);
    expect(new Set(codes(introspection))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(introspection.json.errors[0].message).toMatch(/introspection/i);
    const typo = await send({ query: '{ customers { edges { node { nam } } } }' });
    expect(typo.status).toBe(400);
    expect(typo.text).not.toMatch(/Did you mean/);
  });
});
