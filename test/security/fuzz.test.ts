/**
 * Property: whatever a client sends to /graphql and /webhooks/stripe, the gateway answers with a status below 500, with JSON, and without a stack
 * trace or a secret in the answer; and it still serves a valid request after all of it.
 * fast-check generates the requests: GraphQL built from the schema's own fields with hostile
 * arguments, near-GraphQL, random JSON, random text, and every kind of token.
 */
import fc from 'fast-check';
import Stripe from 'stripe';
import { buildSeed } from '../../simulators/common/seed';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { startTestSystem, TEST_JWT_SECRET, type TestSystem } from '../helpers/system';
import { ALL_SCOPES, claims, expiredClaims, hs256, leaks, raw, unsigned } from './helpers';

jest.setTimeout(120_000);

const SUBGRAPH_SECRET = 'fuzz-test-subgraph-secret-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_fuzzTestSecret0123456789';
const SECRETS = [TEST_JWT_SECRET, SUBGRAPH_SECRET, WEBHOOK_SECRET, SIMULATOR_CREDENTIALS.stripeKey, SIMULATOR_CREDENTIALS.netsuite.consumerSecret, SIMULATOR_CREDENTIALS.netsuite.tokenSecret];
const GRAPHQL_RUNS = 1000;
const WEBHOOK_RUNS = 400;

const seed = buildSeed();
const ids = [
  ...seed.customers.slice(0, 5).map((c) => c.crmId),
  ...seed.invoices.slice(0, 3).map((i) => i.id),
  ...seed.contracts.slice(0, 3).map((c) => c.id),
  ...seed.opportunities.slice(0, 3).map((o) => o.crmId),
  'run_missing', '', '0', "'; DROP TABLE Account; --", '../../etc/passwd', '\u0000', 'x'.repeat(300),
];

/** Selections that exist on each type, nested a little. */
const CUSTOMER = ['id', 'name', 'domain', '__typename', 'externalRefs { system vendor id }', 'balance { amount currency }', 'erp { customerNumber creditHold arBalance { amount } }', 'contracts { id status items { quantity } }', 'opportunities { id stage orderToCashRun { id status } }', 'parent { id name }', 'nope'];
const INVOICE = ['id', 'number', 'status', 'total { amount }', 'erpPosting { status period }', 'customer { id name }', 'contract { id }', 'lines { amount { amount } }'];
const RUN = ['id', 'status', 'steps { name status lastError { code message } }', 'deadLetter { state }', 'customer { name }', 'invoice { total { amount } }'];

const pick = (fields: string[]) => fc.uniqueArray(fc.constantFrom(...fields), { minLength: 1, maxLength: 4 }).map((f) => f.join(' '));
const idArg = fc.oneof(fc.constantFrom(...ids), fc.string({ maxLength: 40 }));
const intArg = fc.oneof(fc.integer({ min: -10, max: 400 }), fc.constantFrom(0, 200, 201, 2 ** 31 - 1, 1e9));
const quoted = (s: string) => JSON.stringify(s);

/** Valid-looking GraphQL from the schema's own fields, with hostile arguments. */
const schemaQuery = fc.oneof(
  fc.tuple(idArg, pick(CUSTOMER)).map(([id, sel]) => ({ query: `{ customer(id: ${quoted(id)}) { ${sel} } }` })),
  fc.tuple(intArg, pick(CUSTOMER)).map(([n, sel]) => ({ query: `query($n: Int) { customers(first: $n) { edges { node { ${sel} } } pageInfo { hasNextPage } } }`, variables: { n } })),
  fc.tuple(idArg, pick(INVOICE)).map(([id, sel]) => ({ query: `query($id: ID!) { invoice(id: $id) { ${sel} } }`, variables: { id } })),
  fc.tuple(idArg, pick(RUN)).map(([id, sel]) => ({ query: `{ orderToCashRun(id: ${quoted(id)}) { ${sel} } }` })),
  fc.tuple(intArg, fc.string({ maxLength: 30 })).map(([n, after]) => ({ query: `{ deadLetters(first: ${n}, after: ${quoted(after)}) { edges { node { id step } } } }` })),
  fc.tuple(idArg, fc.string({ maxLength: 30 })).map(([id, key]) => ({
    query: 'mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id status } }',
    variables: { input: { opportunityId: id, idempotencyKey: key } },
  })),
  fc.tuple(fc.constantFrom('retryOrderToCash', 'cancelOrderToCash'), idArg).map(([m, id]) => ({ query: `mutation { ${m}(runId: ${quoted(id)}) { id } }` })),
  fc.integer({ min: 1, max: 40 }).map((depth) => ({ query: `{ customer(id: "${ids[0]}") { ${'parent { '.repeat(depth)}id${' }'.repeat(depth)} } }` })),
  fc.integer({ min: 1, max: 120 }).map((n) => ({ query: `{ ${Array.from({ length: n }, (_, i) => `a${i}: customer(id: "${ids[i % 5]}") { id }`).join(' ')} }` })),
  fc.constant({ query: '{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }' }),
);

/** Damage a string: cut, insert or swap characters. */
const mangled = fc.tuple(schemaQuery, fc.array(fc.tuple(fc.nat(), fc.constantFrom('', '{', '}', '(', ')', '"', '$', '@', '...', '\u0000', '\\', ':', '!')), { maxLength: 4 })).map(([q, edits]) => {
  let text = q.query;
  for (const [at, insert] of edits) {
    const i = at % (text.length + 1);
    text = text.slice(0, i) + insert + text.slice(i + (insert === '' ? 1 : 0));
  }
  return { ...q, query: text };
});

const weirdVariables = fc.oneof(fc.jsonValue(), fc.constant({ __proto__: { polluted: true } }), fc.constant({ constructor: { prototype: { x: 1 } } }), fc.constant({ id: [null, { a: 1 }] }));

const body = fc.oneof(
  { weight: 5, arbitrary: schemaQuery.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: mangled.map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: fc.tuple(schemaQuery, weirdVariables).map(([b, v]) => JSON.stringify({ ...b, variables: v })) },
  { weight: 1, arbitrary: fc.tuple(schemaQuery, fc.jsonValue(), fc.jsonValue()).map(([b, op, ext]) => JSON.stringify({ ...b, operationName: op, extensions: ext })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.record({ query: fc.string({ maxLength: 200 }), variables: fc.jsonValue() }).map((v) => JSON.stringify(v)) },
);

describe('fuzzing the gateway', () => {
  let system: TestSystem;
  let authorizations: string[];

  beforeAll(async () => {
    system = await startTestSystem({
      // The fuzzer sends many bad tokens from one address: the per-address limit on failed authentication
      // (tested in test/security/ws-limits and the hostile table) is raised so generated requests reach execution.
      env: { CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, CONCORD_WORKERS: '0', CONCORD_AUTH_FAILURES_PER_MINUTE: '1000000' },
    });
    const portal = await hs256(claims('fuzz-portal', ALL_SCOPES, { customer_id: seed.customers[1].crmId }));
    authorizations = [
      `Bearer ${system.token}`,
      `Bearer ${system.token}`,
      `Bearer ${portal}`,
      `Bearer ${await hs256(claims('fuzz-reader', ['customers:read']))}`,
      `Bearer ${await hs256(expiredClaims('fuzz-late'))}`,
      `Bearer ${unsigned(claims('fuzz-none'))}`,
      `Bearer ${system.token.slice(0, -3)}abc`,
      'Bearer',
      'Basic YTpi',
      '',
    ];
  }, 60_000);
  afterAll(() => system?.close());

  it(`answers ${GRAPHQL_RUNS} generated /graphql requests without a 5xx, a stack or a secret`, async () => {
    const statuses = new Map<number, number>();
    // Mostly tokens that get through, so that most requests reach validation, limits and execution.
    const auth = fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.constant(2) },
      { weight: 1, arbitrary: fc.constant(3) },
      { weight: 2, arbitrary: fc.integer({ min: 4, max: 9 }) },
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        auth,
        fc.constantFrom('POST', 'POST', 'POST', 'GET'),
        fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/graphql-response+json'),
        async (text, which, method, contentType) => {
          const authorization = authorizations[which];
          const headers: Record<string, string> = { 'content-type': contentType, 'apollo-require-preflight': 'true' };
          if (authorization) headers.authorization = authorization;
          let target = `${system.gateway.url}/graphql`;
          if (method === 'GET') {
            let params: Record<string, unknown> = {};
            try {
              params = JSON.parse(text) as Record<string, unknown>;
            } catch {
              params = { query: text };
            }
            const search = new URLSearchParams();
            for (const [k, v] of Object.entries(params && typeof params === 'object' ? params : { query: String(params) })) {
              search.set(k, typeof v === 'string' ? v : JSON.stringify(v));
            }
            target += `?${search.toString()}`;
          }
          const response = await raw(target, { method, headers, body: method === 'GET' ? undefined : text });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          expect(response.status).toBeLessThan(500);
          expect(response.json).toBeDefined();
          expect(leaks(response.text, SECRETS)).toEqual([]);
        },
      ),
      { numRuns: GRAPHQL_RUNS, seed: Number(process.env.CONCORD_FUZZ_SEED ?? 20260501), endOnFailure: true },
    );
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(GRAPHQL_RUNS);
    // The generator is worth something only if a good share got past authentication to execution.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(GRAPHQL_RUNS * 0.2);
  });

  it(`answers ${WEBHOOK_RUNS} generated /webhooks/stripe requests without a 5xx, a stack or a secret`, async () => {
    // The route must be there: a 404 (no route) would otherwise pass every property below.
    const statuses = new Map<number, number>();
    const bySignature = { valid: 0, validAccepted: 0, bad: 0, badRefused: 0 };
    const event = (id: string, type: string) => JSON.stringify({ id, object: 'event', type, created: 1_700_000_000, data: { object: { id: 'in_x', object: 'invoice', customer: seed.customers[0].billingId } } });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue().map((v) => JSON.stringify(v)), fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom('invoice.paid', 'customer.updated', 'made.up')).map(([id, type]) => event(`evt_${id}`, type))),
        fc.oneof(
          fc.constant('valid'),
          fc.constant('stale'),
          fc.string({ maxLength: 120 }),
          fc.tuple(fc.integer({ min: 0, max: 2 ** 31 }), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 64 })).map(([t, v]) => `t=${t},v1=${v}`),
        ),
        async (payload, signature) => {
          const header =
            signature === 'valid'
              ? Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET })
              : signature === 'stale'
                ? Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET, timestamp: Math.floor(Date.now() / 1000) - 3600 })
                : signature;
          const response = await raw(`${system.gateway.url}/webhooks/stripe`, { headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          expect(response.status).not.toBe(404);
          expect(response.status).toBeLessThan(500);
          if (signature === 'valid') {
            bySignature.valid++;
            if (response.status < 300) bySignature.validAccepted++;
          } else {
            bySignature.bad++;
            // Stale or forged: refused (Stripe's verification, docs.stripe.com/webhooks/signature).
            if (response.status === 400 || response.status === 401) bySignature.badRefused++;
          }
          expect(leaks(response.text, SECRETS)).toEqual([]);
        },
      ),
      { numRuns: WEBHOOK_RUNS, seed: Number(process.env.CONCORD_FUZZ_SEED ?? 20260502), endOnFailure: true },
    );
    // The route did its work: every forged or stale signature refused, and signed events accepted.
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(WEBHOOK_RUNS);
    expect(bySignature.badRefused).toBe(bySignature.bad);
    expect(bySignature.bad).toBeGreaterThan(0);
    expect(bySignature.validAccepted).toBeGreaterThan(0);
  });

  it('is alive and correct afterwards', async () => {
    expect((await raw(`${system.gateway.url}/health`, { method: 'GET' })).status).toBe(200);
    const { status, body: answer } = await system.gql(`{ customer(id: "${seed.customers[0].crmId}") { name erp { creditHold } } }`);
    expect(status).toBe(200);
    expect(answer.errors).toBeUndefined();
    expect(answer.data.customer.name).toBe(seed.customers[0].name);
  });
});
