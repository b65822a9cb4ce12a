/**
 * Authorization from the schema: the policy read from the composed supergraph, the rewrite of an
 * operation (fragments, variables, emptied selections), and - through the real gateway - that one
 * caller's reduced plan is never served to another caller (@apollo/gateway caches plans by text).
 */
import { readFileSync } from 'node:fs';
import { buildSchema, parse, print, validate, type GraphQLSchema } from 'graphql';
import type { Principal } from '../../core/principal';
import { authorizeOperation, policyFromSupergraph, satisfies, supergraphForGateway } from '../../gateway/authorization';
import { SUPERGRAPH_PATH } from '../../schema/subgraphs';
import { buildSeed } from '../../simulators/common/seed';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { claims, hs256, post } from './helpers';

const supergraph = readFileSync(SUPERGRAPH_PATH, 'utf8');
const policy = policyFromSupergraph(supergraph);
const schema: GraphQLSchema = buildSchema(supergraph, { assumeValidSDL: true });
const principal = (scopes: string[], customerId: string | null = null): Principal => ({ subject: 't', scopes: new Set(scopes), customerId });

describe('the authorization policy in the supergraph', () => {
  it.each([
    ['Customer', 'name', 'customers:read'],
    ['Customer', 'invoices', 'billing:read'],
    ['Customer', 'erp', 'erp:read'],
    ['Invoice', 'total', 'billing:read'],
    ['Query', 'deadLetters', 'ops:read'],
    ['Mutation', 'startOrderToCash', 'orders:write'],
    ['Mutation', 'cancelOrderToCash', 'ops:write'],
  ])('%s.%s needs %s', (type, field, scope) => {
    const requirement = policy.fieldRequirement(type, field);
    expect(satisfies(principal([scope, 'customers:read', 'billing:read']), requirement)).toBe(true);
    expect(satisfies(principal(['customers:read', 'billing:read', 'erp:read', 'orders:write', 'ops:read', 'ops:write'].filter((s) => s !== scope)), requirement)).toBe(false);
  });

  it('lets a run be read with ops:read or with orders:write (alternatives)', () => {
    const requirement = policy.fieldRequirement('Query', 'orderToCashRun');
    expect(satisfies(principal(['ops:read']), requirement)).toBe(true);
    expect(satisfies(principal(['orders:write']), requirement)).toBe(true);
    expect(satisfies(principal(['customers:read']), requirement)).toBe(false);
  });

  it('keeps @authenticated fields from anonymous callers only', () => {
    const requirement = policy.fieldRequirement('Query', 'customer');
    expect(requirement?.authenticated).toBe(true);
    expect(satisfies(principal([]), requirement)).toBe(true);
    expect(satisfies(null, requirement)).toBe(false);
  });

  it('hands @apollo/gateway the two enforced features without their SECURITY purpose, and nothing else changed', () => {
    const forGateway = supergraphForGateway(supergraph);
    expect(forGateway).not.toMatch(/requiresScopes\/v0\.1", for: SECURITY/);
    expect(forGateway).not.toMatch(/authenticated\/v0\.1", for: SECURITY/);
    expect(forGateway.replace(/\s/g, '').length).toBe(supergraph.replace(/\s/g, '').replace(/,for:SECURITY/g, '').length);
    // An unenforced security feature is left alone, so the gateway still refuses it.
    const withPolicy = '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)';
    expect(supergraphForGateway(withPolicy)).toBe(withPolicy);
  });
});

describe('rewriting an operation', () => {
  const rewrite = (query: string, scopes: string[], operationName?: string) =>
    authorizeOperation(schema, policy, parse(query), operationName, principal(scopes));

  it('removes denied fields in fragments and inline fragments, keeps the rest, and stays valid', () => {
    const query = `query View($id: ID!, $status: InvoiceStatus) {
      customer(id: $id) { ...Identity ... on Customer { invoices(status: $status) { id total { amount } } } }
    }
    fragment Identity on Customer { id name erp { creditHold } }`;
    const result = rewrite(query, ['customers:read']);
    expect(result.changed).toBe(true);
    expect(result.empty).toBe(false);
    expect(result.denials.map((d) => d.path.join('.')).sort()).toEqual(['customer.erp', 'customer.invoices']);
    const text = print(result.document);
    expect(text).not.toMatch(/invoices|erp|\$status/); // the variable only the removed field used is gone too
    expect(text).toMatch(/name/);
    expect(validate(schema, result.document)).toEqual([]);
  });

  it('drops a field whose whole selection was denied, and an operation with nothing left is empty', () => {
    const partial = rewrite('{ customer(id: "1") { erp { creditHold } } customers { edges { node { id } } } }', ['customers:read']);
    expect(print(partial.document)).not.toMatch(/customer\(/);
    expect(validate(schema, partial.document)).toEqual([]);
    const none = rewrite('mutation { startOrderToCash(input: { opportunityId: "x", idempotencyKey: "k" }) { id } }', ['customers:read']);
    expect(none.empty).toBe(true);
    expect(none.denials).toEqual([{ path: ['startOrderToCash'], message: expect.stringContaining('orders:write') }]);
  });

  it('keeps only the executed operation of a document with several', () => {
    const result = rewrite('query A { customers { edges { node { id } } } } query B { deadLetters { edges { node { id } } } }', ['customers:read'], 'A');
    expect(result.denials).toEqual([]);
    expect(print(result.document)).not.toMatch(/deadLetters/);
  });

  it('leaves an allowed operation untouched (same document, so Apollo reuses its cache)', () => {
    const document = parse('{ customers { edges { node { id name } } } }');
    const result = authorizeOperation(schema, policy, document, undefined, principal(['customers:read']));
    expect(result.changed).toBe(false);
    expect(result.document).toBe(document);
  });
});

describe('query plans are never shared between callers with different rights', () => {
  let system: TestSystem;
  const customer = buildSeed().customers[3];
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(() => system.close());

  it('serves the full and the reduced operation of the same text alternately, each correct', async () => {
    const query = `{ customer(id: "${customer.crmId}") { name invoices { id } erp { creditHold } } }`;
    const full = await hs256(claims('plans-full', ['customers:read', 'billing:read', 'erp:read']));
    const reduced = await hs256(claims('plans-reduced', ['customers:read']));
    for (const round of [1, 2, 3]) {
      const limited = await post(system.gateway.url, reduced, { query });
      expect(limited.json.data.customer).toEqual({ name: customer.name });
      expect(limited.json.errors.map((e: any) => e.extensions.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
      const all = await post(system.gateway.url, full, { query });
      expect(all.json.errors).toBeUndefined();
      expect(all.json.data.customer.invoices.length).toBeGreaterThan(0);
      expect(all.json.data.customer.erp).toEqual({ creditHold: customer.creditHold });
      expect(round).toBeGreaterThan(0);
    }
  });
});
