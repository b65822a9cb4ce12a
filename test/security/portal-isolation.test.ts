/**
 * Portal isolation end to end: a token with `customer_id` reads and acts on its own customer -
 * through root fields, nested entity fields resolved by other subgraphs, runs and mutations - and
 * on no other, enforced in the subgraphs that resolve the data (the gateway passes them the signed
 * principal). What a portal may do works; what it may not is FORBIDDEN at its path.
 */
import { encodePrincipal, PRINCIPAL_HEADER } from '../../core/principal';
import { SIGNATURE_HEADER, signRequest } from '../../core/signing';
import { buildSeed } from '../../simulators/common/seed';
import { readyOpportunities, waitForRun } from '../helpers/order-to-cash';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { claims, codes, hs256, post, raw } from './helpers';

jest.setTimeout(60_000);

const seed = buildSeed();
const PORTAL_SCOPES = ['customers:read', 'billing:read', 'erp:read', 'orders:write'];
const SUBGRAPH_SECRET = 'portal-test-subgraph-secret-0123456789abcdef';

describe('portal isolation', () => {
  let system: TestSystem;
  let portal: string;
  let own: { customerId: string; opportunityId: string; runId: string };
  let other: { customerId: string; opportunityId: string; runId: string };
  const asPortal = (query: string, variables?: Record<string, unknown>) => post(system.gateway.url, portal, { query, variables });

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET } });
    const ready = await readyOpportunities(system.simulators.salesforce!.url);
    const mine = ready[0];
    const theirs = ready.find((o) => o.accountId !== mine.accountId)!;
    portal = await hs256(claims('portal-user', PORTAL_SCOPES, { customer_id: mine.accountId }));
    const { body } = await system.gql(
      `mutation($a: StartOrderToCashInput!) { other: startOrderToCash(input: $a) { id } }`,
      { a: { opportunityId: theirs.id, idempotencyKey: `iso-other-${theirs.id}` } },
    );
    other = { customerId: theirs.accountId, opportunityId: theirs.id, runId: body.data.other.id };
    own = { customerId: mine.accountId, opportunityId: mine.id, runId: '' };
  });
  afterAll(() => system?.close());

  it('starts order-to-cash for its own deal, and reads the run and its invoice with ERP posting', async () => {
    const started = await asPortal(`mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id status } }`, {
      input: { opportunityId: own.opportunityId, idempotencyKey: `iso-own-${own.opportunityId}` },
    });
    expect(started.json.errors).toBeUndefined();
    own.runId = started.json.data.startOrderToCash.id;
    await waitForRun(system, own.runId);
    const run = await asPortal(`query($id: ID!) { orderToCashRun(id: $id) { status customer { id name } invoice { id total { amount } erpPosting { status } customer { id } } } }`, { id: own.runId });
    expect(run.json.errors).toBeUndefined();
    expect(run.json.data.orderToCashRun).toMatchObject({ status: 'COMPLETED', customer: { id: own.customerId }, invoice: { erpPosting: { status: 'POSTED' }, customer: { id: own.customerId } } });
  });

  it('reads its own customer across all three systems, and its deals with their runs', async () => {
    const response = await asPortal(`query($id: ID!) {
      customer(id: $id) { id name balance { amount } erp { creditHold } contracts { id customer { id } } invoices { id erpPosting { status } }
        opportunities { id customer { id } orderToCashRun { id } } }
    }`, { id: own.customerId });
    expect(response.json.errors).toBeUndefined();
    const customer = response.json.data.customer;
    expect(customer.id).toBe(own.customerId);
    expect(customer.contracts.every((c: any) => c.customer.id === own.customerId)).toBe(true);
    expect(customer.opportunities.find((o: any) => o.id === own.opportunityId).orderToCashRun.id).toBe(own.runId);
  });

  it("is refused another customer's run, wherever it is reached from", async () => {
    const byId = await asPortal(`query($id: ID!) { orderToCashRun(id: $id) { id invoice { id } } }`, { id: other.runId });
    expect(byId.json.data.orderToCashRun).toBeNull();
    expect(codes(byId)).toEqual(['FORBIDDEN']);
    const viaDeal = await asPortal(`query($id: ID!) { opportunity(id: $id) { id orderToCashRun { id } } }`, { id: other.opportunityId });
    expect(viaDeal.json.data.opportunity).toBeNull();
    expect(codes(viaDeal)).toContain('FORBIDDEN');
  });

  it("is refused another customer's records when they are reached as nested entities", async () => {
    const theirInvoice = seed.invoices.find((i) => seed.customers[i.customerIndex].crmId === other.customerId) ?? seed.invoices.find((i) => seed.customers[i.customerIndex].crmId !== own.customerId)!;
    const response = await asPortal(`query($id: ID!) { invoice(id: $id) { id erpPosting { status } contract { id customer { name erp { creditHold } } } } }`, { id: theirInvoice.id });
    expect(response.json.data.invoice).toBeNull();
    expect(codes(response)).toEqual(['FORBIDDEN']);
  });

  it("cannot start, retry or cancel another customer's order-to-cash", async () => {
    const start = await asPortal(`mutation { startOrderToCash(input: { opportunityId: "${other.opportunityId}", idempotencyKey: "iso-steal" }) { id } }`);
    expect(codes(start)).toEqual(['FORBIDDEN']);
    // The same key the other customer used: no hint of their run comes back.
    const replay = await asPortal(`mutation { startOrderToCash(input: { opportunityId: "${own.opportunityId}", idempotencyKey: "iso-other-${other.opportunityId}" }) { id } }`);
    expect(codes(replay)).toEqual(['CONFLICT']);
    expect(JSON.stringify(replay.json)).not.toContain(other.runId);
    const opsPortal = await hs256(claims('portal-ops', ['ops:read', 'ops:write'], { customer_id: own.customerId }));
    for (const mutation of ['retryOrderToCash', 'cancelOrderToCash']) {
      const response = await post(system.gateway.url, opsPortal, { query: `mutation($id: ID!) { ${mutation}(runId: $id) { id status } }`, variables: { id: other.runId } });
      expect(codes(response)).toEqual(['FORBIDDEN']);
    }
    const { body } = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { status } }`, { id: other.runId });
    expect(body.data.orderToCashRun.status).not.toMatch(/COMPENSAT/);
  });

  it('each subgraph checks the entity references it is asked to resolve (as the gateway would send them)', async () => {
    const principal = encodePrincipal({ subject: 'portal-user', scopes: new Set(PORTAL_SCOPES), customerId: own.customerId });
    const theirs = seed.invoices.find((i) => seed.customers[i.customerIndex].crmId !== own.customerId)!;
    const theirContract = seed.contracts.find((c) => seed.customers[c.customerIndex].crmId !== own.customerId)!;
    const entities = async (subgraph: keyof TestSystem['subgraphs'], representations: unknown[], selection: string) => {
      const body = JSON.stringify({ query: `query($r: [_Any!]!) { _entities(representations: $r) { ${selection} } }`, variables: { r: representations } });
      const response = await raw(system.subgraphs[subgraph].url, {
        headers: { 'content-type': 'application/json', [PRINCIPAL_HEADER]: principal, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, { method: 'POST', path: '/graphql', subgraph, body, principal }) },
        body,
      });
      return response.json;
    };
    const cases: [keyof TestSystem['subgraphs'], unknown, string][] = [
      ['crm', { __typename: 'Customer', id: other.customerId }, '... on Customer { name }'],
      ['crm', { __typename: 'Opportunity', id: other.opportunityId }, '... on Opportunity { name }'],
      ['billing', { __typename: 'Customer', id: other.customerId }, '... on Customer { invoices { id } }'],
      ['billing', { __typename: 'Invoice', id: theirs.id }, '... on Invoice { total { amount } }'],
      ['billing', { __typename: 'Contract', id: theirContract.id }, '... on Contract { status }'],
      ['erp', { __typename: 'Customer', id: other.customerId }, '... on Customer { erp { creditHold } }'],
      ['erp', { __typename: 'Invoice', id: theirs.id, customer: { id: other.customerId } }, '... on Invoice { erpPosting { status } }'],
      ['erp', { __typename: 'Invoice', id: theirs.id }, '... on Invoice { erpPosting { status } }'],
      ['orchestration', { __typename: 'OrderToCashRun', id: other.runId }, '... on OrderToCashRun { status }'],
    ];
    for (const [subgraph, representation, selection] of cases) {
      const answer = await entities(subgraph, [representation], selection);
      expect({ subgraph, representation, entity: answer.data?._entities?.[0] ?? null, codes: answer.errors?.map((e: any) => e.extensions.code) }).toEqual({
        subgraph,
        representation,
        entity: null,
        codes: ['FORBIDDEN'],
      });
    }
    // Its own customer's references resolve.
    const mine = await entities('erp', [{ __typename: 'Customer', id: own.customerId }], '... on Customer { erp { customerNumber } }');
    expect(mine.errors).toBeUndefined();
  });

  it('a token without customer_id still sees every customer', async () => {
    const { body } = await system.gql('{ customers(first: 50) { edges { node { id } } } }');
    expect(body.data.customers.edges).toHaveLength(50);
  });
});
