/**
 * Every Stripe failure becomes a ConcordError here, and only here (STYLE.md 3): callers branch on
 * `code` and `retryable`, never on Stripe's classes or messages. No key and no raw payload ends up in
 * a message; Stripe's own short message is kept where it helps the user (a rejected request).
 */
import Stripe from 'stripe';
import { ConcordError, UncertainOutcomeError } from '../../core/errors';

export interface StripeCallContext {
  /** Adapter operation, for example 'customers.search'. */
  operation: string;
  /** A write: a lost answer leaves its outcome unknown. */
  write: boolean;
}

/** Keys can appear in Stripe's messages ("Invalid API Key provided: sk_test_****1234"). */
function redact(message: string): string {
  return message.replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g, '[redacted key]');
}

function header(error: Stripe.errors.StripeError, name: string): string | undefined {
  const value = error.headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Retry-After in seconds, when Stripe sent one. */
function retryAfterSeconds(error: Stripe.errors.StripeError): number | undefined {
  const value = header(error, 'retry-after');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Turn whatever a Stripe SDK call threw into a ConcordError with system BILLING. */
export function errorFromStripe(error: unknown, context: StripeCallContext): ConcordError {
  if (error instanceof ConcordError) return error;
  // The capacity gate (calls.ts) refused before anything was sent: the SDK hands its refusal back as
  // a StripeConnectionError whose `detail` is the ConcordError; its outcome is certain (nothing sent).
  const detail = (error as { detail?: unknown } | null)?.detail;
  if (detail instanceof ConcordError) return detail;
  const { operation, write } = context;
  const system = 'BILLING' as const;

  if (!(error instanceof Stripe.errors.StripeError)) {
    return new ConcordError('INTERNAL', `Stripe ${operation} failed unexpectedly`, { system, retryable: false, cause: error });
  }

  const status = error.statusCode;
  const base = { system, status, vendorCode: error.code, cause: error };
  // Stripe says outright whether the same request may succeed later; that beats our defaults.
  const shouldRetry = header(error, 'stripe-should-retry');
  const retryable = (fallback: boolean) => (shouldRetry === 'false' ? false : shouldRetry === 'true' ? true : fallback);

  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return new ConcordError('VENDOR_RATE_LIMITED', `Stripe ${operation} was rate limited (${status ?? 429})`, {
      ...base,
      retryable: retryable(true),
      retryAfterSeconds: retryAfterSeconds(error),
    });
  }
  if (error instanceof Stripe.errors.StripeConnectionError) {
    // The request may have reached Stripe: a write's effect is unknown until read back (or replayed
    // with the same idempotency key, which is what every write here carries).
    if (write) return new UncertainOutcomeError(system, `Stripe ${operation}: no answer, the outcome is unknown`, { cause: error });
    return new ConcordError('VENDOR_UNAVAILABLE', `Stripe ${operation}: connection failed`, { ...base, retryable: true });
  }
  if (error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError) {
    // A configuration problem: retrying with the same key cannot help.
    return new ConcordError('VENDOR_UNAVAILABLE', `Stripe refused Concord's credentials (${status})`, { ...base, retryable: false });
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    if (error.code === 'idempotency_key_in_use' || status === 409) {
      return new ConcordError('VENDOR_UNAVAILABLE', `Stripe ${operation}: the same request is still in progress`, { ...base, retryable: retryable(true) });
    }
    return new ConcordError('CONFLICT', `Stripe ${operation}: the idempotency key was already used with different input`, { ...base, retryable: false });
  }
  if (error instanceof Stripe.errors.StripeAPIError || (status !== undefined && status >= 500)) {
    const message = `Stripe ${operation} failed on Stripe's side (${status ?? 'no status'})`;
    if (write) return new UncertainOutcomeError(system, message, { status, vendorCode: error.code, cause: error });
    return new ConcordError('VENDOR_UNAVAILABLE', message, { ...base, retryable: retryable(true) });
  }
  if (error.code === 'resource_missing' && (error.param === 'id' || status === 404)) {
    return new ConcordError('NOT_FOUND', redact(error.message), { ...base, retryable: false });
  }
  if (error.code === 'lock_timeout') {
    return new ConcordError('VENDOR_RATE_LIMITED', `Stripe ${operation}: the object is busy`, { ...base, retryable: true });
  }
  // Card declines and invalid requests: Stripe understood and said no.
  return new ConcordError('VENDOR_REJECTED', `Stripe rejected ${operation}: ${redact(error.message)}`, { ...base, retryable: retryable(false) });
}
