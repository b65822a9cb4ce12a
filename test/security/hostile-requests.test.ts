/**
 * Hostile and careless requests against the real system (simulators, subgraphs, gateway on
 * ephemeral ports), one table row each: what is sent, the HTTP status and the error code it must
 * get. Every answer also carries a correlation id and leaks no stack or secret, and the service
 * still answers a valid request afterwards.
 */
import { createClient } from 'graphql-ws';
import { SignJWT, generateKeyPair } from 'jose';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { encodePrincipal, PRINCIPAL_HEADER } from '../../core/principal';
import { SIGNATURE_HEADER, signRequest, type SignedRequest } from '../../core/signing';
import { sha256 } from '../../gateway/persisted';
import { buildSeed } from '../../simulators/common/seed';
import { SIMULATOR_CREDENTIALS } from '../../system';
import { readyOpportunities } from '../helpers/order-to-cash';
import { startTestSystem, TEST_JWT_SECRET, type TestSystem } from '../helpers/system';
import {
  ALL_SCOPES,
  claims,
  codes,
  expiredClaims,
  hs256,
  leaks,
  notYetValidClaims,
  post,
  raw,
  startIdentityProvider,
  unsigned,
  type RawResponse,
  type TestIdentityProvider,
} from './helpers';

const SUBGRAPH_SECRET = 'hostile-test-subgraph-secret-0123456789abcdef';
const SECRETS = [TEST_JWT_SECRET, SUBGRAPH_SECRET, SIMULATOR_CREDENTIALS.stripeKey, SIMULATOR_CREDENTIALS.netsuite.consumerSecret, SIMULATOR_CREDENTIALS.netsuite.tokenSecret];
const seed = buildSeed();
const own = seed.customers[1]; // the portal's customer
const other = seed.customers[2];
const child = seed.customers[5]; // its parent is customers[0]
const parentOfChild = seed.customers[0];
const otherInvoice = seed.invoices.find((i) => i.customerIndex === other.index)!;
const otherContract = seed.contracts.find((c) => c.customerIndex === other.index)!;

const CRM_QUERY = JSON.stringify({ query: '{ customers(first: 50) { edges { node { id name } } } }' });
const ADMIN_PRINCIPAL = encodePrincipal({ subject: 'x', scopes: new Set(ALL_SCOPES), customerId: null });
/** What the gateway signs for a POST of this body to the CRM subgraph. */
const crmRequest = (body: string, principal: string | undefined): SignedRequest => ({ method: 'POST', path: '/graphql', subgraph: 'crm', body, principal });
const nowS = () => Math.floor(Date.now() / 1000);
const UPSERT = `mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id name } }`;
const AMEND = `mutation($input: AmendContractInput!) { amendContract(input: $input) { id } }`;
/** What a portal must never learn of the other company: its name, its tax id and its ids in any system. */
const namesOther = (text: string) => [other.name, other.taxRegistration, other.crmId, other.billingId, other.erpId, other.customerNumber].filter((v) => text.includes(v));

interface Row {
  name: string;
  send: () => Promise<RawResponse>;
  status: number;
  /** Code that must be among the answer's errors (none for a success). */
  code?: string;
  check?: (response: RawResponse) => void;
}

describe('hostile and careless requests', () => {
  let system: TestSystem;
  let idp: TestIdentityProvider;
  let url: string;
  const tokens: Record<string, string> = {};
  let otherRunId: string;
  let otherOpportunityId: string;
  let firstOpportunityId: string;
  let squatOpportunityId: string;
  let writers = 0;
  /** A portal token with orders:write, of a subject of its own. */
  /** A portal token with orders:write for the child account (its parent is another customer). */
  const childWriter = () => hs256(claims(`portal-child-writer-${++writers}`, ['customers:read', 'orders:write'], { customer_id: child.crmId }));
  const portalWriter = () => hs256(claims(`portal-writer-${++writers}`, ['customers:read', 'billing:read', 'orders:write'], { customer_id: own.crmId }));
  /** orders:write without ops:read, of a subject of its own. */
  const writer = (name: string) => hs256(claims(`writer-${name}`, ['customers:read', 'orders:write']));

  const gql = (token: string | null, query: string, variables?: unknown, extra: Record<string, unknown> = {}) =>
    post(url, token, { query, variables, ...extra });
  // An all-scopes token of a subject of its own per row, so that the rate limit meets only the flood row.
  let admins = 0;
  const admin = () => hs256(claims(`admin-${++admins}`));
  const adminGql = async (query: string, variables?: unknown) => gql(await admin(), query, variables);
  const adminPost = async (body: unknown, headers: Record<string, string> = {}) => post(url, await admin(), body, headers);

  beforeAll(async () => {
    idp = await startIdentityProvider();
    system = await startTestSystem({
      env: {
        CONCORD_JWKS_URL: idp.url,
        CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET,
        CONCORD_RATE_LIMIT_RPS: '2',
        CONCORD_RATE_LIMIT_BURST: '15',
      },
    });
    url = system.gateway.url;
    const mint = async (name: string, scopes: readonly string[] = ALL_SCOPES, extra = {}) => {
      tokens[name] = await hs256(claims(name, scopes, extra));
    };
    await mint('admin');
    await mint('reader', ['customers:read']);
    await mint('no-orders', ['customers:read', 'billing:read', 'ops:read']);
    await mint('portal', ['customers:read', 'billing:read', 'erp:read', 'orders:write', 'ops:read', 'ops:write'], { customer_id: own.crmId });
    await mint('portal-child', ['customers:read'], { customer_id: child.crmId });
    await mint('flood');

    // Another customer's run, and another customer's deal ready to bill.
    const ready = (await readyOpportunities(system.simulators.salesforce!.url)).filter((o) => o.accountId !== own.crmId);
    otherOpportunityId = ready[1].id;
    firstOpportunityId = ready[0].id;
    squatOpportunityId = ready[2].id;
    const started = await gql(tokens.admin, `mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id } }`, {
      input: { opportunityId: ready[0].id, idempotencyKey: `hostile-${ready[0].id}` },
    });
    otherRunId = started.json.data.startOrderToCash.id;
  }, 60_000);
  afterAll(async () => {
    await system?.close();
    await idp?.close();
  });

  const subgraphCall = (headers: Record<string, string>, body = JSON.stringify({ query: '{ customers(first: 50) { edges { node { id name } } } }' })) =>
    raw(system.subgraphs.crm.url, { headers: { 'content-type': 'application/json', ...headers }, body });

  const rows: Row[] = [
    // ------------------------------------------------------------------ authentication
    { name: 'no token', send: () => gql(null, '{ customers { edges { node { id } } } }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'not a bearer token (Basic)', send: () => post(url, null, { query: '{ __typename }' }, { authorization: 'Basic YWRtaW46YWRtaW4=' }), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'garbage bearer token', send: () => gql('not.a.jwt', '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'forged: signed with another secret', send: async () => gql(await hs256(claims('mallory'), 'an-attackers-guess-at-the-secret-0123456789'), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'forged: payload edited after signing', send: async () => {
        const [h, , s] = tokens.reader.split('.');
        const payload = Buffer.from(JSON.stringify(claims('reader', ALL_SCOPES))).toString('base64url');
        return gql(`${h}.${payload}.${s}`, '{ __typename }');
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'expired token', send: async () => gql(await hs256(expiredClaims('late')), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED',
      check: (r) => expect(r.json.errors[0].message).toMatch(/expired/) },
    { name: 'not yet valid (nbf in the future)', send: async () => gql(await hs256(notYetValidClaims('early')), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'alg none (unsigned token)', send: () => gql(unsigned(claims('none')), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'wrong algorithm: HS512 with the right secret', send: async () => gql(await hs256(claims('hs512'), TEST_JWT_SECRET, 'HS512'), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'algorithm confusion: HS256 keyed with the JWKS public key', send: async () => gql(await hs256(claims('confused'), idp.publicKeyPem), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'RS256 signed by a key the identity provider does not publish', send: async () => gql(await idp.rs256Rogue(claims('rogue')), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    // Header tricks: the key comes from the gateway's configuration only, never from the token.
    { name: 'jku and x5u headers pointing at the attacker\'s keys (signed with its own key)', send: async () => {
        const rogue = await generateKeyPair('RS256');
        const token = await new SignJWT({ ...claims('jku') }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', jku: 'https://attacker.example/jwks.json', x5u: 'https://attacker.example/cert.pem' }).sign(rogue.privateKey);
        return gql(token, '{ __typename }');
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'kid naming the published key, signed by another', send: async () => {
        const rogue = await generateKeyPair('ES256');
        return gql(await new SignJWT({ ...claims('kid') }).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(rogue.privateKey), '{ __typename }');
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'kid path traversal with HS256 (kid must not pick a key file)', send: async () => {
        const token = await new SignJWT({ ...claims('kid-path') }).setProtectedHeader({ alg: 'HS256', kid: '../../../../dev/null' }).sign(new Uint8Array(32));
        return gql(token, '{ __typename }');
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'token without exp', send: async () => gql(await hs256({ sub: 'forever', scope: 'customers:read' }), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'token without sub', send: async () => gql(await hs256({ scope: 'customers:read', exp: Math.floor(Date.now() / 1000) + 60 }), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'portal claim malformed (empty customer_id must not mean "all customers")', send: async () => gql(await hs256(claims('blank-portal', ALL_SCOPES, { customer_id: '' })), '{ customers { edges { node { id } } } }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'portal claim null (must not mean "all customers")', send: async () => gql(await hs256(claims('null-portal', ALL_SCOPES, { customer_id: null })), '{ customers { edges { node { id } } } }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'portal claim not a string (a number)', send: async () => gql(await hs256(claims('number-portal', ALL_SCOPES, { customer_id: 42 })), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'token that never expires (exp 1e300)', send: async () => gql(await hs256(claims('forever-1e300', ALL_SCOPES, { exp: 1e300 })), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'token longer-lived than the 24 h maximum (exp 25 h after iat)', send: async () => gql(await hs256(claims('long-lived', ALL_SCOPES, { exp: nowS() + 25 * 3600 })), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED',
      check: (r) => expect(r.json.errors[0].message).toMatch(/lifetime/) },
    { name: 'token longer-lived than the maximum, without iat', send: async () => gql(await hs256(claims('long-no-iat', ALL_SCOPES, { iat: undefined, exp: nowS() + 48 * 3600 })), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'iat an hour in the future', send: async () => gql(await hs256(claims('from-the-future', ALL_SCOPES, { iat: nowS() + 3600, exp: nowS() + 7200 })), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED',
      check: (r) => expect(r.json.errors[0].message).toMatch(/iat/) },
    { name: 'nbf just beyond the clock tolerance', send: async () => gql(await hs256(claims('nbf-soon', ALL_SCOPES, { nbf: nowS() + 30 })), '{ __typename }'), status: 401, code: 'UNAUTHENTICATED' },

    // ------------------------------------------------------------------ authorization (scopes)
    { name: 'missing scope: billing field without billing:read (rest of the answer stays)', send: () => gql(tokens.reader, `{ customer(id: "${own.crmId}") { name invoices { id } } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => {
        expect(r.json.data.customer.name).toBe(own.name);
        expect(r.json.data.customer.invoices).toBeUndefined();
        expect(r.json.errors[0].path).toEqual(['customer', 'invoices']);
      } },
    { name: 'missing scope: startOrderToCash without orders:write', send: () => gql(tokens['no-orders'], `mutation { startOrderToCash(input: { opportunityId: "${otherOpportunityId}", idempotencyKey: "no-scope" }) { id } }`), status: 403, code: 'FORBIDDEN' },
    { name: 'missing scope: the ERP tax id of duplicate candidates without erp:read', send: async () => gql(await hs256(claims('dup-reader', ['customers:read'])), `query($n: String!) { customerDuplicates(name: $n) { name taxRegistration } }`, { n: other.name }), status: 200, code: 'FORBIDDEN',
      check: (r) => {
        expect(r.json.errors[0].path).toEqual(['customerDuplicates', 'taxRegistration']);
        expect(r.text).not.toContain(other.taxRegistration);
      } },
    { name: 'missing scope: ops list without ops:read', send: () => gql(tokens.reader, '{ orderToCashRuns { edges { node { id } } } }'), status: 403, code: 'FORBIDDEN' },

    // ------------------------------------------------------------------ portal isolation
    { name: "portal token on another customer's customer", send: () => gql(tokens.portal, `{ customer(id: "${other.crmId}") { id name } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.data.customer).toBeNull() },
    { name: "portal token on another customer's invoice", send: () => gql(tokens.portal, `{ invoice(id: "${otherInvoice.id}") { id total { amount } erpPosting { status } } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.data.invoice).toBeNull() },
    { name: "portal token on another customer's contract", send: () => gql(tokens.portal, `{ contract(id: "${otherContract.id}") { id status customer { name } } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.data.contract).toBeNull() },
    { name: "portal token on another customer's order-to-cash run", send: () => gql(tokens.portal, `query($id: ID!) { orderToCashRun(id: $id) { id status customer { name } } }`, { id: otherRunId }), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.data.orderToCashRun).toBeNull() },
    { name: "portal token starts order-to-cash on another customer's deal", send: () => gql(tokens.portal, `mutation { startOrderToCash(input: { opportunityId: "${otherOpportunityId}", idempotencyKey: "portal-steal" }) { id } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.data).toBeNull() },
    { name: "portal token cancels another customer's run", send: () => gql(tokens.portal, `mutation($id: ID!) { cancelOrderToCash(runId: $id) { id status } }`, { id: otherRunId }), status: 200, code: 'FORBIDDEN' },
    { name: "portal token reaches another customer through a nested field (parent account)", send: () => gql(tokens['portal-child'], `{ customer(id: "${child.crmId}") { name parent { name } } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => {
        expect(r.json.data.customer.name).toBe(child.name);
        expect(r.json.data.customer.parent).toBeNull();
      } },
    { name: 'portal token lists customers: only its own comes back', send: () => gql(tokens.portal, '{ customers(first: 50) { edges { node { id } } } }'), status: 200,
      check: (r) => expect(r.json.data.customers.edges.map((e: any) => e.node.id)).toEqual([own.crmId]) },
    // Tenant isolation on writes and in errors (issue 14): every row uses a subject of its own.
    { name: "portal renames its customer to another company's name: CONFLICT that names nobody", send: async () => gql(await portalWriter(), UPSERT, { input: { id: own.crmId, name: other.name, idempotencyKey: 'portal-rename-1' } }), status: 200, code: 'CONFLICT',
      check: (r) => expect(namesOther(r.text)).toEqual([]) },
    { name: "portal sets another company's tax id: CONFLICT that names nobody (no tax-id oracle)", send: async () => gql(await portalWriter(), UPSERT, { input: { id: own.crmId, name: own.name, taxRegistration: other.taxRegistration, idempotencyKey: 'portal-tax-1' } }), status: 200, code: 'CONFLICT',
      check: (r) => {
        expect(namesOther(r.text)).toEqual([]);
        expect(r.json.errors[0].extensions.duplicates).toBeUndefined();
      } },
    { name: 'portal confirms a guessed id away (confirmNotDuplicateOf is for operators)', send: async () => gql(await portalWriter(), UPSERT, { input: { id: own.crmId, name: other.name, confirmNotDuplicateOf: [other.crmId], idempotencyKey: 'portal-confirm-1' } }), status: 200, code: 'CONFLICT',
      check: (r) => expect(namesOther(r.text)).toEqual([]) },
    { name: 'portal sets parentId to another customer', send: async () => gql(await portalWriter(), UPSERT, { input: { id: own.crmId, name: own.name, parentId: other.crmId, idempotencyKey: 'portal-parent-1' } }), status: 200, code: 'FORBIDDEN' },
    { name: "child portal keeps its parent and takes the parent's exact name and domain: CONFLICT that names nobody", send: async () => gql(await childWriter(), UPSERT, { input: { id: child.crmId, name: parentOfChild.name, domain: parentOfChild.domain, parentId: parentOfChild.crmId, idempotencyKey: 'child-rename-1' } }), status: 200, code: 'CONFLICT',
      check: (r) => expect([parentOfChild.crmId, parentOfChild.billingId, parentOfChild.erpId, parentOfChild.taxRegistration].filter((v) => r.text.includes(v))).toEqual([]) },
    { name: 'child portal clears its parent (parentId: null): refused clearly, without naming the parent', send: async () => gql(await childWriter(), UPSERT, { input: { id: child.crmId, name: child.name, parentId: null, idempotencyKey: 'child-unparent-1' } }), status: 200, code: 'FORBIDDEN',
      check: (r) => {
        expect(r.json.errors[0].message).toMatch(/parent/);
        expect(r.text).not.toContain(parentOfChild.crmId);
      } },
    { name: 'child portal names its own parent again (no change): accepted', send: async () => gql(await childWriter(), UPSERT, { input: { id: child.crmId, name: child.name, parentId: parentOfChild.crmId, idempotencyKey: 'child-same-parent-1' } }), status: 200,
      check: (r) => expect(r.json.data.upsertCustomer).toMatchObject({ id: child.crmId, name: child.name }) },
    { name: "portal upserts another customer's record", send: async () => gql(await portalWriter(), UPSERT, { input: { id: other.crmId, name: 'Mine Now', idempotencyKey: 'portal-other-1' } }), status: 200, code: 'FORBIDDEN' },
    { name: "portal amends another customer's contract", send: async () => gql(await portalWriter(), AMEND, { input: { contractId: otherContract.id, items: [{ productCode: 'x', quantity: 1 }], idempotencyKey: 'portal-amend-1' } }), status: 200, code: 'FORBIDDEN' },
    { name: 'portal amends a contract that does not exist: the same answer as for another customer\'s', send: async () => gql(await portalWriter(), AMEND, { input: { contractId: 'sub_doesnotexist000000', items: [{ productCode: 'x', quantity: 1 }], idempotencyKey: 'portal-amend-2' } }), status: 200, code: 'FORBIDDEN' },
    { name: 'portal reads a run that does not exist: the same answer as for another customer\'s', send: async () => gql(await portalWriter(), `{ orderToCashRun(id: "run_doesnotexist") { id } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.errors[0].message).toBe('this token may not access run run_doesnotexist') },
    { name: 'portal reads an invoice that does not exist: the same answer as for another customer\'s', send: async () => gql(await portalWriter(), `{ invoice(id: "in_doesnotexist000000") { id } }`), status: 200, code: 'FORBIDDEN' },
    { name: "a caller reusing another caller's idempotency key gets a run of its own, never the other's run id", send: async () => gql(await writer('squatter'), `mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id idempotencyKey } }`, { input: { opportunityId: squatOpportunityId, idempotencyKey: `hostile-${firstOpportunityId}` } }), status: 200,
      check: (r) => {
        expect(r.text).not.toContain(otherRunId);
        expect(r.json.data.startOrderToCash).toMatchObject({ id: expect.stringMatching(/^run_/), idempotencyKey: `hostile-${firstOpportunityId}` });
      } },
    { name: 'orders:write without ops:read reads a run it did not start', send: async () => gql(await writer('curious'), `query($id: ID!) { orderToCashRun(id: $id) { id idempotencyKey correlationId } }`, { id: otherRunId }), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.data.orderToCashRun).toBeNull() },
    { name: 'orders:write without ops:read reads a run that does not exist: the same answer as for a run it did not start', send: async () => gql(await writer('prober'), `{ orderToCashRun(id: "run_doesnotexist") { id } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.errors[0].message).toBe('this token may not access run run_doesnotexist') },
    { name: 'orders:write without ops:read reads a workflow run that does not exist: FORBIDDEN, as for one it did not start', send: async () => gql(await writer('wf-prober'), `{ workflowRun(id: "wf_doesnotexist") { id } }`), status: 200, code: 'FORBIDDEN' },
    { name: 'ops:write without ops:read cancels a run it did not start', send: async () => gql(await hs256(claims('canceller-1', ['customers:read', 'orders:write', 'ops:write'])), `mutation($id: ID!) { cancelOrderToCash(runId: $id) { id } }`, { id: otherRunId }), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.errors[0].message).toBe(`this token may not access run ${otherRunId}`) },
    { name: 'ops:write without ops:read cancels a run that does not exist: the same answer', send: async () => gql(await hs256(claims('canceller-2', ['customers:read', 'orders:write', 'ops:write'])), `mutation { cancelOrderToCash(runId: "run_doesnotexist") { id } }`), status: 200, code: 'FORBIDDEN',
      check: (r) => expect(r.json.errors[0].message).toBe('this token may not access run run_doesnotexist') },
    { name: 'portal token lists the ops-wide run list', send: () => gql(tokens.portal, '{ orderToCashRuns { edges { node { id } } } }'), status: 200, code: 'FORBIDDEN' },

    // ------------------------------------------------------------------ trusted subgraphs
    { name: 'direct subgraph call, unsigned', send: () => subgraphCall({}), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, forged signature', send: () => subgraphCall({ [SIGNATURE_HEADER]: `t=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}` }), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, stale signature (10 minutes old)', send: () => {
        const body = CRM_QUERY;
        return subgraphCall({ [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, crmRequest(body, ADMIN_PRINCIPAL), Date.now() - 600_000) }, body);
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, signature timestamped 2 minutes ahead (the window is two-sided)', send: () =>
        subgraphCall({ [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, crmRequest(CRM_QUERY, ADMIN_PRINCIPAL), Date.now() + 120_000) }, CRM_QUERY),
      status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, principal swapped after signing (portal -> admin)', send: () => {
        const portal = encodePrincipal({ subject: 'p', scopes: new Set(ALL_SCOPES), customerId: own.crmId });
        return subgraphCall({ [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, crmRequest(CRM_QUERY, portal)) }, CRM_QUERY);
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, body signed but principal stripped', send: () =>
        subgraphCall({ [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, crmRequest(CRM_QUERY, undefined)) }, CRM_QUERY),
      status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, a signature for the billing subgraph sent to the CRM subgraph', send: () =>
        subgraphCall({ [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, { ...crmRequest(CRM_QUERY, ADMIN_PRINCIPAL), subgraph: 'billing' }) }, CRM_QUERY),
      status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, a captured signature sent with another body', send: () => {
        const headers = { [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, crmRequest(CRM_QUERY, ADMIN_PRINCIPAL)) };
        return subgraphCall(headers, JSON.stringify({ query: '{ customers(first: 1) { edges { node { id } } } }' }));
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, a signed request replayed (the first is answered, the replay is not)', send: async () => {
        const headers = { [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signRequest(SUBGRAPH_SECRET, crmRequest(CRM_QUERY, ADMIN_PRINCIPAL)) };
        const first = await subgraphCall(headers, CRM_QUERY);
        expect(first.status).toBe(200);
        expect(first.json.data.customers.edges.length).toBeGreaterThan(0);
        return subgraphCall(headers, CRM_QUERY);
      }, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'direct subgraph call, GET ?query= (subgraphs take POST only)', send: () => {
        const signature = signRequest(SUBGRAPH_SECRET, { method: 'GET', path: '/graphql', subgraph: 'crm', body: '', principal: ADMIN_PRINCIPAL });
        return raw(`${system.subgraphs.crm.url}?query=${encodeURIComponent('{ customers(first: 50) { edges { node { id name } } } }')}`, { method: 'GET', headers: { [PRINCIPAL_HEADER]: ADMIN_PRINCIPAL, [SIGNATURE_HEADER]: signature, 'apollo-require-preflight': 'true' } });
      }, status: 405, code: 'BAD_USER_INPUT' },

    // ------------------------------------------------------------------ limits
    { name: 'deep query (16 levels of parent)', send: () => adminGql(`{ customer(id: "${own.crmId}") { ${'parent { '.repeat(15)}id${' }'.repeat(15)} } }`), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'alias flood (100 aliases)', send: () => adminGql(`{ ${Array.from({ length: 100 }, (_, i) => `a${i}: customer(id: "${own.crmId}") { id }`).join(' ')} }`), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'huge list (first: 1000000)', send: () => adminGql('{ customers(first: 1000000) { edges { node { id name } } } }'), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'huge list through a variable', send: () => adminGql('query($n: Int) { customers(first: $n) { edges { node { id invoices(first: $n) { id } } } } }', { n: 5000 }), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'nested lists that multiply (200 customers x invoices x lines x contracts x items)', send: () => adminGql('{ customers(first: 200) { edges { node { invoices { lines { amount { amount } } contract { items { unitPrice { amount } } } } contracts { items { id } invoices { lines { id } } } } } } }'), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'fragment bomb (each fragment spreads the next twice)', send: () => {
        const fragments = Array.from({ length: 20 }, (_, i) => `fragment F${i} on Customer { id ${i < 19 ? `parent { ...F${i + 1} } opportunities { customer { ...F${i + 1} } }` : ''} }`).join('\n');
        return adminGql(`{ customers(first: 50) { edges { node { ...F0 } } } }\n${fragments}`);
      }, status: 400, code: 'QUERY_TOO_COMPLEX' },
    // Validation's overlapping-fields rule is quadratic in same-named fields: bounded before it runs.
    { name: 'one field repeated 300 times in a selection set (the reported attack; each document unique)', send: () => adminGql(`# ${Math.random()}\n{ customer(id: "${own.crmId}") { ${'parent { id } '.repeat(300)}} }`), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'one field repeated 80 times in a selection set (within the field counts)', send: () => adminGql(`# ${Math.random()}\n{ customer(id: "${own.crmId}") { ${'parent { id } '.repeat(80)}} }`), status: 400, code: 'QUERY_TOO_COMPLEX',
      check: (r) => expect(r.json.errors[0].message).toMatch(/more than 1000 pairs of fields of the same name/) },
    { name: 'a field repeated twice on each of 6 levels (the pairs multiply)', send: () => {
        const nest = (levels: number): string => (levels === 0 ? 'id' : `parent { ${nest(levels - 1)} } `.repeat(2));
        return adminGql(`{ customer(id: "${own.crmId}") { ${nest(6)} } }`);
      }, status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'the same field through 60 fragments', send: () => adminGql(`{ customer(id: "${own.crmId}") { ${Array.from({ length: 60 }, (_, i) => `...F${i}`).join(' ')} } } ${Array.from({ length: 60 }, (_, i) => `fragment F${i} on Customer { parent { id name } }`).join(' ')}`), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'more than 500 fields in the document', send: () => adminGql(`{ customer(id: "${own.crmId}") { ${Array.from({ length: 26 }, (_, i) => `a${i}: parent { ${'id name domain '.repeat(7)}}`).slice(0, 25).join(' ')} } }`), status: 400, code: 'QUERY_TOO_COMPLEX',
      check: (r) => expect(r.json.errors[0].message).toMatch(/more than 500 fields/) },
    { name: 'fields repeated a few times, as fragments do, are still served', send: () => adminGql(`{ customer(id: "${own.crmId}") { id name ...A ...B parent { id } } } fragment A on Customer { id name parent { id name } } fragment B on Customer { id parent { id } }`), status: 200,
      check: (r) => expect(r.json.data.customer.name).toBe(own.name) },
    // The query planner's CPU grows with the subgraph fetches a plan needs, and unique aliases defeat its plan cache.
    { name: '30 aliases of a customer\'s invoices, their ERP posting and the customer\'s ERP record (91 subgraph fetches, each document unique)', send: () => {
        const salt = Math.random().toString(36).slice(2, 8);
        return adminGql(`{ ${Array.from({ length: 30 }, (_, i) => `a${salt}${i}: customer(id: "${own.crmId}") { invoices { id erpPosting { status } customer { erp { creditHold } } } }`).join(' ')} }`);
      }, status: 400, code: 'QUERY_TOO_COMPLEX', check: (r) => expect(r.json.errors[0].message).toMatch(/more than 8 subgraph fetches/) },
    { name: 'the same fetches through fragments spread under aliases', send: () => adminGql(`{ ${Array.from({ length: 8 }, (_, i) => `a${i}: customer(id: "${own.crmId}") { ...Deep }`).join(' ')} } fragment Deep on Customer { invoices { erpPosting { status } } erp { creditHold } }`),
      status: 400, code: 'QUERY_TOO_COMPLEX', check: (r) => expect(r.json.errors[0].message).toMatch(/subgraph fetches/) },
    { name: 'aliases that stay in one subgraph are still served (30 aliases of a customer\'s name)', send: () => adminGql(`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: customer(id: "${own.crmId}") { id name }`).join(' ')} }`), status: 200,
      check: (r) => expect(r.json.data.a29.name).toBe(own.name) },
    { name: 'too many tokens (8000 repeated fields)', send: () => adminGql(`{ customer(id: "${own.crmId}") { ${'id '.repeat(8000)}} }`), status: 400, code: 'QUERY_TOO_COMPLEX' },
    { name: 'oversized body (2 MiB)', send: () => adminPost(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } })), status: 413, code: 'BAD_USER_INPUT' },

    // ------------------------------------------------------------------ malformed requests
    { name: 'malformed JSON', send: () => adminPost('{"query": "{ __typename }",'), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'JSON that is not an object (a string)', send: () => adminPost('"{ __typename }"'), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'batched request (array body)', send: () => adminPost([{ query: '{ __typename }' }, { query: '{ __typename }' }]), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'no query', send: () => adminPost({ variables: {} }), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'syntax error', send: () => adminGql('{ customer(id: "x") { name '), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'unknown field', send: () => adminGql('{ customers { edges { node { password } } } }'), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'invalid variables: not an object', send: () => adminPost({ query: 'query($id: ID!) { customer(id: $id) { id } }', variables: 'id=1' }), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'invalid variables: wrong type', send: () => adminGql('query($id: ID!) { customer(id: $id) { id } }', { id: { $gt: '' } }), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'invalid variables: required one missing', send: () => adminGql('query($id: ID!) { customer(id: $id) { id } }', {}), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'two operations and no operationName', send: () => adminGql('query A { __typename } query B { __typename }'), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'mutation over GET', send: async () => raw(`${url}/graphql?query=${encodeURIComponent('mutation { cancelOrderToCash(runId: "run_x") { id } }')}`, { method: 'GET', headers: { authorization: `Bearer ${await admin()}`, 'apollo-require-preflight': 'true' } }), status: 405, code: 'BAD_USER_INPUT' },
    { name: 'PUT /graphql', send: async () => raw(`${url}/graphql`, { method: 'PUT', headers: { authorization: `Bearer ${await admin()}` }, body: '{}' }), status: 405, code: 'BAD_USER_INPUT' },
    { name: 'subscription over plain HTTP', send: () => adminGql(`subscription { customerEvents(customerId: "${own.crmId}") { id } }`), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'persisted query hash never registered', send: () => adminPost({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }), status: 200, code: 'BAD_USER_INPUT',
      check: (r) => expect(r.json.errors[0].message).toBe('PersistedQueryNotFound') },
    { name: 'persisted query whose hash does not match its text', send: () => adminPost({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ other }') } } }), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'CSRF: a GET without a preflight header', send: async () => raw(`${url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { method: 'GET', headers: { authorization: `Bearer ${await admin()}` } }), status: 400, code: 'BAD_USER_INPUT',
      check: (r) => expect(r.json.errors[0].message).toMatch(/cross-site request forgery/) },
    { name: 'CSRF: a POST as text/plain (a simple cross-site form post)', send: async () => raw(`${url}/graphql`, { headers: { 'content-type': 'text/plain', authorization: `Bearer ${await admin()}` }, body: JSON.stringify({ query: '{ __typename }' }) }), status: 400, code: 'BAD_USER_INPUT' },
    { name: 'a 900 KB name in a variable is refused before any vendor is called', send: async () => gql(await admin(), UPSERT, { input: { name: 'n'.repeat(900_000), idempotencyKey: 'huge-name-1' } }), status: 400, code: 'BAD_USER_INPUT',
      // Refused by admission (the 400 says so), so no resolver, and no vendor, ever saw it.
      check: (r) => expect(r.json.errors[0].message).toMatch(/longer than 10000 characters/) },
    { name: 'a 900 KB name inline is refused before any vendor is called', send: async () => gql(await admin(), `{ customerDuplicates(name: "${'n'.repeat(900_000)}") { id } }`), status: 400, code: 'BAD_USER_INPUT',
      check: (r) => expect(r.json.errors[0].message).toMatch(/longer than 10000 characters/) },
    { name: 'hostile correlation id is not echoed', send: () => adminPost({ query: '{ __typename }' }, { 'x-correlation-id': '<script>alert(1)</script>' }), status: 200,
      check: (r) => expect(r.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/) },

    // ------------------------------------------------------------------ rate limits
    { name: 'request flood from one subject', send: async () => {
        const responses = await Promise.all(Array.from({ length: 30 }, () => gql(tokens.flood, '{ __typename }')));
        const limited = responses.find((r) => r.status === 429);
        expect(responses.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(15);
        return limited ?? responses[0];
      }, status: 429, code: 'RATE_LIMITED',
      check: (r) => {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(r.json.errors[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      } },
  ];

  it('has at least 30 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const response = await row.send();
    expect({ status: response.status, body: response.json }).toMatchObject({ status: row.status });
    expect(response.json).toBeDefined(); // always JSON
    if (row.code) expect(codes(response)).toContain(row.code);
    else expect(response.json.errors).toBeUndefined();
    if (row.check) row.check(response);
    for (const error of response.json.errors ?? []) {
      expect(ERROR_CODES).toContain(error.extensions.code);
      // Gateway answers carry the correlation id; a subgraph called directly has none to give.
      if (!row.name.startsWith('direct subgraph')) expect(error.extensions.correlationId).toEqual(expect.any(String));
    }
    expect(leaks(response.text, SECRETS)).toEqual([]);
  });

  it('still answers a valid request afterwards, and nothing was created for another customer', async () => {
    const response = await gql(tokens.admin, `query($id: ID!) { customer(id: $id) { id name invoices { id } erp { creditHold } opportunities { id } } opportunity(id: "${otherOpportunityId}") { orderToCashRun { id } } }`, { id: own.crmId });
    expect(response.status).toBe(200);
    expect(response.json.errors).toBeUndefined();
    expect(response.json.data.customer.name).toBe(own.name);
    expect(response.json.data.opportunity.orderToCashRun).toBeNull();
  });

  it('accepts RS256 and ES256 tokens from the JWKS', async () => {
    for (const token of [await idp.rs256(claims('idp-rsa', ['customers:read'])), await idp.es256(claims('idp-ec', ['customers:read']))]) {
      const response = await gql(token, `{ customer(id: "${own.crmId}") { name } }`);
      expect(response.status).toBe(200);
      expect(response.json.data.customer.name).toBe(own.name);
    }
  });
});

const ERROR_CODES = [
  'BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'VALIDATION_FAILED', 'PERIOD_CLOSED',
  'VENDOR_RATE_LIMITED', 'VENDOR_UNAVAILABLE', 'VENDOR_REJECTED', 'QUERY_TOO_COMPLEX', 'RATE_LIMITED', 'INTERNAL',
];


interface SubscriptionOutcome {
  codes: string[];
  closeCode?: number;
  data?: unknown;
}

/** Subscribe, and report the first thing that happens: data, errors, or the socket closing. */
function subscribeOnce(gatewayUrl: string, authorization: string | null, query: string, variables?: Record<string, unknown>): Promise<SubscriptionOutcome> {
  const client = createClient({
    url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    lazy: true,
  });
  return new Promise<SubscriptionOutcome>((resolve) => {
    // A deadline, not an expectation: generous, since a busy machine answers late, not wrongly.
    const timer = setTimeout(() => resolve({ codes: ['TIMEOUT'] }), 25_000);
    const done = (outcome: SubscriptionOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    client.subscribe(
      { query, variables },
      {
        next: (value) => done({ codes: (value.errors ?? []).map((e) => String(e.extensions?.code)), data: value.data }),
        error: (error: unknown) => {
          if (Array.isArray(error)) return done({ codes: error.map((e: { extensions?: { code?: string } }) => String(e.extensions?.code)) });
          const closeCode = (error as { code?: number }).code;
          return done({ codes: [], closeCode: typeof closeCode === 'number' ? closeCode : -1 });
        },
        complete: () => done({ codes: [] }),
      },
    );
  }).finally(() => client.dispose());
}

describe('hostile subscriptions and webhooks', () => {
  const WEBHOOK_SECRET = 'whsec_hostileTestSecret0123456789';
  let system: TestSystem;
  let otherRunId: string;
  let runCustomerId: string;
  const portal = () => hs256(claims('ws-portal', ['customers:read', 'billing:read', 'orders:write'], { customer_id: own.crmId }));

  beforeAll(async () => {
    system = await startTestSystem({ env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET } });
    const ready = (await readyOpportunities(system.simulators.salesforce!.url)).filter((o) => o.accountId !== own.crmId);
    const { body } = await system.gql(`mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id } }`, {
      input: { opportunityId: ready[0].id, idempotencyKey: `ws-hostile-${ready[0].id}` },
    });
    otherRunId = body.data.startOrderToCash.id;
    runCustomerId = ready[0].accountId;
  }, 60_000);
  afterAll(() => system?.close());

  const webhook = (payload: string, signature: string | null) =>
    raw(`${system.gateway.url}/webhooks/stripe`, { headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) }, body: payload });
  const event = (id: string) =>
    JSON.stringify({ id, object: 'event', type: 'customer.updated', created: Math.floor(Date.now() / 1000), data: { object: { id: other.billingId, object: 'customer', metadata: { concord_customer_id: other.crmId } } } });
  const sign = (payload: string, secret = WEBHOOK_SECRET, timestamp?: number) => Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

  it.each([
    ['subscription without a token', async () => subscribeOnce(system.gateway.url, null, `subscription { businessEvents { id } }`), { closeCode: 4403 }],
    ['subscription with an expired token', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(expiredClaims('ws-late'))}`, `subscription { businessEvents { id } }`), { closeCode: 4403 }],
    ['subscription without the scope it needs', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(claims('ws-billing', ['billing:read']))}`, `subscription { businessEvents { id } }`), { codes: ['FORBIDDEN'] }],
    ["portal subscribes to another customer's events", async () => subscribeOnce(system.gateway.url, `Bearer ${await portal()}`, `subscription($c: ID!) { customerEvents(customerId: $c) { id } }`, { c: other.crmId }), { codes: ['FORBIDDEN'] }],
    ["portal subscribes to another customer's run", async () => subscribeOnce(system.gateway.url, `Bearer ${await portal()}`, `subscription($r: ID!) { orderToCashRunUpdated(runId: $r) { id status } }`, { r: otherRunId }), { codes: ['FORBIDDEN'] }],
    ['portal subscribes to a run that does not exist: the same answer as for another customer\'s', async () => subscribeOnce(system.gateway.url, `Bearer ${await portal()}`, `subscription($r: ID!) { orderToCashRunUpdated(runId: $r) { id } }`, { r: 'run_doesnotexist' }), { codes: ['FORBIDDEN'] }],
    ['orders:write without ops:read subscribes to a run it did not start', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(claims('ws-writer', ['customers:read', 'orders:write']))}`, `subscription($r: ID!) { orderToCashRunUpdated(runId: $r) { id status } }`, { r: otherRunId }), { codes: ['FORBIDDEN'] }],
    ['customers:read on businessEvents: a run event\'s correlation id and detail are removed (FORBIDDEN at their paths)', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(claims('ws-reader', ['customers:read']))}`, `subscription { businessEvents(types: [RUN_STATUS_CHANGED], after: "0-0") { id correlationId detail } }`), { codes: ['FORBIDDEN', 'FORBIDDEN'], data: { businessEvents: { correlationId: null, detail: null } } }],
    ['customers:read on businessEvents: no run (its id included)', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(claims('ws-reader-2', ['customers:read']))}`, `subscription { businessEvents(types: [RUN_STATUS_CHANGED], after: "0-0") { id run { id } } }`), { codes: ['FORBIDDEN'], data: { businessEvents: { run: null } } }],
    ['customers:read on customerEvents: the run events\' detail is removed there too', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(claims('ws-reader-3', ['customers:read']))}`, `subscription($c: ID!) { customerEvents(customerId: $c, after: "0-0") { id type detail } }`, { c: runCustomerId }), { codes: ['FORBIDDEN'] }],
    ['orders:write without ops:read subscribes to a run that does not exist: the same answer', async () => subscribeOnce(system.gateway.url, `Bearer ${await hs256(claims('ws-writer-2', ['customers:read', 'orders:write']))}`, `subscription($r: ID!) { orderToCashRunUpdated(runId: $r) { id } }`, { r: 'run_doesnotexist' }), { codes: ['FORBIDDEN'] }],
  ] as const)('%s', async (_name, send, expected) => {
    const outcome = await send();
    expect(outcome).toMatchObject(expected);
  });

  it.each([
    ['webhook without a signature', () => webhook(event('evt_nosig'), null), 400],
    ['webhook with a forged signature', () => webhook(event('evt_forged'), sign(event('evt_forged'), 'whsec_notTheSecret0000000000')), 400],
    ['webhook signed for another body (tampered)', () => webhook(event('evt_tampered'), sign(event('evt_original'))), 400],
    ['stale webhook (signed an hour ago)', () => {
      const payload = event('evt_stale');
      return webhook(payload, sign(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3600));
    }, 400],
    ['webhook that is not JSON, correctly signed', () => webhook('not json', sign('not json')), 400],
    ['webhook signed with a timestamp a year ahead', () => {
      const payload = event('evt_future_year');
      return webhook(payload, sign(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) + 365 * 86_400));
    }, 400],
    ['webhook signed with a timestamp ten minutes ahead (beyond the two-sided window)', () => {
      const payload = event('evt_future_10m');
      return webhook(payload, sign(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) + 600));
    }, 400],
    ['well-signed event without data: acknowledged (Stripe would retry a 5xx for 3 days)', () => {
      const payload = JSON.stringify({ id: `evt_nodata_${Date.now()}`, object: 'event', type: 'invoice.finalized', created: Math.floor(Date.now() / 1000) });
      return webhook(payload, sign(payload));
    }, 200],
    ['well-signed event for a customer Concord does not know: acknowledged', () => {
      const payload = JSON.stringify({ id: `evt_unknown_${Date.now()}`, object: 'event', type: 'invoice.finalized', created: Math.floor(Date.now() / 1000),
        data: { object: { id: 'in_unknown000000000', object: 'invoice', customer: 'cus_doesnotexist000', status: 'open', metadata: {}, lines: { data: [] } } } });
      return webhook(payload, sign(payload));
    }, 200],
  ] as const)('%s', async (_name, send, status) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(leaks(response.text, [WEBHOOK_SECRET, ...SECRETS])).toEqual([]);
  });

  it('a replayed webhook (the same event delivered twice, as Stripe redelivers) is acknowledged both times', async () => {
    const payload = event(`evt_replay_${Date.now()}`);
    const first = await webhook(payload, sign(payload));
    const second = await webhook(payload, sign(payload));
    expect([first.status, second.status]).toEqual([200, 200]);
  });

  it('still answers a valid subscription afterwards', async () => {
    const outcome = await subscribeOnce(system.gateway.url, `Bearer ${system.token}`, `subscription($r: ID!) { orderToCashRunUpdated(runId: $r) { id } }`, { r: otherRunId });
    expect(outcome).toMatchObject({ codes: [], data: { orderToCashRunUpdated: { id: otherRunId } } });
  });
});
