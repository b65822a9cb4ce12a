/**
 * Tracing and correlation (OpenTelemetry), without global state.
 *
 * A `Tracing` is created per system (per test) and handed to the three places where a trace may
 * begin: the gateway request (a client's `traceparent` is continued), the subgraph request (the
 * gateway's `traceparent`) and the orchestration job (a new trace, linked to whatever enqueued it).
 * Each of them runs its work in a *scope*: the active span and the caller's correlation id, carried
 * by AsyncLocalStorage through everything the request or job calls. Below those roots nothing needs
 * the Tracing object: an HTTP client (the subgraph fetch, each vendor adapter's HTTP layer) calls
 * `startClientSpan`, which finds the scope, starts a child span and returns the W3C headers to send;
 * outside a scope it does nothing. Log lines pick the scope up too (`logContext`, used by
 * core/log.ts), so every line written while serving a request carries its correlation and trace ids.
 *
 * Why not the OpenTelemetry API's global context manager and tracer provider: they are process-wide,
 * and tests start several systems in one process, each with its own exporter. The scope holds its
 * own Tracing, so two systems never mix spans.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

export { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';

export interface TracingOptions {
  /**
   * Where finished spans go. 'none' (default): spans are not recorded, trace ids are still
   * propagated and logged; 'memory': kept in `tracing.memory` (tests); or any SpanExporter, batched
   * (core/tracing-export.ts has the log and OTLP ones, and builds them from the configuration).
   */
  exporter?: 'none' | 'memory' | SpanExporter;
  /** Share of new traces recorded, 0..1; a sampled incoming parent is always followed. Default 1. */
  sampleRatio?: number;
  /** Tracer (instrumentation scope) name. Default 'concord'. */
  name?: string;
}

export interface SpanStart {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** Parent context. Default: the active scope's span; `ROOT_CONTEXT` starts a new trace. */
  parent?: Context;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** The in-memory exporter when `exporter` is 'memory' (tests read spans from it); else null. */
  readonly memory: InMemorySpanExporter | null;
  startSpan(name: string, start?: SpanStart): Span;
  /** Run `fn` with `span` active and `correlationId` as the flow's correlation id. */
  run<T>(span: Span, fn: () => T, correlationId?: string | null): T;
  /** The context W3C headers carry (`traceparent`, `tracestate`); ROOT when absent or malformed. */
  extract(headers: Record<string, string | string[] | undefined>): Context;
  /** Flush and stop the exporter. */
  shutdown(): Promise<void>;
}

interface Scope {
  tracing: Tracing;
  context: Context;
  correlationId: string | null;
}

const scopes = new AsyncLocalStorage<Scope>();
const propagator = new W3CTraceContextPropagator();

/** W3C trace context headers for an outgoing request made under `context`. */
export function traceHeaders(context: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  propagator.inject(context, headers, defaultTextMapSetter);
  return headers;
}

export function createTracing(options: TracingOptions = {}): Tracing {
  const { exporter = 'none', sampleRatio = 1, name = 'concord' } = options;
  const memory = exporter === 'memory' ? new InMemorySpanExporter() : null;
  const processors: SpanProcessor[] = [];
  if (memory) processors.push(new SimpleSpanProcessor(memory));
  else if (typeof exporter === 'object') processors.push(new BatchSpanProcessor(exporter));
  const recording = processors.length > 0;
  const provider = new BasicTracerProvider({
    // Unrecorded spans still carry ids: correlation across services and logs works without an exporter.
    sampler: recording
      ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(Math.min(1, Math.max(0, sampleRatio))) })
      : new AlwaysOffSampler(),
    spanProcessors: processors,
  });
  const tracer = provider.getTracer(name);

  const tracing: Tracing = {
    tracer,
    memory,
    startSpan(spanName, start = {}) {
      const parent = start.parent ?? scopes.getStore()?.context ?? ROOT_CONTEXT;
      return tracer.startSpan(spanName, { kind: start.kind ?? SpanKind.INTERNAL, attributes: start.attributes, links: start.links }, parent);
    },
    run(span, fn, correlationId = null) {
      const inherited = scopes.getStore();
      return scopes.run({ tracing, context: trace.setSpan(ROOT_CONTEXT, span), correlationId: correlationId ?? inherited?.correlationId ?? null }, fn);
    },
    extract(headers) {
      return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
  return tracing;
}

/** The span of the request or job being served, if any. */
export function activeSpan(): Span | undefined {
  const scope = scopes.getStore();
  return scope ? trace.getSpan(scope.context) : undefined;
}

/** The active span's context, for a link from a new trace back to what started it. */
export function activeSpanLink(): Link[] {
  const span = trace.getSpan(scopes.getStore()?.context ?? ROOT_CONTEXT);
  return span ? [{ context: span.spanContext() }] : [];
}

/**
 * Run a background job (an orchestration step's work) as a new trace: a CONSUMER span linked to
 * the span that enqueued it, when the job was enqueued inside one. `correlationId` is read first
 * (the run's), so that the job's logs, spans and vendor calls carry it.
 */
export async function traceJob<T>(
  tracing: Tracing,
  name: string,
  attributes: Attributes,
  correlationId: () => Promise<string | null>,
  work: () => Promise<T>,
): Promise<T> {
  const span = tracing.startSpan(name, { kind: SpanKind.CONSUMER, attributes, parent: ROOT_CONTEXT, links: activeSpanLink() });
  try {
    const id = await correlationId().catch(() => null);
    if (id) span.setAttribute('concord.correlation_id', id);
    return await tracing.run(span, work, id);
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** The correlation id of the request or run being served, if any. */
export function currentCorrelationId(): string | null {
  return scopes.getStore()?.correlationId ?? null;
}

/**
 * Fields every log line gets while a scope is active (core/log.ts's pino mixin): the correlation id
 * and the W3C trace and span ids, so a log search finds the trace and the trace finds the logs.
 */
export function logContext(): { correlationId?: string; traceId?: string; spanId?: string } {
  const scope = scopes.getStore();
  if (!scope) return {};
  const fields: { correlationId?: string; traceId?: string; spanId?: string } = {};
  if (scope.correlationId) fields.correlationId = scope.correlationId;
  const span = trace.getSpan(scope.context);
  if (span) {
    const { traceId, spanId } = span.spanContext();
    fields.traceId = traceId;
    fields.spanId = spanId;
  }
  return fields;
}

/** An outgoing call's span, as startClientSpan returns it. */
export interface ClientSpan {
  /** `traceparent` (and `tracestate`) to send with the request; empty outside a traced flow. */
  readonly headers: Record<string, string>;
  /** End the span with the HTTP status (0 = no response came) and, for a failure, its error. */
  end(status: number, error?: unknown, attributes?: Attributes): void;
}

const NO_SPAN: ClientSpan = { headers: {}, end: () => undefined };

/**
 * A CLIENT span around one outgoing HTTP call made in the active flow (a child of the request's or
 * job's span), with the headers that carry it to the callee. Outside any scope: a no-op. Statuses
 * of 400 and above, and no response at all, mark the span as an error.
 */
export function startClientSpan(name: string, attributes: Attributes = {}): ClientSpan {
  const scope = scopes.getStore();
  if (!scope) return NO_SPAN;
  const span = scope.tracing.startSpan(name, { kind: SpanKind.CLIENT, attributes, parent: scope.context });
  const headers = traceHeaders(trace.setSpan(scope.context, span));
  return {
    headers,
    end(status, error, extra) {
      if (status > 0) span.setAttribute('http.response.status_code', status);
      if (extra) span.setAttributes(extra);
      if (status === 0 || status >= 400) {
        const message = error instanceof Error ? error.message : status === 0 ? 'no response' : `HTTP ${status}`;
        span.setStatus({ code: SpanStatusCode.ERROR, message });
        if (error instanceof Error) span.setAttribute('error.type', error.name);
        else span.setAttribute('error.type', status === 0 ? 'no_response' : String(status));
      }
      span.end();
    },
  };
}

/**
 * A vendor HTTP call's span (`salesforce query.Account`), for the adapters' HTTP layers. `url` is
 * reduced to host and path: query strings can hold customer data (SOQL, Stripe search).
 */
export function startVendorSpan(call: { system: string; vendor: string; operation: string; method: string; url: string }): ClientSpan {
  if (!scopes.getStore()) return NO_SPAN;
  let host = '';
  let path = '';
  try {
    const parsed = new URL(call.url);
    host = parsed.host;
    path = parsed.pathname;
  } catch {
    path = call.url.split('?')[0];
  }
  return startClientSpan(`${call.vendor} ${call.operation}`, {
    'concord.system': call.system,
    'concord.vendor': call.vendor,
    'concord.vendor.operation': call.operation,
    'http.request.method': call.method.toUpperCase(),
    'server.address': host,
    'url.path': path,
    ...(currentCorrelationId() ? { 'concord.correlation_id': currentCorrelationId()! } : {}),
  });
}
