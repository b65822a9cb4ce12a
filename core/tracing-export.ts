/**
 * Where finished spans go, and the Tracing the configuration asks for (core/config.ts,
 * `observability`): nothing (the default: ids are still propagated and logged), one JSON log line
 * per span through the structured logger, or OTLP/HTTP to a collector (Jaeger, Tempo, an
 * OpenTelemetry Collector).
 *
 * The OTLP exporter encodes OTLP/JSON itself (a page of mapping, below) rather than pulling in
 * @opentelemetry/exporter-trace-otlp-http: the protocol is stable and small, and the JSON encoding
 * is what every collector accepts on `/v1/traces`.
 */
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ObservabilityConfig } from './config';
import type { Logger } from './log';
import { createTracing, type Tracing } from './tracing';

const nanos = ([seconds, ns]: HrTime) => (BigInt(seconds) * 1_000_000_000n + BigInt(ns)).toString();
const millis = ([seconds, ns]: HrTime) => seconds * 1000 + ns / 1e6;

/** One JSON log line per finished span, at debug level for successes and info for errors. */
export class LogSpanExporter implements SpanExporter {
  constructor(private readonly logger: Logger) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const { traceId, spanId } = span.spanContext();
      const line = {
        span: span.name,
        kind: span.kind,
        traceId,
        spanId,
        parentSpanId: span.parentSpanId,
        durationMs: Math.round(millis(span.duration) * 100) / 100,
        status: span.status.code === 2 ? 'ERROR' : 'OK',
        ...(span.status.message ? { statusMessage: span.status.message } : {}),
        attributes: span.attributes,
      };
      if (span.status.code === 2) this.logger.info(line, 'span');
      else this.logger.debug(line, 'span');
    }
    done({ code: ExportResultCode.SUCCESS });
  }

  async shutdown(): Promise<void> {}
}

function anyValue(value: AttributeValue): Record<string, unknown> {
  if (Array.isArray(value)) return { arrayValue: { values: value.filter((v) => v !== null && v !== undefined).map((v) => anyValue(v as AttributeValue)) } };
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
    default:
      return { stringValue: String(value) };
  }
}

const keyValues = (attributes: Attributes) =>
  Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: anyValue(v as AttributeValue) }));

/** Spans as an OTLP/JSON ExportTraceServiceRequest (ids as hex, times as nanosecond strings). */
export function toOtlpJson(spans: ReadableSpan[], serviceName: string): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues({ 'service.name': serviceName, 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.name': 'opentelemetry' }) },
        scopeSpans: [
          {
            scope: { name: 'concord' },
            spans: spans.map((span) => ({
              traceId: span.spanContext().traceId,
              spanId: span.spanContext().spanId,
              ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
              name: span.name,
              // OTLP's SpanKind counts from UNSPECIFIED = 0; the API's from INTERNAL = 0.
              kind: span.kind + 1,
              startTimeUnixNano: nanos(span.startTime),
              endTimeUnixNano: nanos(span.endTime),
              attributes: keyValues(span.attributes),
              events: span.events.map((e) => ({ name: e.name, timeUnixNano: nanos(e.time), attributes: keyValues(e.attributes ?? {}) })),
              links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: keyValues(l.attributes ?? {}) })),
              status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
            })),
          },
        ],
      },
    ],
  };
}

export interface OtlpExporterOptions {
  /** The collector's traces URL, for example http://127.0.0.1:4318/v1/traces. */
  url: string;
  /** Extra request headers (collector authentication). Default none. */
  headers?: Record<string, string>;
  serviceName: string;
  logger: Logger;
  /** Longest wait for the collector, in ms. Default 10000. */
  timeoutMs?: number;
}

/** OTLP/HTTP with JSON bodies. A collector that is down costs dropped spans and one warning a minute. */
export class OtlpJsonSpanExporter implements SpanExporter {
  private lastWarning = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: OtlpExporterOptions) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const { url, headers = {}, serviceName, timeoutMs = 10_000 } = this.options;
    const sent = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(toOtlpJson(spans, serviceName)),
      signal: AbortSignal.timeout(timeoutMs),
    })
      .then(async (response) => {
        await response.arrayBuffer().catch(() => undefined);
        if (!response.ok) throw new Error(`collector answered ${response.status}`);
        done({ code: ExportResultCode.SUCCESS });
      })
      .catch((error: unknown) => {
        if (Date.now() - this.lastWarning > 60_000) {
          this.lastWarning = Date.now();
          this.options.logger.warn({ err: error, url, spans: spans.length }, 'spans not exported to the OTLP collector (dropped)');
        }
        done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      })
      .finally(() => this.pending.delete(sent));
    this.pending.add(sent);
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
  }
}

/** The Tracing the configuration asks for (OTEL_TRACES_EXPORTER and friends). */
export function tracingFromConfig(config: ObservabilityConfig, logger: Logger): Tracing {
  const sampleRatio = config.traceSampleRatio;
  switch (config.traceExporter) {
    case 'none':
      return createTracing({ exporter: 'none' });
    case 'log':
      return createTracing({ exporter: new LogSpanExporter(logger.child({ component: 'tracing' })), sampleRatio });
    case 'otlp':
      return createTracing({
        exporter: new OtlpJsonSpanExporter({ url: config.otlpEndpoint!, headers: config.otlpHeaders, serviceName: config.serviceName, logger }),
        sampleRatio,
      });
  }
}
