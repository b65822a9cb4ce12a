/**
 * Every Chargebee failure becomes a ConcordError here, and only here (STYLE.md 3): callers branch on
 * `code` and `retryable`, never on Chargebee's shapes. chargebee-node rejects with the API's error
 * body (`{ message, type, api_error_code, param, http_status_code, headers }`: lib coreCommon
 * handleResponse), with a ChargebeeError for an answer that is not JSON (a proxy's 502/503/504) or
 * a timeout, and with fetch's own error when no answer came. Codes from Chargebee's API reference
 * ("Error handling"): api_request_limit_exceeded (429), api_authentication_failed /
 * api_authorization_failed (401/403), resource_not_found (404), internal_error /
 * internal_temporary_error (5xx), and the 400s (param_wrong_value, invalid_state_for_request,
 * duplicate_entry, ...). No key and no raw payload is put in a message.
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';

export interface ChargebeeCallContext {
  operation: string;
  write: boolean;
}

interface ChargebeeErrorShape {
  message?: string;
  api_error_code?: string;
  error_code?: string;
  type?: string;
  param?: string;
  http_status_code?: number;
  http_code?: number;
  headers?: Record<string, string> | null;
}

function shapeOf(error: unknown): ChargebeeErrorShape | null {
  if (!error || typeof error !== 'object') return null;
  const e = error as ChargebeeErrorShape;
  return typeof e.http_status_code === 'number' || typeof e.http_code === 'number' ? e : null;
}

/** Keys look like test_xxx / live_xxx; none may reach a message. */
const redact = (message: string) => message.replace(/\b(test|live)_[A-Za-z0-9]{8,}/g, '[redacted key]').slice(0, 300);

function retryAfterSeconds(headers: Record<string, string> | null | undefined): number | undefined {
  const value = headers?.['retry-after'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

export function errorFromChargebee(error: unknown, context: ChargebeeCallContext): ConcordError {
  if (error instanceof ConcordError) return error;
  const { operation, write } = context;
  const system = 'BILLING' as const;
  const shape = shapeOf(error);
  if (!shape) {
    // No answer (connection refused or reset, or our timeout): a write may have taken effect.
    if (write) return new UncertainOutcomeError(system, `Chargebee ${operation}: no answer, the outcome is unknown`, { cause: error });
    return new ConcordError('VENDOR_UNAVAILABLE', `Chargebee ${operation}: connection failed`, { system, retryable: true, cause: error });
  }
  const status = shape.http_status_code ?? shape.http_code ?? 0;
  const code = shape.api_error_code ?? shape.error_code ?? 'unknown';
  const base = { system, status, vendorCode: code };
  if (status === 429 || code === 'api_request_limit_exceeded') {
    return new ConcordError('VENDOR_RATE_LIMITED', `Chargebee ${operation} was rate limited (${status})`, { ...base, retryable: true, retryAfterSeconds: retryAfterSeconds(shape.headers) });
  }
  if (shape.type === 'timeout' || status === 504) {
    if (write) return new UncertainOutcomeError(system, `Chargebee ${operation}: timed out, the outcome is unknown`, { status, vendorCode: code });
    return new ConcordError('VENDOR_UNAVAILABLE', `Chargebee ${operation} timed out`, { ...base, retryable: true });
  }
  if (status >= 500) {
    const message = `Chargebee ${operation} failed on Chargebee's side (${status})`;
    if (write) return new UncertainOutcomeError(system, message, { status, vendorCode: code });
    return new ConcordError('VENDOR_UNAVAILABLE', message, { ...base, retryable: true });
  }
  if (status === 401 || status === 403 || code === 'api_authentication_failed' || code === 'api_authorization_failed' || code === 'site_not_found') {
    return new ConcordError('VENDOR_UNAVAILABLE', `Chargebee refused Concord's credentials (${status} ${code})`, { ...base, retryable: false });
  }
  if (status === 409) {
    // The idempotency key was used with another request: a bug, not something to retry.
    return new ConcordError('CONFLICT', `Chargebee ${operation}: the idempotency key was already used with different input`, { ...base, retryable: false });
  }
  if (status === 404 || code === 'resource_not_found') {
    return new ConcordError('NOT_FOUND', redact(shape.message ?? `Chargebee ${operation}: not found`), { ...base, retryable: false });
  }
  return new ConcordError('VENDOR_REJECTED', `Chargebee rejected ${operation}: ${redact(shape.message ?? code)}`, { ...base, retryable: false });
}
