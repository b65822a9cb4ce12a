/**
 * What metrics and tracing add to the gateway, in one place so that gateway/server.ts only wires it:
 *
 *   - each /graphql request runs in a SERVER span that continues the client's `traceparent`, with
 *     its correlation id as the scope of everything it calls (logs included), and is timed into
 *     concord_gateway_request_duration_seconds by operation name, type and status;
 *   - each subgraph fetch is a CLIENT span whose `traceparent` goes to the subgraph, timed into
 *     concord_subgraph_fetch_duration_seconds;
 *   - GraphQL errors are counted by code and named on the request's span (an Apollo plugin);
 *   - GET /metrics serves the registry (behind a bearer token when CONCORD_METRICS_TOKEN is set).
 */
import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Fetcher } from '@apollo/utils.fetcher';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Logger } from '../core/log';
import { activeSpan, startClientSpan, type Tracing } from '../core/tracing';
import { finalStatus, traceIncoming } from '../core/tracing-http';
import { sendJson } from './http';
import type { Metrics } from '../observability/metrics';
import { answerMetrics } from '../observability/metrics-server';

export interface GatewayObservabilityOptions {
  /** Where request, fetch and error figures go. Default: none (and no /metrics). */
  metrics?: Metrics;
  /** Spans of requests and subgraph fetches. Default: none (ids are not propagated). */
  tracing?: Tracing;
  /** Subgraph name -> URL, to name fetches (read at each fetch: the gateway may swap its supergraph). */
  subgraphs: Record<string, string>;
  /** Bearer token GET /metrics requires; null = open. Default null. */
  metricsToken?: string | null;
  /** One line per request: debug, info when errors were answered, warn for INTERNAL and 5xx. Default: none. */
  logger?: Logger;
}

interface RequestRecord {
  correlationId: string;
  operation: string | null;
  type: string | null;
  /** True until Apollo executes the operation (its errors are then counted by the plugin). */
  countFromBody: boolean;
  /** Error codes answered. */
  codes: string[];
}

/**
 * The /graphql request being served: handed to the request's handler, which passes it to
 * `operation` and puts it in the Apollo context (`observed`) for the plugin, which sees no HTTP
 * objects. Passed by hand rather than held in an AsyncLocalStorage: on Node 20 an enabled
 * AsyncLocalStorage runs a hook for every promise of every request, about 9% of the gateway's
 * throughput in `npm run bench:gateway` (bench/README.md).
 */
export type ObservedRequest = RequestRecord;

/** `extensions.code` of each error in a JSON response body; [] when there are none. */
function errorCodes(body: unknown): string[] {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (!text.includes('"errors"')) return [];
  try {
    const errors = (JSON.parse(text) as { errors?: { extensions?: { code?: unknown } }[] }).errors ?? [];
    return errors.map((e) => (typeof e.extensions?.code === 'string' ? e.extensions.code : 'INTERNAL'));
  } catch {
    return [];
  }
}

export function createGatewayObservability(options: GatewayObservabilityOptions) {
  const { metrics, tracing, subgraphs, metricsToken = null, logger } = options;

  function noteErrors(record: RequestRecord, codes: string[]): void {
    if (!codes.length) return;
    record.codes.push(...codes);
    metrics?.gatewayErrors(codes);
    activeSpan()?.setAttribute('concord.error_codes', [...new Set(record.codes)]);
  }

  function subgraphOf(url: string): string {
    for (const [name, known] of Object.entries(subgraphs)) if (known === url) return name;
    try {
      return new URL(url).host;
    } catch {
      return 'unknown';
    }
  }

  return {
    /** Serve one /graphql request in its span, and time and log it when the response has gone. */
    graphql<T>(req: http.IncomingMessage, res: http.ServerResponse, correlationId: string, handler: (observed: ObservedRequest) => T): T {
      const record: RequestRecord = { correlationId, operation: null, type: null, countFromBody: true, codes: [] };
      // Answers the gateway writes itself (refusals before execution, timeouts) are counted here.
      const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.end = ((...args: unknown[]) => {
        // 503 (at capacity, gateway/overload.ts) and 504 (timeout) are the gateway's own answers after admission.
        if ((record.countFromBody || res.statusCode === 503 || res.statusCode === 504) && res.statusCode !== 200) noteErrors(record, errorCodes(args[0]));
        return end(...args);
      }) as typeof res.end;
      const started = performance.now();
      let traceId: string | undefined;
      const finished = (status: number) => {
        const seconds = (performance.now() - started) / 1000;
        metrics?.gatewayRequest({ operation: record.operation, type: record.type, status }, seconds);
        if (!logger) return;
        const level = status >= 500 || record.codes.includes('INTERNAL') ? 'warn' : record.codes.length ? 'info' : 'debug';
        const line = { correlationId, traceId, operation: record.operation, type: record.type, status, durationMs: Math.round(seconds * 10000) / 10, errors: record.codes.length ? [...new Set(record.codes)] : undefined };
        logger[level](line, 'graphql request');
      };
      const run = () => handler(record);
      if (!tracing) {
        res.once('close', () => finished(finalStatus(res)));
        return run();
      }
      return traceIncoming(tracing, req, res, { name: `${req.method ?? 'GET'} /graphql`, correlationId, attributes: { 'http.route': '/graphql' } }, (incoming) => {
        traceId = incoming.span.spanContext().traceId;
        incoming.onEnd(finished);
        return run();
      });
    },

    /** The admitted operation's name and type: the request's metric labels and span name. */
    operation(record: ObservedRequest, name: string | null | undefined, type: string): void {
      record.operation = name || 'anonymous';
      record.type = type;
      // Subscriptions are refused over HTTP by the gateway itself; everything else goes to Apollo.
      record.countFromBody = type === 'subscription';
      const span = activeSpan();
      if (span) {
        // OpenTelemetry's GraphQL convention: "{operation type} {operation name}".
        span.updateName(name ? `${type} ${name}` : type);
        span.setAttributes({ 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}) });
      }
    },

    /** The gateway's subgraph fetcher, with a CLIENT span (and its traceparent) and a timing per fetch. */
    fetcher(inner: Fetcher): Fetcher {
      return (async (url: string, init: { headers?: Record<string, string> } = {}) => {
        const subgraph = subgraphOf(url);
        const span = startClientSpan(`fetch ${subgraph}`, { 'concord.subgraph': subgraph, 'url.full': url, 'http.request.method': 'POST' });
        const started = performance.now();
        const took = () => (performance.now() - started) / 1000;
        try {
          const response = await inner(url, { ...init, headers: { ...(init.headers ?? {}), ...span.headers } } as Parameters<Fetcher>[1]);
          span.end(response.status);
          metrics?.subgraphFetch(subgraph, response.status, took());
          return response;
        } catch (error) {
          span.end(0, error);
          metrics?.subgraphFetch(subgraph, 0, took());
          throw error;
        }
      }) as unknown as Fetcher;
    },

    /** Counts the errors of executed operations by code, and names them on the request's span. */
    plugin<C>(): ApolloServerPlugin<C & object> {
      return {
        async requestDidStart() {
          return {
            async willSendResponse({ response, contextValue }) {
              const record = (contextValue as { observed?: ObservedRequest }).observed;
              if (!record || response.body.kind !== 'single' || !response.body.singleResult.errors?.length) return;
              const codes = response.body.singleResult.errors.map((e) => (typeof e.extensions?.code === 'string' ? e.extensions.code : 'INTERNAL'));
              noteErrors(record, codes);
              if (codes.some((code) => code === 'INTERNAL' || code.startsWith('VENDOR_'))) activeSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: [...new Set(codes)].join(', ') });
            },
          };
        },
      };
    },

    /** GET /metrics: the Prometheus text format. */
    async serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
      if (!metrics) return sendJson(res, 404, { error: 'metrics are off' });
      return answerMetrics(req, res, metrics, metricsToken);
    },
  };
}

export type GatewayObservability = ReturnType<typeof createGatewayObservability>;
