/**
 * The parts of tracing that need no system: W3C propagation into a vendor HTTP call, the OTLP/JSON
 * exporter against a collector stand-in, span log lines, the log mixin, and the histogram quantile
 * behind the console's latency chart.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { SpanKind, createTracing, startVendorSpan } from '../../core/tracing';
import { LogSpanExporter, OtlpJsonSpanExporter, tracingFromConfig } from '../../core/tracing-export';
import { quantileFromBuckets } from '../../observability/history';
import { createNetSuiteClient } from '../../vendors/netsuite/client';

/** A server that records each request's headers and body, answering 200 {}. */
async function recorder() {
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function captureLogs() {
  const lines: Record<string, any>[] = [];
  const destination = new Writable({
    write(chunk, _e, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('tracing units', () => {
  it('sends the vendor span\'s traceparent with a NetSuite call, and ends the span with its status', async () => {
    const vendor = await recorder();
    const tracing = createTracing({ exporter: 'memory' });
    try {
      const client = createNetSuiteClient({ baseUrl: vendor.url, accountId: '1', consumerKey: 'k', consumerSecret: 's', tokenId: 't', tokenSecret: 'x' });
      const root = tracing.startSpan('job', { kind: SpanKind.CONSUMER });
      await tracing.run(root, () => client.request({ method: 'GET', path: '/services/rest/record/v1/customer/1', query: { q: 'secret' }, operation: 'customer.get' }), 'corr-1');
      root.end();
      const [call] = tracing.memory!.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
      expect(call.name).toBe('netsuite customer.get');
      expect(call.parentSpanId).toBe(root.spanContext().spanId);
      expect(call.attributes).toMatchObject({ 'http.response.status_code': 200, 'url.path': '/services/rest/record/v1/customer/1', 'concord.correlation_id': 'corr-1' });
      const { traceId, spanId } = call.spanContext();
      expect(vendor.seen[0].headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    } finally {
      await vendor.close();
    }
  });

  it('sends nothing and records nothing outside a traced flow', async () => {
    const span = startVendorSpan({ system: 'ERP', vendor: 'netsuite', operation: 'x', method: 'GET', url: 'http://h/p' });
    expect(span.headers).toEqual({});
    span.end(200);
  });

  it('propagates ids without recording when the exporter is none', () => {
    const tracing = createTracing();
    const parent = tracing.extract({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const span = tracing.startSpan('request', { parent });
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('ignores a malformed traceparent and starts a new trace', () => {
    const tracing = createTracing({ exporter: 'memory' });
    const span = tracing.startSpan('request', { parent: tracing.extract({ traceparent: '00-zz-not-a-trace' }) });
    span.end();
    expect(tracing.memory!.getFinishedSpans()[0].parentSpanId).toBeUndefined();
  });

  it('exports OTLP/JSON to a collector: hex ids, nanosecond times, kinds, statuses and attributes', async () => {
    const collector = await recorder();
    const { logger } = captureLogs();
    const exporter = new OtlpJsonSpanExporter({ url: `${collector.url}/v1/traces`, serviceName: 'concord-test', logger, headers: { authorization: 'Bearer c' } });
    const tracing = createTracing({ exporter });
    try {
      const server = tracing.startSpan('query Q', { kind: SpanKind.SERVER, attributes: { 'graphql.operation.name': 'Q', 'http.response.status_code': 200, ratio: 0.5, flag: true, codes: ['A', 'B'] } });
      const child = tracing.run(server, () => tracing.startSpan('subgraph crm', { kind: SpanKind.CLIENT }));
      child.setStatus({ code: 2, message: 'HTTP 503' });
      child.end();
      server.end();
      await tracing.shutdown();
      expect(collector.seen).toHaveLength(1);
      const { url, headers, body } = collector.seen[0];
      expect(url).toBe('/v1/traces');
      expect(headers['content-type']).toBe('application/json');
      expect(headers.authorization).toBe('Bearer c');
      const sent = JSON.parse(body).resourceSpans[0];
      expect(sent.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'concord-test' } });
      const spans = sent.scopeSpans[0].spans;
      const [c, s] = [spans.find((x: any) => x.name === 'subgraph crm'), spans.find((x: any) => x.name === 'query Q')];
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(c.traceId).toBe(s.traceId);
      expect(c.parentSpanId).toBe(s.spanId);
      expect(s.kind).toBe(2); // SPAN_KIND_SERVER
      expect(c.kind).toBe(3); // SPAN_KIND_CLIENT
      expect(c.status).toEqual({ code: 2, message: 'HTTP 503' });
      expect(BigInt(s.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(s.startTimeUnixNano));
      expect(s.attributes).toEqual(
        expect.arrayContaining([
          { key: 'graphql.operation.name', value: { stringValue: 'Q' } },
          { key: 'http.response.status_code', value: { intValue: '200' } },
          { key: 'ratio', value: { doubleValue: 0.5 } },
          { key: 'flag', value: { boolValue: true } },
          { key: 'codes', value: { arrayValue: { values: [{ stringValue: 'A' }, { stringValue: 'B' }] } } },
        ]),
      );
    } finally {
      await collector.close();
    }
  });

  it('writes one JSON log line per span with the log exporter (errors at info)', async () => {
    const { lines, logger } = captureLogs();
    const tracing = createTracing({ exporter: new LogSpanExporter(logger) });
    const span = tracing.startSpan('salesforce query.Account', { kind: SpanKind.CLIENT });
    span.setStatus({ code: 2, message: 'HTTP 503' });
    span.end();
    await tracing.shutdown();
    expect(lines[0]).toMatchObject({ msg: 'span', span: 'salesforce query.Account', status: 'ERROR', statusMessage: 'HTTP 503', level: 30 });
    expect(lines[0].traceId).toBe(span.spanContext().traceId);
  });

  it('builds the tracing the configuration asks for', async () => {
    const { logger } = captureLogs();
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/between 0 and 1/);
    const config = loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20x,x-team=ops' });
    expect(config.observability).toMatchObject({ traceExporter: 'otlp', otlpEndpoint: 'http://collector:4318/v1/traces', otlpHeaders: { authorization: 'Bearer x', 'x-team': 'ops' } });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).observability.traceExporter).toBe('log');
    expect(loadConfig({}).observability).toMatchObject({ traceExporter: 'none', serviceName: 'concord', traceSampleRatio: 1, metricsToken: null, opsSampleMs: 5000 });
    const tracing = tracingFromConfig(loadConfig({ OTEL_TRACES_EXPORTER: 'log' }).observability, logger);
    expect(tracing.startSpan('x').isRecording()).toBe(true);
    await tracing.shutdown();
  });

  it('puts the scope\'s correlation and trace ids on every log line, once', () => {
    const { lines, logger } = captureLogs();
    const tracing = createTracing({ exporter: 'memory' });
    const span = tracing.startSpan('request', { kind: SpanKind.SERVER });
    tracing.run(span, () => {
      logger.info('inside');
      logger.child({ correlationId: 'bound' }).info('child');
      logger.info({ correlationId: 'explicit' }, 'explicit');
    }, 'scoped');
    logger.info('outside');
    const { traceId, spanId } = span.spanContext();
    expect(lines[0]).toMatchObject({ msg: 'inside', correlationId: 'scoped', traceId, spanId });
    expect(lines[1]).toMatchObject({ msg: 'child', correlationId: 'bound', traceId });
    expect(lines[2]).toMatchObject({ msg: 'explicit', correlationId: 'explicit', traceId });
    expect(lines[3].traceId).toBeUndefined();
    expect(lines[3].correlationId).toBeUndefined();
  });
});

describe('histogram quantiles (the console latency chart)', () => {
  it('interpolates within the bucket, as histogram_quantile does', () => {
    // 10 requests: 5 under 10 ms, 4 between 10 and 50 ms, 1 between 50 and 100 ms.
    const buckets: [number, number][] = [[0.01, 5], [0.05, 9], [0.1, 10], [Number.POSITIVE_INFINITY, 10]];
    expect(quantileFromBuckets(0.5, buckets)).toBeCloseTo(0.01, 6);
    expect(quantileFromBuckets(0.9, buckets)).toBeCloseTo(0.05, 6);
    expect(quantileFromBuckets(0.95, buckets)).toBeCloseTo(0.075, 6);
    expect(quantileFromBuckets(0.5, [[0.1, 0], [Number.POSITIVE_INFINITY, 0]])).toBeNull();
    // Beyond the last finite bucket: its bound.
    expect(quantileFromBuckets(0.99, [[0.1, 1], [Number.POSITIVE_INFINITY, 10]])).toBe(0.1);
  });
});
