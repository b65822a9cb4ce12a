/**
 * CSRF prevention at the gateway, before anything else reads the request: a browser can send a
 * "simple" cross-site request (no preflight) only with no content-type or one of the three below,
 * so such a request must carry a header a browser would only send after a CORS preflight. The rule
 * is Apollo Server's own (`csrfPrevention`, @apollo/server preventCsrf.ts); it runs here so that the
 * refusal is one of ours, with code and correlation id like every other error.
 */
import type http from 'node:http';
import { ConcordError } from '../core/errors';

/** Content types a browser may send cross-site without a preflight (the Fetch standard's "CORS-safelisted"). */
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
/** Any one of them, non-empty, proves a preflight (Apollo's recommended set). */
export const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];

/** BAD_USER_INPUT when the request could be a cross-site forgery; null when it is fine. */
export function csrfRefusal(headers: http.IncomingHttpHeaders): ConcordError | null {
  const contentType = headers['content-type'];
  if (contentType !== undefined) {
    const essence = contentType.split(';')[0].trim().toLowerCase();
    // A type a browser cannot send cross-site without a preflight (application/json): fine.
    if (essence !== '' && !SIMPLE_CONTENT_TYPES.includes(essence)) return null;
  }
  if (PREFLIGHT_HEADERS.some((name) => typeof headers[name] === 'string' && (headers[name] as string).length > 0)) return null;
  return new ConcordError(
    'BAD_USER_INPUT',
    `this request could be a cross-site request forgery: send it with content-type application/json, or with a non-empty ${PREFLIGHT_HEADERS.join(' or ')} header`,
  );
}
