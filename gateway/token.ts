/**
 * Bearer tokens (shared/API.md "Tokens"): HS256 with CONCORD_JWT_SECRET, verified with jose.
 * Claims: sub, exp, scope (space-separated), optional customer_id (a portal token).
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { ConcordError } from '../core/errors';

export const SCOPES = ['customers:read', 'billing:read', 'erp:read', 'orders:write', 'ops:read', 'ops:write'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  subject: string;
  scopes: Set<string>;
  /** Set for a portal token: the one customer it may read and act on. */
  customerId: string | null;
}

export interface MintOptions {
  secret: string;
  subject: string;
  scopes: readonly string[];
  customerId?: string | null;
  /** Lifetime like '1h', '30m', '7d'. Default '1h'. */
  ttl?: string;
}

const encoder = new TextEncoder();

export async function mintToken(options: MintOptions): Promise<string> {
  const { secret, subject, scopes, customerId = null, ttl = '1h' } = options;
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new ConcordError('BAD_USER_INPUT', `unknown scopes: ${unknown.join(', ')}`);
  const claims: Record<string, unknown> = { scope: scopes.join(' ') };
  if (customerId) claims.customer_id = customerId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(encoder.encode(secret));
}

/** Verify a bearer token; any failure is UNAUTHENTICATED with a reason that reveals nothing secret. */
export async function verifyToken(token: string, secret: string): Promise<Principal> {
  try {
    const { payload } = await jwtVerify(token, encoder.encode(secret), { algorithms: ['HS256'] });
    if (typeof payload.sub !== 'string' || payload.exp === undefined) {
      throw new ConcordError('UNAUTHENTICATED', 'token must carry sub and exp');
    }
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    const customerId = typeof payload.customer_id === 'string' ? payload.customer_id : null;
    return { subject: payload.sub, scopes: new Set(scope.split(' ').filter(Boolean)), customerId };
  } catch (error) {
    if (error instanceof ConcordError) throw error;
    const reason = error instanceof joseErrors.JWTExpired ? 'token expired' : 'invalid token';
    throw new ConcordError('UNAUTHENTICATED', reason);
  }
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1] : null;
}
