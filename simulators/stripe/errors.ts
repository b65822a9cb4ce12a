/**
 * Stripe's error envelope, `{ error: { type, code, message, param, doc_url } }`, with the HTTP status
 * Stripe pairs with each kind. Handlers throw these; the route layer turns them into responses.
 */
import type { SimResponse } from '../common/sim-server';

export type StripeErrorType = 'invalid_request_error' | 'api_error' | 'card_error' | 'idempotency_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
}

/** Codes that mean "the request was refused before any work started": never stored for idempotent replay. */
export const VALIDATION_CODES = new Set([
  'parameter_missing',
  'parameter_unknown',
  'parameter_invalid_integer',
  'parameter_invalid_empty',
  'parameter_invalid_string_empty',
  'parameter_invalid',
]);

function docUrl(code: string | undefined): string | undefined {
  return code ? `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` : undefined;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.name = 'StripeApiError';
  }

  toResponse(): SimResponse {
    const error: StripeErrorBody = { ...this.body };
    if (error.code && !error.doc_url) error.doc_url = docUrl(error.code);
    return { status: this.status, headers: { ...this.headers }, body: { error } };
  }

  /** `No such customer: 'cus_x'` (404, resource_missing). */
  static missing(kind: string, id: string, param = 'id'): StripeApiError {
    return new StripeApiError(404, {
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: `No such ${kind}: '${id}'`,
      param,
    });
  }

  static parameterMissing(param: string): StripeApiError {
    return new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'parameter_missing',
      message: `Missing required param: ${param}.`,
      param,
    });
  }

  static unknownParameter(param: string): StripeApiError {
    return new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'parameter_unknown',
      message: `Received unknown parameter: ${param}`,
      param,
    });
  }

  /** A bad value or a request Stripe refuses in the object's current state. */
  static invalid(message: string, param?: string, code?: string): StripeApiError {
    return new StripeApiError(400, { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) });
  }

  static cardDeclined(): StripeApiError {
    return new StripeApiError(402, {
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    });
  }
}
