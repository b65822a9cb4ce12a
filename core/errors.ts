/**
 * The error contract (docs/api.md "Error codes") in one place. Every failure that can reach a client is a
 * ConcordError (or is turned into one at a boundary) so that `extensions.code`, `system` and
 * `retryable` are set the same way everywhere.
 */

export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'VALIDATION_FAILED',
  'PERIOD_CLOSED',
  'VENDOR_RATE_LIMITED',
  'VENDOR_UNAVAILABLE',
  'VENDOR_REJECTED',
  'QUERY_TOO_COMPLEX',
  'RATE_LIMITED',
  // Concord's own state (Redis) is unreachable: nothing was decided, try again shortly.
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
  // A subgraph's own error, passed on by the standalone gateway with its message and the subgraph's
  // name (extensions.subgraph), as @apollo/gateway names it; CONCORD_MASK_SUBGRAPH_ERRORS hides it.
  'DOWNSTREAM_SERVICE_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type SystemName = 'CRM' | 'BILLING' | 'ERP';

export interface ConcordErrorOptions {
  /** Which system the failure came from, when it came from a vendor. */
  system?: SystemName;
  /** Whether the same call may succeed if made again later. Defaults by code (see isRetryableCode). */
  retryable?: boolean;
  /** Seconds the vendor asked us to wait before trying again (Retry-After and the like). */
  retryAfterSeconds?: number;
  /** The vendor's own error code, safe to show (never the raw payload). */
  vendorCode?: string;
  /** Vendor HTTP status, for metrics and logs. */
  status?: number;
  cause?: unknown;
}

/** Codes whose failures are worth retrying unless the vendor said otherwise. */
export function isRetryableCode(code: ErrorCode): boolean {
  return code === 'VENDOR_RATE_LIMITED' || code === 'VENDOR_UNAVAILABLE' || code === 'RATE_LIMITED' || code === 'SERVICE_UNAVAILABLE';
}

export class ConcordError extends Error {
  readonly code: ErrorCode;
  readonly system?: SystemName;
  readonly retryable: boolean;
  readonly retryAfterSeconds?: number;
  readonly vendorCode?: string;
  readonly status?: number;

  constructor(code: ErrorCode, message: string, options: ConcordErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConcordError';
    this.code = code;
    this.system = options.system;
    this.retryable = options.retryable ?? isRetryableCode(code);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.vendorCode = options.vendorCode;
    this.status = options.status;
  }

  /** The `extensions` a GraphQL error carries for this failure (correlation id is added by the server). */
  toExtensions(): Record<string, unknown> {
    const extensions: Record<string, unknown> = { code: this.code };
    if (this.system) {
      extensions.system = this.system;
      extensions.retryable = this.retryable;
    } else if (this.code === 'SERVICE_UNAVAILABLE') {
      // Not a vendor's failure, but a client must still know it may send the same request again.
      extensions.retryable = true;
    }
    if (this.retryAfterSeconds !== undefined) extensions.retryAfterSeconds = this.retryAfterSeconds;
    if (this.vendorCode) extensions.vendorCode = this.vendorCode;
    return extensions;
  }
}

/**
 * A vendor failure whose outcome is unknown: the request may or may not have taken effect
 * (timeout, connection reset, 5xx after the body was sent). Writes must be reconciled by reading
 * the vendor before any retry.
 */
export class UncertainOutcomeError extends ConcordError {
  constructor(system: SystemName, message: string, options: Omit<ConcordErrorOptions, 'system'> = {}) {
    super('VENDOR_UNAVAILABLE', message, { ...options, system, retryable: true });
    this.name = 'UncertainOutcomeError';
  }
}

export function isConcordError(error: unknown): error is ConcordError {
  return error instanceof ConcordError;
}
