/**
 * Who is calling: the verified principal of a request, as the gateway learned it from the bearer
 * token, and the rules every part of Concord applies to it.
 *
 * The gateway verifies the token and passes the principal to the subgraphs in PRINCIPAL_HEADER, a
 * header covered by the gateway's HMAC signature (core/signing.ts), so a subgraph can trust it as
 * much as it trusts the gateway. Scopes are enforced at the gateway, before execution (from the
 * schema's @requiresScopes). Portal isolation (a token with `customer_id` reads and acts on that one
 * customer) is enforced where the data is resolved, with canSeeCustomer / assertCanSeeCustomer:
 * resolvers, entity references, mutations and subscriptions all call the same two functions.
 */
import { createHash } from 'node:crypto';
import { ConcordError } from './errors';

/** The verified caller of one request. */
export interface Principal {
  /** The token's `sub`. */
  subject: string;
  /** Granted scopes (docs/api.md "Tokens"); unknown scopes are kept and simply match nothing. */
  scopes: ReadonlySet<string>;
  /** Set for a portal token: the one customer (canonical id) it may read and act on. */
  customerId: string | null;
}

/** Header that carries the principal from the gateway to subgraphs (signed together with the body). */
export const PRINCIPAL_HEADER = 'x-concord-principal';

/**
 * The principal of a subgraph that runs without the gateway's signature (secret null: a subgraph
 * tested on its own, never in production). It is unrestricted, which is why the signed path never
 * falls back to it: there a missing principal is a 401.
 */
export const UNSIGNED_PRINCIPAL: Principal = Object.freeze({
  subject: 'unsigned-local',
  scopes: new Set<string>(),
  customerId: null,
});

/** True when the principal may see (read or act on) the customer with this canonical id. */
export function canSeeCustomer(principal: Principal, customerId: string | null | undefined): boolean {
  if (principal.customerId === null) return true;
  return typeof customerId === 'string' && customerId === principal.customerId;
}

/**
 * Throw FORBIDDEN unless the principal may see the customer. `what` names the record for the
 * message ("invoice in_123"); the message never says whose record it is.
 */
export function assertCanSeeCustomer(principal: Principal, customerId: string | null | undefined, what: string): void {
  if (!canSeeCustomer(principal, customerId)) {
    throw new ConcordError('FORBIDDEN', `this token may not access ${what}`);
  }
}

/**
 * A record read for a caller: for a portal token, a record that does not exist is refused exactly as
 * one of another customer is (same code, same message), so ids cannot be probed for existence.
 */
export function visibleTo<T>(principal: Principal, record: T | null | undefined, customerOf: (record: T) => string | null | undefined, what: string): T | null {
  if (record === null || record === undefined) {
    if (isPortal(principal)) throw new ConcordError('FORBIDDEN', `this token may not access ${what}`);
    return null;
  }
  assertCanSeeCustomer(principal, customerOf(record), what);
  return record;
}

/**
 * The caller's namespace for idempotency keys and run ownership: one per token subject (and portal
 * customer), so one caller can neither replay nor squat another caller's key. A short hash, because
 * it becomes part of store keys and a subject may hold any character.
 */
export function callerScope(principal: Principal): string {
  return createHash('sha256').update(`${principal.subject}\n${principal.customerId ?? ''}`).digest('base64url').slice(0, 16);
}

/** A portal token: restricted to one customer. */
export function isPortal(principal: Principal): boolean {
  return principal.customerId !== null;
}

interface WirePrincipal {
  sub: string;
  scope: string;
  customer_id: string | null;
}

/** The header value: base64url JSON, so that it is one opaque token without dots or commas. */
export function encodePrincipal(principal: Principal): string {
  const wire: WirePrincipal = { sub: principal.subject, scope: [...principal.scopes].join(' '), customer_id: principal.customerId };
  return Buffer.from(JSON.stringify(wire)).toString('base64url');
}

/** Parse the header value; null when it is not a well-formed principal. */
export function decodePrincipal(value: string | undefined): Principal | null {
  if (!value || value.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(value)) return null;
  try {
    const wire = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<WirePrincipal>;
    if (typeof wire.sub !== 'string' || typeof wire.scope !== 'string') return null;
    if (wire.customer_id !== null && (typeof wire.customer_id !== 'string' || wire.customer_id === '')) return null;
    return { subject: wire.sub, scopes: new Set(wire.scope.split(' ').filter(Boolean)), customerId: wire.customer_id };
  } catch {
    return null;
  }
}
