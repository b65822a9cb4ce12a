/**
 * Bearer tokens (docs/api.md "Tokens"): minting HS256 dev tokens with CONCORD_JWT_SECRET.
 * Claims: sub, exp, scope (space-separated), optional customer_id (a portal token).
 * Verification (HS256 and RS256/ES256 through a JWKS) lives in gateway/auth.ts.
 */
import { SignJWT } from 'jose';
import { ConcordError } from '../core/errors';
import type { Principal } from '../core/principal';
import { bearerToken, createAuthenticator } from './auth';

export type { Principal } from '../core/principal';
export { bearerToken };

export const SCOPES = ['customers:read', 'billing:read', 'erp:read', 'orders:write', 'ops:read', 'ops:write'] as const;
export type Scope = (typeof SCOPES)[number];

export interface MintOptions {
  secret: string;
  subject: string;
  scopes: readonly string[];
  customerId?: string | null;
  /** Lifetime like '1h', '30m', '12h' (at most the gateway's maximum, 24 h by default). Default '1h'. */
  ttl?: string;
  /** `iss` claim (CONCORD_JWT_ISSUER). Default: none. */
  issuer?: string | null;
  /** `aud` claim (CONCORD_JWT_AUDIENCE). Default: none. */
  audience?: string | null;
}

const encoder = new TextEncoder();

export async function mintToken(options: MintOptions): Promise<string> {
  const { secret, subject, scopes, customerId = null, ttl = '1h', issuer = null, audience = null } = options;
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new ConcordError('BAD_USER_INPUT', `unknown scopes: ${unknown.join(', ')}`);
  const claims: Record<string, unknown> = { scope: scopes.join(' ') };
  if (customerId) claims.customer_id = customerId;
  const jwt = new SignJWT(claims);
  if (issuer) jwt.setIssuer(issuer);
  if (audience) jwt.setAudience(audience);
  return jwt
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(encoder.encode(secret));
}

/** Verify an HS256 bearer token; any failure is UNAUTHENTICATED with a reason that reveals nothing secret. */
export async function verifyToken(token: string, secret: string): Promise<Principal> {
  return createAuthenticator({ hs256Secret: secret }).verify(token);
}
