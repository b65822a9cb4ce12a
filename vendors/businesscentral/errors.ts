/**
 * Every Business Central failure becomes a ConcordError here, so code, `retryable` and system are
 * decided in one place (docs/api.md). BC answers errors as `{"error":{"code","message"}}`; the
 * message (which ends with BC's correlation id) never reaches Concord's own messages.
 *
 *   429 (Application_TooManyRequests: 6,000 per 5 minutes or 100 at once)   -> VENDOR_RATE_LIMITED, retryable
 *   401 / token endpoint refusing the client credentials                   -> VENDOR_UNAVAILABLE, not retryable
 *   5xx, 504 (BC's 10-minute execution limit)                              -> VENDOR_UNAVAILABLE (uncertain for writes)
 *   404 BadRequest_NotFound                                                -> NOT_FOUND
 *   "Posting Date is not within your range of allowed posting dates"        -> PERIOD_CLOSED
 *   412 Request_EntityChanged (stale If-Match)                             -> CONFLICT, retryable (read again)
 *   anything else 4xx                                                      -> VENDOR_REJECTED
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';
import { BusinessCentralAuthError, BusinessCentralTransportError, type BusinessCentralResponse } from './client';

export type BusinessCentralFailure = { response: Pick<BusinessCentralResponse, 'status' | 'body'> & { headers?: Headers } } | { error: unknown };

export interface FailureContext {
  operation: string;
  /** True for a request that may change BC: a lost answer leaves its outcome unknown. */
  write: boolean;
}

export function bcErrorOf(body: unknown): { code?: string; message?: string } {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return { code: typeof error?.code === 'string' ? error.code : undefined, message: typeof error?.message === 'string' ? error.message : undefined };
}

/** BC refuses a posting date outside the allowed range or in a closed period with these texts. */
const CLOSED_PERIOD = /not within your range of allowed posting dates|posting date is not within|accounting period .*closed|period is closed/i;

function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export function errorFromBusinessCentral(failure: BusinessCentralFailure, context: FailureContext): ConcordError {
  const { operation, write } = context;
  const what = `Business Central ${operation}`;

  if ('error' in failure) {
    const { error } = failure;
    if (error instanceof ConcordError) return error;
    if (error instanceof BusinessCentralAuthError && error.kind === 'unavailable') {
      // The request itself was never sent: certain, and worth another try.
      return new ConcordError('VENDOR_UNAVAILABLE', `${what} could not get a token: the token endpoint is unavailable`, {
        system: 'ERP', status: error.status || undefined, retryable: true, cause: error,
      });
    }
    if (error instanceof BusinessCentralAuthError) {
      return new ConcordError('VENDOR_UNAVAILABLE', `${what} was refused: the token endpoint did not accept Concord's client credentials`, {
        system: 'ERP', status: error.status, vendorCode: error.vendorCode, retryable: false, cause: error,
      });
    }
    const how = error instanceof BusinessCentralTransportError && error.kind === 'timeout' ? 'timed out' : 'got no response';
    return write
      ? new UncertainOutcomeError('ERP', `${what} ${how}; it may or may not have taken effect`, { cause: error })
      : new ConcordError('VENDOR_UNAVAILABLE', `${what} ${how}`, { system: 'ERP', cause: error });
  }

  const { status, body, headers } = failure.response;
  const { code: vendorCode, message } = bcErrorOf(body);
  const base = { system: 'ERP' as const, status, vendorCode };

  if (status === 429 || vendorCode === 'Application_TooManyRequests') {
    return new ConcordError('VENDOR_RATE_LIMITED', `${what} was refused: Business Central's request limit for this user is reached`, {
      ...base, retryable: true, retryAfterSeconds: retryAfterSeconds(headers),
    });
  }
  if (status === 401 || status === 403) {
    return new ConcordError('VENDOR_UNAVAILABLE', `${what} was refused: Business Central did not accept Concord's token or permissions`, { ...base, retryable: false });
  }
  if (status >= 500 || status === 0) {
    const text = `${what} failed: Business Central answered ${status}`;
    return write ? new UncertainOutcomeError('ERP', `${text}; it may or may not have taken effect`, { status, vendorCode }) : new ConcordError('VENDOR_UNAVAILABLE', text, base);
  }
  if (status === 404) return new ConcordError('NOT_FOUND', `${what}: no such record in the ERP`, { ...base, retryable: false });
  if (message && CLOSED_PERIOD.test(message)) {
    return new ConcordError('PERIOD_CLOSED', `${what} was refused: the ERP accounting period is closed`, { ...base, retryable: false });
  }
  if (status === 412) return new ConcordError('CONFLICT', `${what}: the record changed since it was read`, { ...base, retryable: true });
  return new ConcordError('VENDOR_REJECTED', `${what} was rejected by Business Central (${status}${vendorCode ? ` ${vendorCode}` : ''})`, { ...base, retryable: false });
}
