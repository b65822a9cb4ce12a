/**
 * Proof that a subgraph request comes from the gateway: HMAC-SHA256 with CONCORD_SUBGRAPH_SECRET over
 * a timestamp, the caller's principal and the request body, sent as
 * `x-concord-signature: t=<unix>,v1=<hex>`. A timestamp bounds replay of a captured request.
 *
 * The principal (core/principal.ts, header `x-concord-principal`) is inside the MAC: a subgraph
 * trusts it exactly as far as it trusts the gateway, and nobody can move a signed body under another
 * principal or strip the principal from it. The signed string is `<t>.<principal>.<body>` when a
 * principal is sent and `<t>.<body>` when none is; the principal is base64url (no dots), and a body
 * signed without one is a JSON object (it starts with `{`), so the two forms never collide.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-concord-signature';

/** Largest accepted clock difference, in seconds. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

function mac(secret: string, t: number, body: string, principal: string | undefined): Buffer {
  const signed = principal === undefined ? `${t}.${body}` : `${t}.${principal}.${body}`;
  return createHmac('sha256', secret).update(signed).digest();
}

/** The signature header for a request with this body and, when given, this principal header value. */
export function signRequest(secret: string, body: string, principal?: string, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${mac(secret, t, body, principal).toString('hex')}`;
}

/** True when `header` signs exactly this body and principal header value (undefined = none sent). */
export function verifyRequest(
  secret: string,
  body: string,
  principal: string | undefined,
  header: string | undefined,
  now = Date.now(),
): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || !/^[0-9a-f]{64}$/i.test(parts.v1)) return false;
  if (Math.abs(now / 1000 - t) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = mac(secret, t, body, principal);
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Sign a body alone (no principal). */
export function signBody(secret: string, body: string, now = Date.now()): string {
  return signRequest(secret, body, undefined, now);
}

/** Verify a signature over a body alone (no principal). */
export function verifySignature(secret: string, body: string, header: string | undefined, now = Date.now()): boolean {
  return verifyRequest(secret, body, undefined, header, now);
}
