/**
 * Every HubSpot failure becomes a ConcordError here, and only here: callers branch on `code` and
 * `retryable`, never on HubSpot's shapes. @hubspot/api-client rejects with an ApiException
 * (`code` = HTTP status, `body` = HubSpot's error object, `headers`), with node-fetch's FetchError
 * when no answer came, and the client (client.ts) rejects with HubSpotTimeoutError after its own
 * deadline. HubSpot's error body (developers.hubspot.com, "API usage guidelines" and "Error
 * handling"): `{ status: 'error', message, correlationId, category, subCategory?, errors? }`;
 * categories used here: RATE_LIMITS (429, with `policyName` TEN_SECONDLY_ROLLING, SECONDLY or
 * DAILY), VALIDATION_ERROR (400), OBJECT_NOT_FOUND (404), INVALID_AUTHENTICATION (401),
 * MISSING_SCOPES (403), CONFLICT (409). No token and no raw payload is put in a message.
 */
import { ConcordError, UncertainOutcomeError } from '../../core/errors';

export interface HubSpotCallContext {
  operation: string;
  write: boolean;
}

/** Set by client.ts on a rejected rate-limited call: the policy HubSpot named (its SDK's Error model drops it). */
export const POLICY_NAME = Symbol('hubspot.policyName');

/** Our own deadline passed before HubSpot answered (client.ts). */
export class HubSpotTimeoutError extends Error {
  override name = 'HubSpotTimeoutError';
}

interface ApiExceptionShape {
  code: number;
  body?: unknown;
  headers?: Record<string, string>;
}

function shapeOf(error: unknown): ApiExceptionShape | null {
  if (!error || typeof error !== 'object') return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && code >= 100 ? (error as ApiExceptionShape) : null;
}

/** Private-app tokens look like pat-na1-xxxxxxxx-...; none may reach a message. */
export const redactToken = (message: string) => message.replace(/\bpat-[a-z0-9]+-[A-Za-z0-9-]{8,}/g, '[redacted-token]').slice(0, 300);

function field(body: unknown, name: string): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * HubSpot's 429 names its policy in the body (policyName) and, for the rolling limits, sends the
 * window's headers (X-HubSpot-RateLimit-Interval-Milliseconds, -Remaining); Retry-After when sent.
 * The wait asked for: Retry-After, else the rest of a ten-second window, else a second.
 */
function rateLimitWait(headers: Record<string, string> | undefined, policy: string | undefined): number | undefined {
  const retryAfter = Number(headers?.['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter;
  if (policy === 'DAILY') return undefined;
  if (policy === 'SECONDLY') return 1;
  const interval = Number(headers?.['x-hubspot-ratelimit-interval-milliseconds']);
  return Number.isFinite(interval) && interval > 0 ? Math.ceil(interval / 1000) : 1;
}

export function errorFromHubSpot(error: unknown, context: HubSpotCallContext): ConcordError {
  if (error instanceof ConcordError) return error;
  const { operation, write } = context;
  const system = 'CRM' as const;
  const shape = shapeOf(error);
  if (!shape) {
    const timedOut = error instanceof HubSpotTimeoutError;
    const what = timedOut ? 'timed out' : 'no answer';
    // No answer (refused, reset, our deadline): a write may have taken effect.
    if (write) return new UncertainOutcomeError(system, `HubSpot ${operation}: ${what}, the outcome is unknown`, { cause: error });
    return new ConcordError('VENDOR_UNAVAILABLE', `HubSpot ${operation}: ${timedOut ? 'timed out' : 'connection failed'}`, { system, retryable: true, cause: error });
  }
  const status = shape.code;
  const category = field(shape.body, 'category') ?? field(shape.body, 'errorType') ?? 'UNKNOWN';
  const message = redactToken(field(shape.body, 'message') ?? `HTTP ${status}`);
  const base = { system, status, vendorCode: category };
  if (status === 429 || category === 'RATE_LIMITS' || category === 'RATE_LIMIT') {
    const policy = ((error as { [POLICY_NAME]?: string })[POLICY_NAME] ?? field(shape.body, 'policyName')) as string | undefined;
    return new ConcordError('VENDOR_RATE_LIMITED', `HubSpot ${operation} was rate limited (${policy ?? 'unknown policy'})`, {
      ...base,
      vendorCode: policy ?? category,
      retryable: true,
      retryAfterSeconds: rateLimitWait(shape.headers, policy),
    });
  }
  if (status === 504 || status === 502 || status === 503 || status >= 500) {
    const text = `HubSpot ${operation} failed on HubSpot's side (${status})`;
    // 503 is HubSpot refusing before work (maintenance, overload): a write did not happen.
    if (write && status !== 503) return new UncertainOutcomeError(system, text, { status, vendorCode: category });
    return new ConcordError('VENDOR_UNAVAILABLE', text, { ...base, retryable: true });
  }
  if (status === 401 || status === 403 || category === 'INVALID_AUTHENTICATION' || category === 'MISSING_SCOPES') {
    return new ConcordError('VENDOR_UNAVAILABLE', `HubSpot refused Concord's private-app token (${status} ${category})`, { ...base, retryable: false });
  }
  if (status === 404 || category === 'OBJECT_NOT_FOUND') {
    return new ConcordError('NOT_FOUND', `HubSpot ${operation}: ${message}`, { ...base, retryable: false });
  }
  if (status === 409 || category === 'CONFLICT') {
    return new ConcordError('CONFLICT', `HubSpot ${operation}: ${message}`, { ...base, retryable: false });
  }
  return new ConcordError('VENDOR_REJECTED', `HubSpot rejected ${operation}: ${message}`, { ...base, retryable: false });
}
