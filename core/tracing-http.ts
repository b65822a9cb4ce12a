/**
 * The server side of an HTTP hop: continue the caller's trace (W3C `traceparent`), run the handler
 * with the new SERVER span and the correlation id as its scope (core/tracing.ts), and end the span
 * when the response is finished or the client goes away. Used by the gateway for client requests
 * and by every subgraph for the gateway's requests.
 */
import type http from 'node:http';
import { SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import type { Tracing } from './tracing';

/** Nginx's convention for a client that closed the connection before the answer was complete. */
export const CLIENT_CLOSED = 499;

/** The status an ended exchange had: its HTTP status, or 499 when the client left first. */
export function finalStatus(res: http.ServerResponse): number {
  return res.writableFinished ? res.statusCode : CLIENT_CLOSED;
}

export interface IncomingTrace {
  span: Span;
  /** Called once with the final status when the exchange ends (after the span has its status). */
  onEnd(listener: (status: number) => void): void;
}

/**
 * Serve `req` inside a SERVER span named `name`, child of the caller's `traceparent` when it sent
 * a valid one. 5xx answers (and clients that left) mark the span as an error.
 */
export function traceIncoming<T>(
  tracing: Tracing,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  start: { name: string; correlationId: string | null; attributes?: Attributes },
  handler: (trace: IncomingTrace) => T,
): T {
  const url = new URL(req.url ?? '/', 'http://server');
  const span = tracing.startSpan(start.name, {
    kind: SpanKind.SERVER,
    parent: tracing.extract(req.headers),
    attributes: {
      'http.request.method': req.method ?? 'GET',
      'url.path': url.pathname,
      ...(start.correlationId ? { 'concord.correlation_id': start.correlationId } : {}),
      ...start.attributes,
    },
  });
  const listeners: ((status: number) => void)[] = [];
  res.once('close', () => {
    const status = finalStatus(res);
    span.setAttribute('http.response.status_code', status);
    if (status >= 500 || status === CLIENT_CLOSED) span.setStatus({ code: SpanStatusCode.ERROR, message: status === CLIENT_CLOSED ? 'client closed the connection' : `HTTP ${status}` });
    for (const listener of listeners) listener(status);
    span.end();
  });
  return tracing.run(span, () => handler({ span, onEnd: (listener) => listeners.push(listener) }), start.correlationId);
}
