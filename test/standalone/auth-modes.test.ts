/**
 * Auth modes and subgraph signing of the standalone gateway, through the command's own entry
 * function (runGatewayCli: flags, environment, start-up checks) in process.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { ConfigError, loadConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { decodePrincipal } from '../../core/principal';
import { verifyRequest } from '../../core/signing';
import { runGatewayCli } from '../../gateway/cli';
import { createGateway } from '../../gateway/server';
import type { RunningStandaloneGateway } from '../../gateway/standalone';
import { gql, subscribe, tempDir, wsClient } from './helpers';
import { startTestSubgraphs, type TestSubgraphs } from './subgraphs';

const JWT_SECRET = 'standalone-test-jwt-secret-0123456789';
const SUBGRAPH_SECRET = 'standalone-test-subgraph-secret-0123456789';
const ENV = { NODE_ENV: 'test', CONCORD_JWT_SECRET: JWT_SECRET, CONCORD_RATE_LIMIT_RPS: '0' };

const token = (scopes: string[], subject = 'tester') =>
  new SignJWT({ scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(JWT_SECRET));
const bearer = async (scopes: string[]) => ({ authorization: `Bearer ${await token(scopes)}` });

describe('standalone gateway: auth modes and signing', () => {
  let subgraphs: TestSubgraphs;
  let file: string;
  const started: RunningStandaloneGateway[] = [];
  const lines: string[] = [];

  async function start(args: string[], env: Record<string, string> = {}): Promise<RunningStandaloneGateway> {
    const gateway = await runGatewayCli(['--supergraph', file, '--port', '0', '--no-watch', ...args], { ...ENV, ...env }, (line) => lines.push(line));
    started.push(gateway!);
    return gateway!;
  }

  beforeAll(async () => {
    subgraphs = await startTestSubgraphs();
    file = path.join(tempDir(), 'supergraph.graphql');
    writeFileSync(file, subgraphs.compose(1));
  });
  afterAll(async () => {
    for (const g of started) await g.close();
    await subgraphs?.close();
  });

  describe('required (the default)', () => {
    let gateway: RunningStandaloneGateway;
    beforeAll(async () => {
      gateway = await start([], { CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET });
    });

    it('refuses a request without a token, and a bad token', async () => {
      const none = await gql(gateway.url, '{ users { id } }');
      expect(none.status).toBe(401);
      expect(none.body.errors![0].extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
      const bad = await gql(gateway.url, '{ users { id } }', undefined, { authorization: 'Bearer not.a.token' });
      expect(bad.status).toBe(401);
    });

    it('applies scopes from the supergraph: a field the token may not see is FORBIDDEN, the rest answered', async () => {
      const { status, body } = await gql(gateway.url, '{ users { username email } }', undefined, await bearer([]));
      expect(status).toBe(200);
      expect(body.data).toEqual({ users: [{ username: 'ada' }, { username: 'alan' }] });
      expect(body.errors).toEqual([expect.objectContaining({ path: ['users', 'email'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
      const allowed = await gql(gateway.url, '{ users { email } }', undefined, await bearer(['users:read']));
      expect(allowed.body).toEqual({ data: { users: [{ email: 'ada@example.com' }, { email: 'alan@example.com' }] } });
    });

    it('signs every subgraph request with the principal, as Concord subgraphs verify it', async () => {
      const before = subgraphs.accounts.seen.length;
      await gql(gateway.url, '{ users { id } }', undefined, await bearer(['users:read']));
      const request = subgraphs.accounts.seen.slice(before).find((r) => r.kind === 'http')!;
      const principal = request.headers['x-concord-principal'] as string;
      expect(decodePrincipal(principal)).toMatchObject({ subject: 'tester', scopes: new Set(['users:read']) });
      const signed = { method: 'POST', path: new URL(subgraphs.accounts.url).pathname, subgraph: 'accounts', body: request.body, principal };
      expect(verifyRequest(SUBGRAPH_SECRET, signed, request.headers['x-concord-signature'] as string)).toBe('ok');
      expect(verifyRequest('another-secret-0123456789-0123456789', signed, request.headers['x-concord-signature'] as string)).toBe('bad-mac');
      // Bound to its subgraph: the same signature is no good for another one.
      expect(verifyRequest(SUBGRAPH_SECRET, { ...signed, subgraph: 'reviews' }, request.headers['x-concord-signature'] as string)).toBe('bad-mac');
    });

    it('refuses a subscription connection without a token; with one, signs the upstream upgrade', async () => {
      const anonymous = wsClient(gateway.url);
      const refused = subscribe(anonymous, 'subscription { reviewAdded { id } }');
      expect(await refused.failed()).toMatchObject({ code: 4403 });
      await anonymous.dispose();

      const before = subgraphs.reviews.seen.length;
      const client = wsClient(gateway.url, await bearer([]));
      const sub = subscribe(client, 'subscription { reviewAdded { id body } }');
      await waitFor(() => subgraphs.reviews.seen.slice(before).some((r) => r.kind === 'ws'));
      const upgrade = subgraphs.reviews.seen.slice(before).find((r) => r.kind === 'ws')!;
      const principal = upgrade.headers['x-concord-principal'] as string;
      expect(decodePrincipal(principal)?.subject).toBe('tester');
      const upgradeSigned = { method: 'GET', path: new URL(subgraphs.reviews.url).pathname, subgraph: 'reviews', body: '', principal };
      expect(verifyRequest(SUBGRAPH_SECRET, upgradeSigned, upgrade.headers['x-concord-signature'] as string)).toBe('ok');
      // What the reviews subgraph received opens nothing elsewhere: not another subgraph, not a POST.
      expect(verifyRequest(SUBGRAPH_SECRET, { ...upgradeSigned, subgraph: 'accounts', path: new URL(subgraphs.accounts.url).pathname }, upgrade.headers['x-concord-signature'] as string)).toBe('bad-mac');
      expect(verifyRequest(SUBGRAPH_SECRET, { ...upgradeSigned, method: 'POST' }, upgrade.headers['x-concord-signature'] as string)).toBe('bad-mac');
      expect(JSON.parse(upgrade.body)).toEqual({ headers: expect.objectContaining({ 'x-concord-signature': upgrade.headers['x-concord-signature'] }) });
      sub.stop();
      await client.dispose();
    });
  });

  describe('optional', () => {
    let gateway: RunningStandaloneGateway;
    beforeAll(async () => {
      gateway = await start(['--auth', 'optional', '--no-signing']);
    });

    it('serves anonymous callers the fields without an auth directive only', async () => {
      const open = await gql(gateway.url, '{ users { id username } topProducts(first: 1) { name } }');
      expect(open).toEqual({ status: 200, body: { data: { users: [{ id: 'u1', username: 'ada' }, { id: 'u2', username: 'alan' }], topProducts: [{ name: 'Sketch of the Analytical Engine' }] } } });

      const partly = await gql(gateway.url, '{ users { username email } me { id } }');
      expect(partly.status).toBe(200);
      expect(partly.body.data).toEqual({ users: [{ username: 'ada' }, { username: 'alan' }] });
      expect(partly.body.errors!.map((e) => [e.path, e.extensions!.code])).toEqual([
        [['users', 'email'], 'FORBIDDEN'],
        [['me'], 'FORBIDDEN'],
      ]);

      const nothingLeft = await gql(gateway.url, '{ me { name } }');
      expect(nothingLeft.status).toBe(403);
    });

    it('verifies a token when one is sent, and then applies its scopes', async () => {
      expect((await gql(gateway.url, '{ users { id } }', undefined, { authorization: 'Bearer forged.token.here' })).status).toBe(401);
      expect((await gql(gateway.url, '{ users { id } }', undefined, { authorization: 'Basic dXNlcjpwYXNz' })).status).toBe(401);
      const scoped = await gql(gateway.url, '{ me { username email } }', undefined, await bearer(['users:read']));
      expect(scoped.body).toEqual({ data: { me: { username: 'ada', email: 'ada@example.com' } } });
    });

    it('sends no signature when signing is off, and no principal for an anonymous caller', async () => {
      const before = subgraphs.accounts.seen.length;
      await gql(gateway.url, '{ users { id } }');
      const request = subgraphs.accounts.seen.slice(before).find((r) => r.kind === 'http')!;
      expect(request.headers['x-concord-signature']).toBeUndefined();
      expect(request.headers['x-concord-principal']).toBeUndefined();
      expect(request.headers['x-correlation-id']).toEqual(expect.any(String));
    });

    it('takes anonymous subscriptions, with the same field rules', async () => {
      const client = wsClient(gateway.url);
      const sub = subscribe(client, 'subscription { reviewAdded(upc: "f1") { body author { username email } } }');
      await waitFor(() => subgraphs.reviews.openSubscriptions() >= 1);
      await gql(gateway.url, 'mutation { addReview(upc: "f1", body: "Solid oak.", rating: 5) { id } }');
      const [payload] = await sub.received(1);
      expect(payload.data).toEqual({ reviewAdded: { body: 'Solid oak.', author: { username: 'ada' } } });
      expect(payload.errors).toEqual([expect.objectContaining({ path: ['reviewAdded', 'author', 'email'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
      sub.stop();
      await client.dispose();
    });
  });

  describe('off', () => {
    it('serves every field to anyone, warning loudly', async () => {
      const gateway = await start(['--auth', 'off', '--no-signing']);
      expect(lines.some((l) => /^!! AUTH IS OFF/.test(l))).toBe(true);
      const { body } = await gql(gateway.url, '{ me { email } users { email } }');
      expect(body).toEqual({ data: { me: { email: 'ada@example.com' }, users: [{ email: 'ada@example.com' }, { email: 'alan@example.com' }] } });
    });

    it('is refused in production, by flag, by environment and by the gateway itself', async () => {
      const production = { NODE_ENV: 'production', LOG_LEVEL: 'silent', CONCORD_JWT_ISSUER: 'https://idp.example', CONCORD_JWT_AUDIENCE: 'concord', CONCORD_JWT_SECRET: JWT_SECRET, CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET };
      await expect(runGatewayCli(['--supergraph', file, '--auth', 'off'], production, () => undefined)).rejects.toThrow(/--auth off is for local development only/);
      expect(() => loadConfig({ ...production, CONCORD_AUTH: 'off' })).toThrow(ConfigError);
      expect(() => loadConfig({ ...ENV, CONCORD_AUTH: 'sometimes' })).toThrow(/CONCORD_AUTH must be required, optional or off/);
      expect(() =>
        createGateway({ supergraphSdl: subgraphs.compose(1), subgraphSecret: null, jwtSecret: null, logger: createLogger({ level: 'silent' }), production: true, auth: 'off' }),
      ).toThrow(/refused in production/);
    });
  });

  it('in production, refuses to sign with a secret the subgraphs cannot know', async () => {
    const production = { NODE_ENV: 'production', LOG_LEVEL: 'silent', CONCORD_JWT_ISSUER: 'https://idp.example', CONCORD_JWT_AUDIENCE: 'concord', CONCORD_JWT_SECRET: JWT_SECRET };
    await expect(runGatewayCli(['--supergraph', file], production, () => undefined)).rejects.toThrow(/set CONCORD_SUBGRAPH_SECRET .* or turn signing off with --no-signing/);
    const gateway = await runGatewayCli(['--supergraph', file, '--port', '0', '--no-watch', '--no-signing'], production, () => undefined);
    started.push(gateway!);
    expect((await gql(gateway!.url, '{ users { id } }')).status).toBe(401);
  });

  it('fails to start with the reason when the file is not a supergraph', async () => {
    const bad = path.join(tempDir(), 'subgraph.graphql');
    writeFileSync(bad, 'type Query { hello: String }');
    await expect(runGatewayCli(['--supergraph', bad, '--port', '0'], ENV, () => undefined)).rejects.toThrow(/cannot be served: it does not link the join spec/);
    await expect(runGatewayCli(['--supergraph', `${bad}.missing`, '--port', '0'], ENV, () => undefined)).rejects.toThrow(/does not exist/);
  });

  it('is not ready while a subgraph is down, and healthy all the same', async () => {
    const gateway = await start(['--auth', 'off', '--no-signing']);
    expect((await fetch(`${gateway.url}/ready`)).status).toBe(200);
    await subgraphs.products.close();
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, subgraphs: { accounts: 'up', products: expect.stringMatching(/^down/), reviews: 'up' } });
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
