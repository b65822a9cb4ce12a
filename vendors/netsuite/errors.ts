/**
 * Every NetSuite failure becomes a ConcordError here, in one function, so the code, `retryable`
 * and system are decided in one place (the error contract, docs/api.md). Messages are Concord's own:
 * never NetSuite's raw payload, never a credential.
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';
import { NetSuiteTransportError, type NetSuiteResponse } from './client';

/** What went wrong: an HTTP answer that was not 2xx, or no answer at all. */
export type NetSuiteFailure = { response: NetSuiteResponse } | { error: unknown };

export interface FailureContext {
  /** Adapter operation, for the message ('suiteql', 'invoice.upsert', ...). */
  operation: string;
  /** True for a request that may change NetSuite: a lost answer then leaves its outcome unknown. */
  write: boolean;
}

interface ErrorDetail {
  detail?: string;
  code?: string;
}

/** The first `o:errorDetails` entry of a NetSuite error body. */
export function firstErrorDetail(body: unknown): ErrorDetail | null {
  const details = (body as { 'o:errorDetails'?: unknown } | null)?.['o:errorDetails'];
  if (!Array.isArray(details) || details.length === 0) return null;
  const first = details[0] as Record<string, unknown>;
  return {
    detail: typeof first.detail === 'string' ? first.detail : undefined,
    code: typeof first['o:errorCode'] === 'string' ? first['o:errorCode'] : undefined,
  };
}

/**
 * NetSuite reports a posting into a closed (or locked) accounting period as a plain USER_ERROR;
 * its text is the only signal, so it is matched here and nowhere else.
 */
const CLOSED_PERIOD = /not within an open accounting period|period is (closed|locked)|closed (accounting )?period/i;

function retryAfterSeconds(headers: Headers): number | undefined {
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export function errorFromNetSuite(failure: NetSuiteFailure, context: FailureContext): ConcordError {
  const { operation, write } = context;
  const what = `NetSuite ${operation}`;

  if ('error' in failure) {
    const { error } = failure;
    if (error instanceof ConcordError) return error;
    const how = error instanceof NetSuiteTransportError && error.kind === 'timeout' ? 'timed out' : 'got no response';
    return write
      ? new UncertainOutcomeError('ERP', `${what} ${how}; it may or may not have taken effect`, { cause: error })
      : new ConcordError('VENDOR_UNAVAILABLE', `${what} ${how}`, { system: 'ERP', cause: error });
  }

  const { status, body, headers } = failure.response;
  const detail = firstErrorDetail(body);
  const vendorCode = detail?.code;
  const base = { system: 'ERP' as const, status, vendorCode };

  if (status === 429 || vendorCode === 'CONCURRENCY_LIMIT_EXCEEDED') {
    return new ConcordError('VENDOR_RATE_LIMITED', `${what} was refused: the NetSuite account's concurrency limit is reached`, {
      ...base,
      retryable: true,
      retryAfterSeconds: retryAfterSeconds(headers),
    });
  }
  if (status === 401 || vendorCode === 'INVALID_LOGIN') {
    // Our own credentials are wrong or revoked: waiting will not fix it, an operator must.
    return new ConcordError('VENDOR_UNAVAILABLE', `${what} was refused: NetSuite did not accept Concord's credentials`, {
      ...base,
      retryable: false,
    });
  }
  if (status >= 500) {
    const message = `${what} failed: NetSuite answered ${status}`;
    return write
      ? new UncertainOutcomeError('ERP', `${message}; it may or may not have taken effect`, { status, vendorCode })
      : new ConcordError('VENDOR_UNAVAILABLE', message, base);
  }
  if (status === 404) return new ConcordError('NOT_FOUND', `${what}: no such record in the ERP`, { ...base, retryable: false });
  if (detail?.detail && CLOSED_PERIOD.test(detail.detail)) {
    return new ConcordError('PERIOD_CLOSED', `${what} was refused: the ERP accounting period is closed`, { ...base, retryable: false });
  }
  return new ConcordError('VENDOR_REJECTED', `${what} was rejected by NetSuite (${status}${vendorCode ? ` ${vendorCode}` : ''})`, {
    ...base,
    retryable: false,
  });
}
