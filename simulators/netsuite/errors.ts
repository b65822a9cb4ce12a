/**
 * NetSuite REST web services error envelope, in one place, so every failure the simulator sends
 * looks like the real one:
 *
 *   { "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "title": "Bad Request",
 *     "status": 400, "o:errorDetails": [{ "detail": "...", "o:errorCode": "USER_ERROR" }] }
 *
 * served as `application/vnd.oracle.resource+json; type=error`.
 */
import type { SimResponse } from '../common/sim-server';

export const CONTENT_TYPE = {
  singular: 'application/vnd.oracle.resource+json; type=singular-resource',
  collection: 'application/vnd.oracle.resource+json; type=collection',
  error: 'application/vnd.oracle.resource+json; type=error',
} as const;

const STATUS_TYPES: Record<number, { type: string; title: string }> = {
  400: { type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1', title: 'Bad Request' },
  401: { type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2', title: 'Unauthorized' },
  404: { type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5', title: 'Not Found' },
  405: { type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6', title: 'Method Not Allowed' },
  429: { type: 'https://www.rfc-editor.org/rfc/rfc6585.html#section-4', title: 'Too Many Requests' },
  500: { type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1', title: 'Internal Server Error' },
  503: { type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4', title: 'Service Unavailable' },
};

/** Optional pointers NetSuite adds to an error detail. */
export interface ErrorPointers {
  /** JSON path into the request body, for example 'item.items[0].item'. */
  errorPath?: string;
  /** Query parameter at fault, for example 'q' or 'limit'. */
  errorQueryParam?: string;
  /** Request header at fault, for example 'Prefer'. */
  errorHeader?: string;
}

/** Messages NetSuite uses, kept verbatim where we know them. */
export const MESSAGES = {
  invalidLogin:
    'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.',
  concurrency: 'Concurrent request limit exceeded. Request blocked.',
  nonexistent: 'The record instance does not exist. Provide a valid record instance ID.',
  duplicate: 'Error while accessing a resource. This entity already exists.',
  // NetSuite reports a posting into a closed period as a plain USER_ERROR with this text.
  closedPeriod: 'Error while accessing a resource. The transaction date is not within an open accounting period.',
  dependents: 'Error while accessing a resource. This record cannot be deleted because it has dependent records.',
  invalidSearch: 'Invalid search query. Detailed unprocessed description follows. ',
} as const;

/** A NetSuite error response. */
export function netsuiteError(
  status: number,
  code: string,
  detail: string,
  pointers: ErrorPointers = {},
  headers: Record<string, string> = {},
): SimResponse {
  const { type, title } = STATUS_TYPES[status] ?? STATUS_TYPES[400];
  const entry: Record<string, string> = { detail, 'o:errorCode': code };
  if (pointers.errorPath) entry['o:errorPath'] = pointers.errorPath;
  if (pointers.errorQueryParam) entry['o:errorQueryParam'] = pointers.errorQueryParam;
  if (pointers.errorHeader) entry['o:errorHeader'] = pointers.errorHeader;
  return {
    status,
    headers: { 'content-type': CONTENT_TYPE.error, ...headers },
    body: { type, title, status, 'o:errorDetails': [entry] },
  };
}

/**
 * Thrown by the store and the record codec for a request NetSuite would refuse; the server turns
 * it into the envelope above. Nothing is written when it is thrown.
 */
export class RecordError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly pointers: ErrorPointers = {},
  ) {
    super(detail);
    this.name = 'RecordError';
  }

  toResponse(): SimResponse {
    return netsuiteError(this.status, this.code, this.detail, this.pointers);
  }
}

/** 400 USER_ERROR with NetSuite's "Error while accessing a resource." prefix. */
export function userError(message: string, errorPath?: string): RecordError {
  return new RecordError(400, 'USER_ERROR', `Error while accessing a resource. ${message}`, { errorPath });
}

/** 400 INVALID_CONTENT: the body does not fit the record's schema. */
export function invalidContent(message: string, errorPath?: string): RecordError {
  return new RecordError(400, 'INVALID_CONTENT', `Invalid content in the request body. ${message}`, { errorPath });
}

export function notFoundError(): RecordError {
  return new RecordError(404, 'NONEXISTENT_ID', MESSAGES.nonexistent);
}
