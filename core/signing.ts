/**
 * Proof that a subgraph request comes from the gateway, and is this one request: HMAC-SHA256 with
 * CONCORD_SUBGRAPH_SECRET over what the request is, sent as
 * `x-concord-signature: t=<unix>,n=<nonce>,v1=<hex>`.
 *
 * What is signed (SignedRequest): the HTTP method, the path, the name of the subgraph it is for, a
 * timestamp, a nonce, the caller's principal (core/principal.ts, header `x-concord-principal`) and
 * the body, joined by newlines in that order (none of the first six can hold a newline; the body is
 * last, so the string reads one way only). So a captured signature
 *   - cannot carry another body or another principal (portal -> admin),
 *   - cannot be sent to another subgraph (the name differs) or as a GET (the method differs),
 *   - is good for TOLERANCE seconds either side of its timestamp (a clock ahead cannot stretch it),
 *   - and only once: each subgraph process remembers the nonces it has seen for the tolerance
 *     window (NonceWindow), in memory. No Redis round trip per fetch: the window is short, and a
 *     replay to another replica of the same subgraph inside it is what the other bindings leave.
 * One HMAC and one random nonce per subgraph fetch: the gateway's hot path stays cheap.
 */
import { createHmac, createSecretKey, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-concord-signature';

/** Largest accepted difference between the signature's timestamp and the clock, either way, in seconds. */
export const SIGNATURE_TOLERANCE_SECONDS = 30;

/** What one signature covers. */
export interface SignedRequest {
  /** HTTP method, upper case (POST for GraphQL, GET for a WebSocket upgrade). */
  method: string;
  /** URL path (`/graphql`). */
  path: string;
  /** Name of the subgraph the request is for, as the supergraph names it (`crm`). */
  subgraph: string;
  /** The request body exactly as sent ('' for none). */
  body: string;
  /** The principal header value; undefined when none is sent. */
  principal?: string;
}

/**
 * The secret as a prepared KeyObject, made once per secret: createHmac accepts a KeyObject (Node's
 * crypto docs, `crypto.createHmac(algorithm, key)`), and a string key is otherwise converted into a
 * new key on every call, 16 times per gateway request. A process holds one or two secrets (the
 * current one and, while rotating, the previous), so the map stays tiny; it is bounded anyway.
 */
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= 16) keys.clear();
    keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  }
  return key;
}

function mac(secret: string, t: number, nonce: string, request: SignedRequest): Buffer {
  const signed = `v2\n${request.method.toUpperCase()}\n${request.path}\n${request.subgraph}\n${t}\n${nonce}\n${request.principal ?? ''}\n${request.body}`;
  return createHmac('sha256', keyOf(secret)).update(signed).digest();
}

/** The signature header for this request (a fresh nonce each call). */
export function signRequest(secret: string, request: SignedRequest, now = Date.now(), nonce: string = randomUUID()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},n=${nonce},v1=${mac(secret, t, nonce, request).toString('hex')}`;
}

/** Why a signature was refused ('ok' when it was not). */
export type Verdict = 'ok' | 'missing' | 'malformed' | 'stale' | 'bad-mac' | 'replayed' | 'window-full';

/**
 * Nonces seen, each until its signature can no longer be accepted anyway (timestamp + tolerance).
 * Bounded: beyond `capacity` live nonces new requests are refused ('window-full') rather than old
 * nonces forgotten, since forgetting one would let its request be replayed.
 */
export class NonceWindow {
  private readonly seen = new Map<string, number>();

  constructor(private readonly capacity = 200_000) {}

  /** Record the nonce; false when it was seen before (a replay) or the window is full. */
  admit(nonce: string, expiresAtMs: number, now = Date.now()): 'ok' | 'replayed' | 'window-full' {
    if (this.seen.has(nonce)) return 'replayed';
    if (this.seen.size >= this.capacity) {
      // Insertion order is roughly expiry order (timestamps within one tolerance of each other).
      for (const [key, expires] of this.seen) {
        if (expires > now) break;
        this.seen.delete(key);
      }
      if (this.seen.size >= this.capacity) return 'window-full';
    }
    this.seen.set(nonce, expiresAtMs);
    return 'ok';
  }

  /** Drop the nonces whose signatures have expired (called as requests arrive). */
  sweep(now = Date.now()): void {
    for (const [key, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(key);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}

/**
 * Check `header` against this request. With a nonce window, a nonce is accepted once; without one
 * (tests of the MAC alone) only the MAC and the timestamp are checked.
 */
export function verifyRequest(
  secret: string,
  request: SignedRequest,
  header: string | undefined,
  options: { now?: number; nonces?: NonceWindow; toleranceSeconds?: number } = {},
): Verdict {
  const { now = Date.now(), nonces, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS } = options;
  if (!header) return 'missing';
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const nonce = parts.n;
  if (!Number.isInteger(t) || !nonce || !/^[A-Za-z0-9-]{16,64}$/.test(nonce) || !parts.v1 || !/^[0-9a-f]{64}$/i.test(parts.v1)) return 'malformed';
  if (Math.abs(now / 1000 - t) > toleranceSeconds) return 'stale';
  const expected = mac(secret, t, nonce, request);
  const given = Buffer.from(parts.v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad-mac';
  if (!nonces) return 'ok';
  nonces.sweep(now);
  return nonces.admit(nonce, (t + toleranceSeconds) * 1000 + 1000, now);
}
