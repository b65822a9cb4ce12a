/**
 * One trace from the client through the gateway, the subgraphs and the vendor HTTP calls: the
 * client's `traceparent` is continued, each hop's span is the child of the previous one, and the
 * client's correlation id comes back on the error a failing vendor causes, in the logs of the
 * request, and on the run a mutation starts.
 */
import { Writable } from 'node:stream';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../../core/log';
import { SpanKind, createTracing, type Tracing } from '../../core/tracing';
import { readyOpportunities, waitForRun } from '../helpers/order-to-cash';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { until } from './helpers';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const traceparent = (traceId: string, spanId = CLIENT_SPAN) => `00-${traceId}-${spanId}-01`;

describe('tracing and correlation', () => {
  let system: TestSystem;
  let tracing: Tracing;
  const lines: Record<string, any>[] = [];
  let customerId: string;

  beforeAll(async () => {
    tracing = createTracing({ exporter: 'memory' });
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    system = await startTestSystem({
      env: { CONCORD_POLL_INTERVAL_MS: '0' },
      system: { tracing, logger: createLogger({ level: 'debug', destination }) },
    });
    const first = await system.gql('{ customers(first: 1) { edges { node { id } } } }');
    customerId = first.body.data.customers.edges[0].node.id;
  });
  afterAll(async () => {
    await system?.close();
    await tracing?.shutdown();
  });

  const spansOf = (traceId: string) => tracing.memory!.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const byId = (spans: ReadableSpan[]) => new Map(spans.map((s) => [s.spanContext().spanId, s]));
  /** The chain of span names from `span` up to the root of its trace. */
  const ancestry = (span: ReadableSpan, spans: ReadableSpan[]): string[] => {
    const index = byId(spans);
    const names: string[] = [];
    for (let at: ReadableSpan | undefined = span; at; at = at.parentSpanId ? index.get(at.parentSpanId) : undefined) names.push(at.name);
    return names;
  };
  /** Wait for the gateway's span of the trace: it ends when the response has gone. */
  const gatewaySpan = (traceId: string) => until('the gateway span', async () => spansOf(traceId).find((s) => s.kind === SpanKind.SERVER && !s.name.startsWith('subgraph')));

  it('continues the client trace through the gateway, every subgraph and every vendor call', async () => {
    const response = await system.gql(
      'query TracedCustomer($id: ID!) { customer(id: $id) { name contracts { status } erp { creditHold } } }',
      { id: customerId },
      { traceparent: traceparent(CLIENT_TRACE), 'x-correlation-id': 'trace-test-ok' },
    );
    expect(response.body.errors).toBeUndefined();
    const gateway = await gatewaySpan(CLIENT_TRACE);
    const spans = spansOf(CLIENT_TRACE);

    // The gateway's span is the child of the client's, named by the operation.
    expect(gateway.name).toBe('query TracedCustomer');
    expect(gateway.parentSpanId).toBe(CLIENT_SPAN);
    expect(gateway.attributes).toMatchObject({ 'graphql.operation.name': 'TracedCustomer', 'concord.correlation_id': 'trace-test-ok', 'http.response.status_code': 200 });

    // gateway -> subgraph fetch (client span) -> subgraph request (server span, from the traceparent it got) -> vendor call.
    const vendorOf: Record<string, string> = { crm: 'salesforce', billing: 'stripe', erp: 'netsuite' };
    for (const subgraph of ['crm', 'billing', 'erp']) {
      const server = spans.find((s) => s.kind === SpanKind.SERVER && s.name === `subgraph ${subgraph}`);
      expect(server).toBeDefined();
      expect(ancestry(server!, spans)).toEqual([`subgraph ${subgraph}`, `fetch ${subgraph}`, 'query TracedCustomer']);
      expect(byId(spans).get(server!.parentSpanId!)!.kind).toBe(SpanKind.CLIENT);
      const vendorCalls = spans.filter((s) => s.kind === SpanKind.CLIENT && s.attributes['concord.vendor'] === vendorOf[subgraph]);
      expect(vendorCalls.length).toBeGreaterThan(0);
      for (const call of vendorCalls) {
        expect(call.parentSpanId).toBe(server!.spanContext().spanId);
        expect(call.attributes).toMatchObject({ 'http.response.status_code': 200, 'concord.correlation_id': 'trace-test-ok' });
        expect(String(call.attributes['url.path'])).not.toContain('?');
      }
    }
    const salesforce = spans.find((s) => s.attributes['concord.vendor'] === 'salesforce')!;
    expect(salesforce.name).toBe('salesforce query.Account');
    expect(salesforce.attributes['concord.vendor.api_limit']).toBeGreaterThan(0);
    // Exactly one trace id from end to end: nothing in this request started a trace of its own.
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([CLIENT_TRACE]));
  });

  it('returns the client correlation id on a vendor error, with the failing vendor call in the same trace', async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    await simCall(system.simulators.stripe!.url, 'faults', { rate: 1, kinds: ['503'] });
    let response;
    try {
      response = await system.gql(
        'query TracedFailure($id: ID!) { customer(id: $id) { name contracts { status } } }',
        { id: customerId },
        { traceparent: traceparent(traceId), 'x-correlation-id': 'trace-test-failing' },
      );
    } finally {
      await simCall(system.simulators.stripe!.url, 'faults', { rate: 0 });
    }
    expect(response.headers.get('x-correlation-id')).toBe('trace-test-failing');
    // The CRM's part still comes back; billing's is an error in the API's contract.
    expect(response.body.data.customer.name).toEqual(expect.any(String));
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors![0].extensions).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      system: 'BILLING',
      retryable: true,
      correlationId: 'trace-test-failing',
    });

    const gateway = await gatewaySpan(traceId);
    expect(gateway.attributes['concord.error_codes']).toEqual(['VENDOR_UNAVAILABLE']);
    expect(gateway.status.code).toBe(2); // ERROR
    const spans = spansOf(traceId);
    const stripe = spans.filter((s) => s.attributes['concord.vendor'] === 'stripe');
    // The SDK's own retries are attempts of their own, each a span in the client's trace.
    expect(stripe.length).toBeGreaterThanOrEqual(1);
    for (const attempt of stripe) {
      expect(attempt.attributes['http.response.status_code']).toBe(503);
      expect(attempt.status.code).toBe(2);
      expect(ancestry(attempt, spans)).toEqual([attempt.name, 'subgraph billing', 'fetch billing', 'query TracedFailure']);
    }

    // The request's log line carries the correlation id, the trace id and the error code.
    const logged = await until('the request log line', async () =>
      lines.find((l) => l.msg === 'graphql request' && l.correlationId === 'trace-test-failing'),
    );
    expect(logged).toMatchObject({ traceId, operation: 'TracedFailure', status: 200, errors: ['VENDOR_UNAVAILABLE'] });
  });

  it('mints a correlation id and a trace when the client sends neither', async () => {
    const response = await system.gql('query Untraced { customers(first: 1) { edges { node { id } } } }');
    const correlationId = response.headers.get('x-correlation-id')!;
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const gateway = await until('the minted trace', async () =>
      tracing.memory!.getFinishedSpans().find((s) => s.name === 'query Untraced' && s.attributes['concord.correlation_id'] === correlationId),
    );
    expect(gateway.parentSpanId).toBeUndefined();
    expect(spansOf(gateway.spanContext().traceId).some((s) => s.attributes['concord.vendor'] === 'salesforce')).toBe(true);
  });

  it('carries the correlation id into the run a mutation starts: its logs, its workers\' traces and its vendor writes', async () => {
    const traceId = '0123456789abcdef0123456789abcdef';
    const [opportunity] = await readyOpportunities(system.simulators.salesforce!.url);
    const started = await system.gql(
      'mutation TracedStart($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id correlationId } }',
      { input: { opportunityId: opportunity.id, idempotencyKey: `traced-${opportunity.id}` } },
      { traceparent: traceparent(traceId), 'x-correlation-id': 'trace-test-run' },
    );
    const run = started.body.data.startOrderToCash;
    expect(run.correlationId).toBe('trace-test-run');
    expect((await waitForRun(system, run.id)).status).toBe('COMPLETED');

    // The deal is read inside the request: that Salesforce call is in the client's trace.
    const inRequest = spansOf(traceId);
    const readDeal = inRequest.find((s) => s.name === 'salesforce query.Opportunity');
    expect(readDeal).toBeDefined();
    expect(ancestry(readDeal!, inRequest)).toEqual(['salesforce query.Opportunity', 'subgraph orchestration', 'fetch orchestration', 'mutation TracedStart']);
    // The steps run later, on workers: each job is a trace of its own, linked to what enqueued it,
    // with the run's correlation id on it and on its vendor calls.
    const jobs = tracing.memory!.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER && s.attributes['concord.run_id'] === run.id);
    expect(jobs.length).toBeGreaterThan(3);
    expect(jobs.every((j) => j.attributes['concord.correlation_id'] === 'trace-test-run')).toBe(true);
    expect(jobs[0].links[0]?.context.traceId).toBe(traceId);
    const posting = tracing.memory!.getFinishedSpans().find((s) => s.attributes['concord.vendor'] === 'netsuite' && s.attributes['concord.correlation_id'] === 'trace-test-run' && s.attributes['http.request.method'] !== 'GET');
    expect(posting).toBeDefined();
    expect(jobs.map((j) => j.spanContext().traceId)).toContain(posting!.spanContext().traceId);

    // Every log line of the run names it: the engine's own, and the request's (through the scope).
    const runLines = lines.filter((l) => l.runId === run.id);
    expect(runLines.length).toBeGreaterThan(5);
    expect(runLines.every((l) => l.correlationId === 'trace-test-run')).toBe(true);
    expect(runLines.find((l) => l.msg === 'run started')).toMatchObject({ traceId });
    // The vendor writes carry it too (Stripe metadata).
    const stripe = await simCall(system.simulators.stripe!.url, 'state');
    expect(stripe.subscriptions.some((s: any) => s.metadata?.concord_correlation_id === 'trace-test-run')).toBe(true);
  });
});
