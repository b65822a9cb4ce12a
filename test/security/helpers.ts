/**
 * Helpers of the security tests: tokens good and bad, a JWKS endpoint of our own, and raw HTTP
 * requests (for bodies and headers a GraphQL client would never send).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, type KeyLike } from 'jose';
import { SCOPES } from '../../gateway/token';
import { TEST_JWT_SECRET } from '../helpers/system';

export const ALL_SCOPES = [...SCOPES];
const encoder = new TextEncoder();

export interface Claims {
  sub?: string;
  scope?: string;
  customer_id?: unknown;
  exp?: number;
  nbf?: number;
  [claim: string]: unknown;
}

const now = () => Math.floor(Date.now() / 1000);

/** Claims of a valid token: an hour left, the given scopes. */
export function claims(sub: string, scopes: readonly string[] = ALL_SCOPES, extra: Claims = {}): Claims {
  return { sub, scope: scopes.join(' '), exp: now() + 3600, iat: now(), ...extra };
}

/** HS256 with any secret (the test secret by default) and any claims, missing ones included. */
export async function hs256(payload: Claims, secret: string = TEST_JWT_SECRET, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload as Record<string, unknown>).setProtectedHeader({ alg, typ: 'JWT' }).sign(encoder.encode(secret));
}

/** A token with `alg: none` (no signature at all). */
export function unsigned(payload: Claims): string {
  return new UnsecuredJWT(payload as Record<string, unknown>).encode();
}

export const expiredClaims = (sub: string) => claims(sub, ALL_SCOPES, { exp: now() - 600, iat: now() - 4200 });
export const notYetValidClaims = (sub: string) => claims(sub, ALL_SCOPES, { nbf: now() + 600 });

export interface TestIdentityProvider {
  /** JWKS URL for CONCORD_JWKS_URL. */
  url: string;
  /** RS256 token signed by the provider's key. */
  rs256(payload: Claims): Promise<string>;
  /** ES256 token signed by the provider's key. */
  es256(payload: Claims): Promise<string>;
  /** RS256 token signed by a key the provider does not publish (same kid). */
  rs256Rogue(payload: Claims): Promise<string>;
  /** The provider's RSA public key as PEM (for the HS256-with-public-key confusion attack). */
  publicKeyPem: string;
  requests(): number;
  close(): Promise<void>;
}

/** An identity provider of our own: a JWKS endpoint with one RSA and one EC key. */
export async function startIdentityProvider(): Promise<TestIdentityProvider> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const rogue = await generateKeyPair('RS256', { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ];
  let served = 0;
  const server = http.createServer((req, res) => {
    served += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  const sign = (key: KeyLike, alg: string, kid: string) => (payload: Claims) =>
    new SignJWT(payload as Record<string, unknown>).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
  return {
    url,
    rs256: sign(rsa.privateKey, 'RS256', 'rsa-1'),
    es256: sign(ec.privateKey, 'ES256', 'ec-1'),
    rs256Rogue: sign(rogue.privateKey, 'RS256', 'rsa-1'),
    publicKeyPem: await exportSPKI(rsa.publicKey),
    requests: () => served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any;
}

/** Any request to any URL; the body as given (string or buffer), nothing added but what is asked. */
export async function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  const response = await fetch(url, { method: init.method ?? 'POST', headers: init.headers, body: init.body as string | undefined });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** POST a GraphQL request with a bearer token (or none). */
export function post(gatewayUrl: string, token: string | null, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(`${gatewayUrl}/graphql`, {
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The codes of a GraphQL answer's errors. */
export const codes = (response: RawResponse): string[] => (response.json?.errors ?? []).map((e: any) => e.extensions?.code);

/** Strings that must never reach a client. */
export function leaks(text: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) if (secret && text.includes(secret)) found.push(`secret ${secret.slice(0, 6)}...`);
  if (/\bat [\w$.<>]+ \(?(?:\/|node:|file:)/.test(text)) found.push('stack frame');
  if (/"stack"\s*:/.test(text) || /stacktrace/i.test(text)) found.push('stack field');
  if (/node_modules/.test(text)) found.push('file path');
  return found;
}
