/**
 * Authentication and the gateway-to-subgraph trust, piece by piece: the authenticator (HS256, JWKS
 * RS256/ES256, claims), the signed principal header, the configuration rules, log redaction.
 */
import { Writable } from 'node:stream';
import { ConfigError, DEV_JWT_SECRET, loadConfig } from '../../core/config';
import { createLogger, scrub } from '../../core/log';
import { canSeeCustomer, decodePrincipal, encodePrincipal, type Principal } from '../../core/principal';
import { NonceWindow, signRequest, verifyRequest, type SignedRequest } from '../../core/signing';
import { hs256SecretOf } from '../../gateway/auth-options';
import { bearerToken, createAuthenticator } from '../../gateway/auth';
import { TEST_JWT_SECRET } from '../helpers/system';
import { claims, expiredClaims, hs256, startIdentityProvider, unsigned, type TestIdentityProvider } from './helpers';

describe('authenticator', () => {
  let idp: TestIdentityProvider;
  beforeAll(async () => {
    idp = await startIdentityProvider();
  });
  afterAll(() => idp.close());

  const both = () => createAuthenticator({ hs256Secret: TEST_JWT_SECRET, jwksUrl: idp.url });

  it('turns a valid token into a principal', async () => {
    const principal = await both().authenticate(`Bearer ${await hs256(claims('ana', ['customers:read', 'billing:read'], { customer_id: '001Dn0000000001IAA' }))}`);
    expect(principal).toEqual({ subject: 'ana', scopes: new Set(['customers:read', 'billing:read']), customerId: '001Dn0000000001IAA' });
  });

  it('verifies RS256 and ES256 with the JWKS, fetching it once', async () => {
    const auth = both();
    const before = idp.requests();
    expect((await auth.verify(await idp.rs256(claims('rsa')))).subject).toBe('rsa');
    expect((await auth.verify(await idp.es256(claims('ec')))).subject).toBe('ec');
    expect((await auth.verify(await idp.rs256(claims('rsa-again')))).subject).toBe('rsa-again');
    expect(idp.requests() - before).toBe(1);
  });

  it('reads scopes from `scp` as some identity providers send them', async () => {
    const principal = await both().verify(await idp.rs256({ sub: 'okta-user', scp: ['customers:read', 'erp:read'], exp: Math.floor(Date.now() / 1000) + 60 }));
    expect([...principal.scopes]).toEqual(['customers:read', 'erp:read']);
  });

  it.each([
    ['expired', () => hs256(expiredClaims('x')), /expired/],
    ['alg none', async () => unsigned(claims('x')), /not accepted/],
    ['HS256 when only a JWKS is configured', () => hs256(claims('x')), /not accepted/],
  ])('refuses %s', async (_name, make, message) => {
    const auth = _name.startsWith('HS256') ? createAuthenticator({ hs256Secret: null, jwksUrl: idp.url }) : both();
    await expect(auth.verify(await make())).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(message) });
  });

  it('checks issuer and audience when configured', async () => {
    const auth = createAuthenticator({ hs256Secret: TEST_JWT_SECRET, issuer: 'https://id.example', audience: 'concord' });
    await expect(auth.verify(await hs256(claims('x')))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth.verify(await hs256(claims('x', undefined, { iss: 'https://id.example', aud: 'other' })))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await auth.verify(await hs256(claims('x', undefined, { iss: 'https://id.example', aud: 'concord' })))).subject).toBe('x');
  });

  it('says the identity provider is unavailable (503 at the gateway) rather than blaming the token', async () => {
    const auth = createAuthenticator({ hs256Secret: null, jwksUrl: 'http://127.0.0.1:9/jwks.json', jwksTimeoutMs: 500 });
    await expect(auth.verify(await idp.rs256(claims('x')))).rejects.toMatchObject({ code: 'INTERNAL', retryable: true });
  });

  it('parses only well-formed bearer headers', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe('signed principal between gateway and subgraphs', () => {
  const secret = 'a-subgraph-secret-of-at-least-32-chars';
  const portal: Principal = { subject: 'p', scopes: new Set(['customers:read']), customerId: '001A' };
  const body = '{"query":"{ x }"}';

  it('round-trips the principal and signs it with method, path, subgraph, body, time and nonce', () => {
    const header = encodePrincipal(portal);
    expect(decodePrincipal(header)).toEqual(portal);
    const request: SignedRequest = { method: 'POST', path: '/graphql', subgraph: 'crm', body, principal: header };
    const signature = signRequest(secret, request);
    expect(verifyRequest(secret, request, signature)).toBe('ok');
    expect(verifyRequest(secret, { ...request, principal: encodePrincipal({ ...portal, customerId: null }) }, signature)).toBe('bad-mac');
    expect(verifyRequest(secret, { ...request, principal: undefined }, signature)).toBe('bad-mac');
    expect(verifyRequest(secret, { ...request, body: `${body} ` }, signature)).toBe('bad-mac');
    expect(verifyRequest(secret, { ...request, subgraph: 'billing' }, signature)).toBe('bad-mac');
    expect(verifyRequest(secret, { ...request, method: 'GET' }, signature)).toBe('bad-mac');
    expect(verifyRequest(secret, { ...request, path: '/other' }, signature)).toBe('bad-mac');
    expect(verifyRequest(secret, request, signRequest(secret, request, Date.now() - 60_000))).toBe('stale');
    expect(verifyRequest(secret, request, signRequest(secret, request, Date.now() + 60_000))).toBe('stale');
    const nonces = new NonceWindow();
    expect(verifyRequest(secret, request, signature, { nonces })).toBe('ok');
    expect(verifyRequest(secret, request, signature, { nonces })).toBe('replayed');
  });

  it('keeps a bounded nonce window that refuses rather than forgets', () => {
    const nonces = new NonceWindow(2);
    const now = Date.now();
    expect(nonces.admit('a', now + 1000, now)).toBe('ok');
    expect(nonces.admit('b', now + 1000, now)).toBe('ok');
    expect(nonces.admit('c', now + 1000, now)).toBe('window-full');
    expect(nonces.admit('c', now + 3000, now + 2000)).toBe('ok'); // a and b expired
    expect(nonces.size).toBe(1);
  });

  it('refuses malformed principal headers (fail closed)', () => {
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    expect(decodePrincipal(encode({ sub: 'x', scope: 'a' }))).toBeNull(); // customer_id missing: not "no restriction"
    expect(decodePrincipal(encode({ sub: 'x', scope: 'a', customer_id: '' }))).toBeNull();
    expect(decodePrincipal(encode({ sub: 'x', scope: 'a', customer_id: 7 }))).toBeNull();
    expect(decodePrincipal('not base64 !')).toBeNull();
    expect(decodePrincipal(undefined)).toBeNull();
  });

  it('lets a portal see its own customer only', () => {
    expect(canSeeCustomer(portal, '001A')).toBe(true);
    expect(canSeeCustomer(portal, '001B')).toBe(false);
    expect(canSeeCustomer(portal, null)).toBe(false);
    expect(canSeeCustomer({ ...portal, customerId: null }, '001B')).toBe(true);
  });
});

/** The issuer and audience production requires. */
const ISS_AUD = { CONCORD_JWT_ISSUER: 'https://idp.example', CONCORD_JWT_AUDIENCE: 'concord' };

describe('configuration rules', () => {
  it('refuses to start in production without a required issuer and audience', () => {
    const base = { NODE_ENV: 'production', CONCORD_JWT_SECRET: TEST_JWT_SECRET };
    // 'gateway': the token rules alone (an API process also names its vendors and subgraph secret).
    expect(() => loadConfig(base, 'gateway')).toThrow(/CONCORD_JWT_ISSUER, CONCORD_JWT_AUDIENCE/);
    expect(() => loadConfig({ ...base, CONCORD_JWT_ISSUER: 'https://idp.example' }, 'gateway')).toThrow(/CONCORD_JWT_AUDIENCE/);
    expect(loadConfig({ ...base, ...ISS_AUD }, 'gateway').security).toMatchObject({ jwtIssuer: 'https://idp.example', jwtAudience: 'concord', jwtMaxLifetimeSeconds: 86_400 });
  });

  it('refuses a token lifetime (or any other security floor) below its minimum instead of raising it', () => {
    expect(() => loadConfig({ CONCORD_JWT_MAX_LIFETIME_S: '30' })).toThrow(/CONCORD_JWT_MAX_LIFETIME_S must be at least 60, got "30"/);
    expect(() => loadConfig({ CONCORD_JWT_MAX_LIFETIME_S: '0' })).toThrow(ConfigError);
    expect(loadConfig({ CONCORD_JWT_MAX_LIFETIME_S: '60' }).security.jwtMaxLifetimeSeconds).toBe(60);
    expect(() => loadConfig({ CONCORD_MAX_STRING_LENGTH: '10' })).toThrow(/CONCORD_MAX_STRING_LENGTH must be at least 100/);
    expect(() => loadConfig({ CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT: '0' })).toThrow(/at least 1/);
  });

  it('refuses to start in production without a secret or JWKS, with the dev secret, or with a JWKS over http', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    // 'gateway': the token rules alone (an API process also needs its vendors and subgraph secret: test/integration/production-mode).
    expect(() => loadConfig({ NODE_ENV: 'production' }, 'gateway')).toThrow(/CONCORD_JWT_SECRET or CONCORD_JWKS_URL/);
    expect(() => loadConfig({ NODE_ENV: 'production', ...ISS_AUD, CONCORD_JWT_SECRET: DEV_JWT_SECRET }, 'gateway')).toThrow(/dev secret/);
    expect(() => loadConfig({ NODE_ENV: 'production', ...ISS_AUD, CONCORD_JWKS_URL: 'http://idp.example/jwks' }, 'gateway')).toThrow(/https/);
    expect(() => loadConfig({ CONCORD_SUBGRAPH_SECRET: 'short' })).toThrow(/32/);
  });

  it('never verifies HS256 with the public dev secret in production or next to a JWKS', () => {
    expect(hs256SecretOf(loadConfig({ NODE_ENV: 'production', ...ISS_AUD, CONCORD_JWKS_URL: 'https://idp.example/jwks' }, 'gateway'))).toBeNull();
    expect(hs256SecretOf(loadConfig({ CONCORD_JWKS_URL: 'https://idp.example/jwks' }))).toBeNull();
    expect(hs256SecretOf(loadConfig({}))).toBe(DEV_JWT_SECRET);
    expect(hs256SecretOf(loadConfig({ CONCORD_JWT_SECRET: TEST_JWT_SECRET, CONCORD_JWKS_URL: 'https://idp.example/jwks' }))).toBe(TEST_JWT_SECRET);
  });

  it('reads the limits with documented defaults', () => {
    expect(loadConfig({}).security).toMatchObject({
      maxDepth: 12,
      maxAliases: 30,
      maxCost: 300_000,
      defaultListSize: 10,
      maxTokens: 5000,
      maxBodyBytes: 1024 * 1024,
      requestTimeoutMs: 30_000,
      rateLimitPerSecond: 50,
      rateLimitBurst: 100,
      safelistDir: null,
      apq: true,
    });
  });
});

describe('log hygiene', () => {
  it('redacts tokens, secrets, card and bank data in fields, messages and errors', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl';
    logger.info({ headers: { authorization: `Bearer ${jwt}` }, config: { subgraphSecret: 's3cr3t-value' }, charge: { card: { number: '4242424242424242' } } }, `calling with ${jwt}`);
    logger.error({ err: new Error(`Stripe said: sk_live_abcdefghijklmnop and card 4000 0566 5566 5556 and iban DE89 3704 0044 0532 0130 00`) }, 'vendor failed');
    logger.info({ note: 'invoice in_123 for 001Dn0000000001IAA, order 1234' }, 'ids stay');
    const out = lines.join('\n');
    for (const secret of [jwt, 's3cr3t-value', '4242424242424242', 'sk_live_abcdefghijklmnop', '4000 0566 5566 5556', 'DE89 3704 0044 0532 0130 00']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('in_123 for 001Dn0000000001IAA, order 1234');
    expect(scrub('Bearer abcdefghijkl')).toBe('Bearer [redacted]');
    // Chargebee API keys (test_/live_ and a long random part); Concord's own short names stay.
    expect(scrub('Chargebee key live_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6 refused')).toBe('Chargebee key [redacted-key] refused');
    expect(scrub('site concord-test, test_concord_simulator_key')).toBe('site concord-test, test_concord_simulator_key');
  });
});
