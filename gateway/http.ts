/** Small HTTP helpers shared by the gateway's routes. */
import type http from 'node:http';
import { ConcordError } from '../core/errors';

import { sendJson } from '../core/http-json';

export { sendJson };

/** A GraphQL-shaped error response for failures before execution (auth, body limits). */
export function sendGraphQLError(res: http.ServerResponse, status: number, error: ConcordError, correlationId: string): void {
  sendJson(res, status, { errors: [{ message: error.message, extensions: { ...error.toExtensions(), correlationId } }] }, {
    'x-correlation-id': correlationId,
  });
}

/** Read a body up to `limit` bytes; more is a BAD_USER_INPUT and the rest is not read. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ConcordError('BAD_USER_INPUT', `request body is larger than ${limit} bytes`));
        // Discard the rest rather than destroy the socket, so the client gets the 413 (sent with
        // `connection: close`) instead of a connection reset.
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
