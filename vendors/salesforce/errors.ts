/**
 * Every Salesforce failure becomes a ConcordError here, and only here (STYLE.md 3). jsforce throws
 * HttpApiError with Salesforce's `errorCode` for HTTP errors and node-fetch errors (FetchError with
 * a socket `code`, AbortError on timeout) for transport failures. Messages name the operation and
 * Salesforce's code, never the vendor payload, the SOQL or the session token.
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';

export interface SalesforceFailureContext {
  /** Adapter operation, for example 'query.Account'. */
  operation: string;
  /** True when the call may have changed data (PATCH/POST/DELETE). */
  write: boolean;
  /** HTTP status of the failed response, when one came. */
  status?: number;
}

interface JsforceLikeError {
  name?: string;
  errorCode?: string;
  code?: string;
  message?: string;
  data?: unknown;
}

/** Socket-level failures in which the request never reached Salesforce: a write had no effect. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN']);
/** Socket-level failures after the request may have been received. */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'ECONNABORTED']);

const REJECTED_HINT: Record<string, string> = {
  INVALID_FIELD: 'the org lacks a field Concord uses',
  INVALID_TYPE: 'the org lacks an object Concord uses',
  MALFORMED_QUERY: 'a query Concord built was refused',
};

function vendorCodeOf(error: JsforceLikeError): { code?: string; fields: string[] } {
  // Several errors in one response: jsforce reports MULTIPLE_API_ERRORS with the array as data.
  const first = Array.isArray(error.data) ? (error.data[0] as { errorCode?: unknown; fields?: unknown } | undefined) : undefined;
  const entry = (error.errorCode === 'MULTIPLE_API_ERRORS' ? first : error.data) as { fields?: unknown } | undefined;
  const code = error.errorCode === 'MULTIPLE_API_ERRORS' && typeof first?.errorCode === 'string' ? first.errorCode : error.errorCode;
  const fields = Array.isArray(entry?.fields) ? entry.fields.filter((f): f is string => typeof f === 'string') : [];
  return { code, fields };
}

/** Turn anything jsforce or the network threw into a ConcordError with system CRM. */
export function errorFromSalesforce(error: unknown, context: SalesforceFailureContext): ConcordError {
  if (error instanceof ConcordError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as JsforceLikeError;
  const { operation, write } = context;
  const cause = error;

  // Transport failures: no HTTP answer at all.
  const timedOut = e.name === 'AbortError' || /Request Timeout/.test(e.message ?? '');
  if (timedOut || (e.code && (NOT_SENT.has(e.code) || LOST.has(e.code)))) {
    const reason = timedOut ? 'timed out' : `connection failed (${e.code})`;
    if (write && (timedOut || LOST.has(e.code ?? ''))) {
      return new UncertainOutcomeError('CRM', `Salesforce ${operation} ${reason}; it may or may not have been applied`, { cause, status: 0 });
    }
    return new ConcordError('VENDOR_UNAVAILABLE', `Salesforce ${operation} ${reason}`, { system: 'CRM', retryable: true, status: 0, cause });
  }

  const { code, fields } = vendorCodeOf(e);
  const httpStatus = /^ERROR_HTTP_(\d{3})$/.exec(code ?? '');
  const status = context.status ?? (httpStatus ? Number(httpStatus[1]) : undefined);
  const options = { system: 'CRM' as const, vendorCode: code, status, cause };

  switch (code) {
    case 'REQUEST_LIMIT_EXCEEDED':
      // Both the daily budget (TotalRequests) and concurrent long-running requests come as this.
      return new ConcordError('VENDOR_RATE_LIMITED', `Salesforce ${operation} refused: API request limit exceeded`, { ...options, retryable: true });
    case 'INVALID_SESSION_ID':
    case 'INVALID_AUTH_HEADER':
      // Concord's own credential is wrong or expired: not the caller's fault, and retrying won't help.
      return new ConcordError('VENDOR_UNAVAILABLE', `Salesforce ${operation} refused Concord's session; check the Salesforce credentials`, { ...options, retryable: false });
    case 'NOT_FOUND':
    case 'ENTITY_IS_DELETED':
      return new ConcordError('NOT_FOUND', `Salesforce ${operation}: record not found`, { ...options, retryable: false });
    case 'SERVER_UNAVAILABLE':
      // 503: Salesforce did not process the request (maintenance, overload), so even a write is certain.
      return new ConcordError('VENDOR_UNAVAILABLE', `Salesforce ${operation} failed: Salesforce is unavailable`, { ...options, retryable: true });
  }
  if (code === 'UNKNOWN_EXCEPTION' || (status !== undefined && status >= 500)) {
    // A 500 comes after the request was processed in part or whole: a write's outcome is unknown.
    if (write) return new UncertainOutcomeError('CRM', `Salesforce ${operation} failed with a server error; it may or may not have been applied`, options);
    return new ConcordError('VENDOR_UNAVAILABLE', `Salesforce ${operation} failed with a server error`, { ...options, retryable: true });
  }
  if (code) {
    const hint = REJECTED_HINT[code] ? ` (${REJECTED_HINT[code]})` : '';
    const on = fields.length > 0 ? ` on ${fields.join(', ')}` : '';
    return new ConcordError('VENDOR_REJECTED', `Salesforce ${operation} rejected: ${code}${on}${hint}`, { ...options, retryable: false });
  }
  // Not an HTTP or network failure: a bug on our side or in the client library.
  return new ConcordError('INTERNAL', `Salesforce ${operation} failed unexpectedly`, { system: 'CRM', retryable: false, cause });
}
