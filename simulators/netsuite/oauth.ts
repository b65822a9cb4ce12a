/**
 * OAuth 1.0a Token-Based Authentication as NetSuite checks it (RFC 5849 with HMAC-SHA256):
 *
 *   Authorization: OAuth realm="ACCOUNT", oauth_consumer_key="...", oauth_token="...",
 *     oauth_signature_method="HMAC-SHA256", oauth_timestamp="...", oauth_nonce="...",
 *     oauth_version="1.0", oauth_signature="..."
 *
 * The signature base string is METHOD & encode(base URL) & encode(sorted parameters), where the
 * parameters are the oauth_* values (not realm, not the signature) plus every query parameter;
 * the key is encode(consumer secret) & encode(token secret). Written independently of the
 * `oauth-1.0a` package the client uses, so a test through both proves interoperability.
 */
import crypto from 'node:crypto';
import type { SimRequest } from '../common/sim-server';

/** Token-based authentication credentials of one integration + user token. */
export interface TbaCredentials {
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
}

export type OAuthVerdict = { ok: true } | { ok: false; reason: string };

/** RFC 3986 percent-encoding, as OAuth requires (encodeURIComponent leaves !*'() alone). */
export function percentEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Form-style decoding of a query component ('+' is a space). */
function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The parameters of an `Authorization: OAuth ...` header, or null when it is not one. */
export function parseOAuthHeader(header: string | undefined): Record<string, string> | null {
  if (!header || !/^OAuth\s/i.test(header)) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*"([^"]*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) params[m[1]] = decode(m[2]);
  return params;
}

const REQUIRED = ['realm', 'oauth_consumer_key', 'oauth_token', 'oauth_signature_method', 'oauth_timestamp', 'oauth_nonce', 'oauth_signature'];

/** The signature base string of a request, from what the server received. */
export function signatureBaseString(method: string, baseUrl: string, rawQuery: string, oauth: Record<string, string>): string {
  const pairs: [string, string][] = [];
  for (const [key, value] of Object.entries(oauth)) {
    if (key.startsWith('oauth_') && key !== 'oauth_signature') pairs.push([percentEncode(key), percentEncode(value)]);
  }
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    pairs.push([percentEncode(key), percentEncode(value)]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const normalized = pairs.map(([k, v]) => `${k}=${v}`).join('&');
  return [method.toUpperCase(), percentEncode(baseUrl), percentEncode(normalized)].join('&');
}

export interface OAuthVerifierOptions {
  /** Expected realm (the account id). */
  accountId: string;
  /** When set, signatures are verified against these; otherwise any well-formed header passes. */
  credentials?: TbaCredentials;
  /** Accepted clock skew in seconds. Default 300, as NetSuite allows. */
  maxSkewSeconds?: number;
}

/** A verifier for incoming requests; keeps recent nonces to refuse replays when checking. */
export function createOAuthVerifier(options: OAuthVerifierOptions) {
  const { accountId, credentials, maxSkewSeconds = 300 } = options;
  const seenNonces = new Map<string, number>();

  return function verify(req: SimRequest): OAuthVerdict {
    const header = req.headers.authorization;
    const oauth = parseOAuthHeader(Array.isArray(header) ? header[0] : header);
    if (!oauth) return { ok: false, reason: 'missing OAuth header' };
    const missing = REQUIRED.filter((key) => !oauth[key]);
    if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')}` };
    // NetSuite accepts only HMAC-SHA256 for TBA (HMAC-SHA1 was retired).
    if (oauth.oauth_signature_method !== 'HMAC-SHA256') return { ok: false, reason: 'unsupported signature method' };
    if (oauth.oauth_version && oauth.oauth_version !== '1.0') return { ok: false, reason: 'unsupported version' };
    if (!/^\d+$/.test(oauth.oauth_timestamp)) return { ok: false, reason: 'bad timestamp' };
    if (!credentials) return { ok: true };

    if (oauth.realm !== accountId) return { ok: false, reason: 'wrong realm' };
    if (oauth.oauth_consumer_key !== credentials.consumerKey || oauth.oauth_token !== credentials.tokenId) {
      return { ok: false, reason: 'unknown consumer or token' };
    }
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(oauth.oauth_timestamp)) > maxSkewSeconds) return { ok: false, reason: 'timestamp out of range' };

    const host = String(req.headers.host ?? '').toLowerCase().replace(/:80$/, '');
    const rawPath = req.url.split('?')[0];
    const rawQuery = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const base = signatureBaseString(req.method, `http://${host}${rawPath}`, rawQuery, oauth);
    const key = `${percentEncode(credentials.consumerSecret)}&${percentEncode(credentials.tokenSecret)}`;
    const expected = crypto.createHmac('sha256', key).update(base).digest();
    const given = Buffer.from(oauth.oauth_signature, 'base64');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };

    // A nonce may be used once per timestamp window (replay protection).
    const nonceKey = `${oauth.oauth_timestamp}:${oauth.oauth_nonce}`;
    if (seenNonces.has(nonceKey)) return { ok: false, reason: 'nonce reused' };
    seenNonces.set(nonceKey, now);
    if (seenNonces.size > 10_000) {
      for (const [k, at] of seenNonces) if (now - at > maxSkewSeconds) seenNonces.delete(k);
    }
    return { ok: true };
  };
}
