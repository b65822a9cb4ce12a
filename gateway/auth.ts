/**
 * Authentication at the gateway: bearer JWTs verified with jose, HS256 with CONCORD_JWT_SECRET and
 * RS256/ES256 with the keys of CONCORD_JWKS_URL (a production identity provider).
 *
 * The verification key is chosen by the token's `alg`, and each key only ever verifies the
 * algorithms it is for: the HMAC secret verifies HS256 only, the JWKS verifies RS256/ES256 only.
 * That closes the classic confusions: `alg: none` (never in any allowlist), an RS256 public key used
 * as an HMAC secret (the secret path accepts HS256 with the secret alone), and an HS256 token when
 * only a JWKS is configured (no HMAC key at all). `exp` is required, `nbf` and `exp` are checked by
 * jose with a small clock tolerance, `sub` is required, and a malformed `customer_id` (null, empty,
 * not a string) rejects the token rather than turning a portal token into an unrestricted one.
 *
 * Lifetime: a token may not live longer than maxLifetimeSeconds (default 24 h), counted from `iat`
 * when present and from now in any case (so `exp: 1e300` is refused, with or without `iat`), and an
 * `iat` or `nbf` further in the future than the clock tolerance is refused (a token minted "later"
 * is a token minted by a clock or a party we should not trust).
 *
 * Every failure is UNAUTHENTICATED (401) with a short reason that reveals nothing secret; only an
 * unreachable identity provider is a 503 (the client's token may be fine).
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConcordError } from '../core/errors';
import type { Principal } from '../core/principal';

export type { Principal } from '../core/principal';

/** Asymmetric algorithms accepted through the JWKS (docs/api.md "Tokens": RS256/ES256). */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'] as const;

export interface AuthenticatorOptions {
  /** HS256 secret. Null = HS256 tokens are refused (production behind an identity provider). */
  hs256Secret: string | null;
  /** JWKS endpoint for RS256/ES256 tokens. Default: none (asymmetric tokens are refused). */
  jwksUrl?: string | null;
  /** Key source for RS256/ES256 instead of a URL (tests, or keys fetched another way). Default: from jwksUrl. */
  jwks?: JWTVerifyGetKey;
  /** Required `iss`, when set. Default: not checked. */
  issuer?: string | null;
  /** Required `aud`, when set. Default: not checked. */
  audience?: string | null;
  /** Leeway for exp/nbf/iat against clock skew, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Longest lifetime a token may have (exp - iat, and exp - now), in seconds. Default 86400 (24 h). */
  maxLifetimeSeconds?: number;
  /** How long fetched JWKS keys are trusted before a refetch, in ms. Default 10 minutes. */
  jwksCacheMaxAgeMs?: number;
  /** JWKS fetch timeout in ms. Default 5000. */
  jwksTimeoutMs?: number;
}

export interface Authenticator {
  /** Verify the value of an Authorization header (or a bare token); the principal or a ConcordError. */
  authenticate(authorization: string | undefined | null): Promise<Principal>;
  /** Verify a bare token. */
  verify(token: string): Promise<Principal>;
}

const encoder = new TextEncoder();

/** Bearer token of an Authorization header; null when absent or not a bearer token. */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

/** Scopes from `scope` (RFC 8693, space-separated) or, from providers that use it, `scp` (list or string). */
function scopesOf(payload: JWTPayload): Set<string> {
  const raw = payload.scope ?? payload.scp;
  const list = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw.filter((s): s is string => typeof s === 'string') : [];
  return new Set(list.filter(Boolean));
}

/** What the lifetime rules need: the longest lifetime and the clock tolerance, in seconds. */
export interface LifetimeRules {
  maxLifetimeSeconds: number;
  clockToleranceSeconds: number;
}

/** Refuse a token that lives too long or claims to be issued in the future (see the header). */
function checkLifetime(payload: JWTPayload, rules: LifetimeRules, nowSeconds: number): void {
  const { maxLifetimeSeconds: max, clockToleranceSeconds: skew } = rules;
  const exp = payload.exp as number;
  if (payload.iat !== undefined) {
    if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) throw new ConcordError('UNAUTHENTICATED', 'token claim iat is not acceptable');
    if (payload.iat > nowSeconds + skew) throw new ConcordError('UNAUTHENTICATED', 'token claim iat is in the future');
    if (exp - payload.iat > max) throw new ConcordError('UNAUTHENTICATED', `token lifetime is longer than ${max} s`);
  }
  if (payload.nbf !== undefined && typeof payload.nbf === 'number' && payload.nbf > nowSeconds + skew) {
    throw new ConcordError('UNAUTHENTICATED', 'token claim nbf is in the future');
  }
  if (!Number.isFinite(exp) || exp > nowSeconds + max + skew) throw new ConcordError('UNAUTHENTICATED', `token lifetime is longer than ${max} s`);
}

/** The principal of a verified payload, or UNAUTHENTICATED when a claim is missing or malformed. */
export function principalOf(payload: JWTPayload, rules?: LifetimeRules): Principal {
  if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.exp !== 'number') {
    throw new ConcordError('UNAUTHENTICATED', 'token must carry sub and exp');
  }
  if (rules) checkLifetime(payload, rules, Math.floor(Date.now() / 1000));
  const claim = payload.customer_id;
  if (claim !== undefined && (typeof claim !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(claim))) {
    // Fail closed: a portal claim we cannot read must not become "no restriction".
    throw new ConcordError('UNAUTHENTICATED', 'token customer_id is malformed');
  }
  return { subject: payload.sub, scopes: scopesOf(payload), customerId: typeof claim === 'string' ? claim : null };
}

/** Network failures and timeouts of the JWKS fetch (by code: errors from Node's http may come from another realm). */
function identityProviderDown(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout) return true;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH|ERR_JWKS_TIMEOUT)$/.test(code)) return true;
  // jose: the JWKS endpoint answered, but not with 200.
  return typeof message === 'string' && /Expected 200 OK from the JSON Web Key Set/i.test(message);
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const {
    hs256Secret,
    jwksUrl = null,
    issuer = null,
    audience = null,
    clockToleranceSeconds = 5,
    maxLifetimeSeconds = 86_400,
    jwksCacheMaxAgeMs = 10 * 60_000,
    jwksTimeoutMs = 5000,
  } = options;
  const secretKey = hs256Secret ? encoder.encode(hs256Secret) : null;
  const jwks =
    options.jwks ?? (jwksUrl ? createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: jwksCacheMaxAgeMs, timeoutDuration: jwksTimeoutMs }) : null);
  const claims = {
    clockTolerance: clockToleranceSeconds,
    requiredClaims: ['exp', 'sub'],
    ...(issuer ? { issuer } : {}),
    ...(audience ? { audience } : {}),
  };

  /**
   * Tokens already verified, until their `exp` (a client sends the same token on every request;
   * verifying it costs an HMAC or a signature check each time). Only successes are kept; past `exp`
   * a token is verified again, so expiry and its clock tolerance answer as before. A JWKS-verified
   * token is kept no longer than the JWKS keys themselves are (jwksCacheMaxAgeMs): a key withdrawn
   * from the identity provider stops counting within the same time as without this cache.
   */
  const verified = new Map<string, { principal: Principal; until: number }>();
  const MAX_VERIFIED = 10_000;
  function remember(token: string, payload: JWTPayload, maxAgeMs: number): Principal {
    const principal = principalOf(payload, { maxLifetimeSeconds, clockToleranceSeconds });
    const until = Math.min((payload.exp as number) * 1000, Date.now() + maxAgeMs);
    if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!);
    verified.set(token, { principal, until });
    return principal;
  }

  async function verify(token: string): Promise<Principal> {
    const known = verified.get(token);
    if (known) {
      if (Date.now() < known.until) return known.principal;
      verified.delete(token);
    }
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new ConcordError('UNAUTHENTICATED', 'invalid token');
    }
    try {
      if (alg === 'HS256' && secretKey) {
        return remember(token, (await jwtVerify(token, secretKey, { ...claims, algorithms: ['HS256'] })).payload, Infinity);
      }
      if (jwks && (JWKS_ALGORITHMS as readonly string[]).includes(alg ?? '')) {
        return remember(token, (await jwtVerify(token, jwks, { ...claims, algorithms: [...JWKS_ALGORITHMS] })).payload, jwksCacheMaxAgeMs);
      }
    } catch (error) {
      if (error instanceof ConcordError) throw error;
      if (identityProviderDown(error)) {
        throw new ConcordError('INTERNAL', 'the identity provider keys are unavailable; try again', { retryable: true, status: 503 });
      }
      if (error instanceof joseErrors.JWTExpired) throw new ConcordError('UNAUTHENTICATED', 'token expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw new ConcordError('UNAUTHENTICATED', `token claim ${error.claim} is not acceptable`);
      throw new ConcordError('UNAUTHENTICATED', 'invalid token');
    }
    throw new ConcordError('UNAUTHENTICATED', 'token algorithm is not accepted');
  }

  return {
    verify,
    async authenticate(authorization) {
      const token = bearerToken(authorization ?? undefined);
      if (!token) throw new ConcordError('UNAUTHENTICATED', 'a bearer token is required');
      return verify(token);
    },
  };
}
