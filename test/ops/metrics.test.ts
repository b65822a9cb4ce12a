/**
 * GET /metrics after real traffic: a query, a run that completes after vendor rate limiting made a
 * step retry, a run dead-lettered by a closed ERP period, a flood refused by the gateway's rate
 * limit, a refused operation and a live subscription. Every family the issue lists is found with
 * its labels and a non-zero value. The same scenario runs against the in-memory and the Redis
 * (BullMQ) queues and store, whose backlog and counts are read at scrape time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mintToken } from '../../gateway/token';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL, testPrefix } from '../helpers/redis';
import { TEST_JWT_SECRET, simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { subscribe, wsClient } from '../events/helpers';
import { find, scrape, total, type Sample } from './helpers';

const MODES = [
  { mode: 'embedded', env: () => ({}) as Record<string, string> },
  { mode: 'redis', env: (prefix: string) => ({ REDIS_URL, CONCORD_REDIS_PREFIX: prefix }) },
];

describe.each(MODES)('metrics at /metrics ($mode)', ({ mode, env }) => {
  let system: TestSystem;
  const keys = testPrefix(`ops-metrics-${mode}`);
  let opportunities: { id: string }[];
  let whileWaiting: Sample[];
  let final: Sample[];
  let scrapeText = '';

  beforeAll(async () => {
    system = await startTestSystem({
      // Every subject may burst 300 requests, then 5 a second: the test's own polling (about 100
      // requests) stays within it however slow the machine; the flood of 400 below does not.
      env: { ...env(keys.prefix), CONCORD_RATE_LIMIT_RPS: '5', CONCORD_RATE_LIMIT_BURST: '300', CONCORD_POLL_INTERVAL_MS: '0' },
    });
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
    const sub = subscribe(wsClient(system.gateway.url, system.token), 'subscription Runs { businessEvents(types: [RUN_STATUS_CHANGED]) { id type run { id status } } }');

    // 1. A unified-view query (gateway, subgraph fetches, vendor calls, Salesforce's API usage).
    const query = await system.gql('query OpsMetricsCustomers { customers(first: 5) { edges { node { id name contracts { status } erp { creditHold } } } } }');
    expect(query.body.errors).toBeUndefined();

    // 2. A run whose billing steps meet Stripe 429s: the step waits to retry, then completes.
    // startOrderToCash reads billing before accepting the deal (exactly once per deal), so Stripe
    // starts refusing only once the run is accepted: the ERP's first step is held up meanwhile, so
    // the billing steps that follow it are the ones that meet the 429s.
    await simCall(system.simulators.netsuite!.url, 'faults', { rate: 0, latencyMs: 3000 });
    const limited = await system.gql(
      'mutation StartRun($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { id } }',
      { input: { opportunityId: opportunities[0].id, idempotencyKey: `metrics-429-${mode}` } },
    );
    expect(limited.body.errors).toBeUndefined();
    await simCall(system.simulators.stripe!.url, 'faults', { rate: 1, kinds: ['429'] });
    await simCall(system.simulators.netsuite!.url, 'faults', { rate: 0, latencyMs: 0 });
    const limitedId = limited.body.data.startOrderToCash.id;
    await waitForRun(system, limitedId, ['WAITING_RETRY']);
    whileWaiting = (await scrape(system.gateway.url)).samples;
    await simCall(system.simulators.stripe!.url, 'faults', { rate: 0 });
    expect((await waitForRun(system, limitedId)).status).toBe('COMPLETED');

    // 3. A run dead-lettered: the ERP period it posts into is closed.
    const period = new Date().toISOString().slice(0, 7);
    await simCall(system.simulators.netsuite!.url, 'periods', { closed: [period] });
    try {
      const failing = await startRun(system, opportunities[1].id, `metrics-closed-${mode}`);
      expect((await waitForRun(system, failing.body.data.startOrderToCash.id)).status).toBe('DEAD_LETTERED');
    } finally {
      await simCall(system.simulators.netsuite!.url, 'periods', { closed: [] });
    }

    // 4. A flood from one subject beyond its burst, and an operation its token may not run.
    const flooder = await mintToken({ secret: TEST_JWT_SECRET, subject: 'flooder', scopes: ['customers:read'] });
    const flood = await Promise.all(
      Array.from({ length: 400 }, () =>
        fetch(`${system.gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${flooder}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        }).then((r) => r.status),
      ),
    );
    expect(flood.filter((status) => status === 429).length).toBeGreaterThan(0);
    const reader = await mintToken({ secret: TEST_JWT_SECRET, subject: 'reader', scopes: ['customers:read'] });
    const forbidden = await system.gql('query OpsMetricsForbidden { deadLetters { edges { cursor } } }', {}, { authorization: `Bearer ${reader}` });
    expect(forbidden.status).toBe(403);

    await sub.until((payloads) => payloads.length >= 5);
    const scraped = await scrape(system.gateway.url);
    expect(scraped.status).toBe(200);
    final = scraped.samples;
    scrapeText = scraped.text;
    sub.stop();
  }, 55_000);

  afterAll(async () => {
    await system?.close();
    await keys.cleanup();
  });

  it('serves the Prometheus text format', async () => {
    const response = await fetch(`${system.gateway.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scrapeText).toContain('# TYPE concord_gateway_request_duration_seconds histogram');
    expect(scrapeText).toContain('# HELP concord_vendor_api_calls_total');
  });

  it('times gateway requests by operation, type and status, and counts errors and rate-limited requests', () => {
    expect(total(final, 'concord_gateway_request_duration_seconds_count', { operation: 'OpsMetricsCustomers', type: 'query', status: '200' })).toBe(1);
    expect(total(final, 'concord_gateway_request_duration_seconds_count', { operation: 'StartRun', type: 'mutation', status: '200' })).toBe(1);
    expect(total(final, 'concord_gateway_request_duration_seconds_sum', { operation: 'OpsMetricsCustomers' })).toBeGreaterThan(0);
    expect(total(final, 'concord_gateway_request_duration_seconds_count', { operation: '(none)', status: '429' })).toBeGreaterThan(0);
    // Refused before admission: no operation name is trusted yet.
    expect(total(final, 'concord_gateway_request_duration_seconds_count', { operation: '(none)', status: '403' })).toBe(1);
    expect(total(final, 'concord_gateway_rate_limited_total')).toBeGreaterThan(0);
    expect(total(final, 'concord_gateway_errors_total', { code: 'RATE_LIMITED' })).toBe(total(final, 'concord_gateway_rate_limited_total'));
    expect(total(final, 'concord_gateway_errors_total', { code: 'FORBIDDEN' })).toBeGreaterThanOrEqual(1);
    // Buckets are cumulative and end at +Inf = count.
    const buckets = find(final, 'concord_gateway_request_duration_seconds_bucket', { operation: 'OpsMetricsCustomers', status: '200' });
    expect(buckets.find((b) => b.labels.le === '+Inf')!.value).toBe(1);
  });

  it('times subgraph fetches by subgraph and status', () => {
    for (const subgraph of ['crm', 'billing', 'erp', 'orchestration']) {
      expect(total(final, 'concord_subgraph_fetch_duration_seconds_count', { subgraph, status: '200' })).toBeGreaterThan(0);
    }
  });

  it('counts vendor calls by system, vendor, operation and status, with vendor 429s', () => {
    const calls = find(final, 'concord_vendor_api_calls_total');
    for (const [system, vendor] of [['CRM', 'salesforce'], ['BILLING', 'stripe'], ['ERP', 'netsuite']]) {
      const ok = calls.filter((s) => s.labels.system === system && s.labels.vendor === vendor && s.labels.status === '200');
      expect(ok.length).toBeGreaterThan(0);
      expect(ok.every((s) => s.labels.operation && s.value > 0)).toBe(true);
    }
    expect(total(final, 'concord_vendor_api_calls_total', { vendor: 'stripe', status: '429' })).toBeGreaterThan(0);
    expect(total(final, 'concord_vendor_rate_limited_total', { vendor: 'stripe' })).toBe(total(final, 'concord_vendor_api_calls_total', { vendor: 'stripe', status: '429' }));
    expect(total(final, 'concord_vendor_api_call_duration_seconds_count', { vendor: 'netsuite' })).toBeGreaterThan(0);
  });

  it('reports vendor limit headroom: Salesforce from Sforce-Limit-Info, Stripe per second, NetSuite concurrency', () => {
    const used = total(final, 'concord_vendor_api_limit_used', { vendor: 'salesforce', kind: 'daily_requests' });
    const max = total(final, 'concord_vendor_api_limit_max', { vendor: 'salesforce', kind: 'daily_requests' });
    expect(used).toBeGreaterThan(0);
    expect(max).toBeGreaterThan(used);
    expect(total(final, 'concord_vendor_api_limit_headroom_ratio', { vendor: 'salesforce' })).toBeCloseTo(1 - used / max, 6);
    expect(total(final, 'concord_vendor_api_limit_max', { vendor: 'stripe', kind: 'requests_per_second' })).toBe(25);
    expect(total(final, 'concord_vendor_api_limit_max', { vendor: 'netsuite', kind: 'concurrent_requests' })).toBe(5);
    expect(total(final, 'concord_vendor_api_limit_used', { vendor: 'stripe', kind: 'requests_per_second' })).toBeGreaterThan(0);
  });

  it('counts retries, dead letters and run durations by outcome', () => {
    expect(total(final, 'concord_o2c_runs_started_total')).toBe(2);
    const retries = find(final, 'concord_o2c_step_retries_total', { system: 'BILLING', code: 'VENDOR_RATE_LIMITED' });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0].labels.step).toBe('billingCustomer');
    expect(retries[0].value).toBeGreaterThan(0);
    expect(total(final, 'concord_o2c_dead_lettered_total', { step: 'erpPosting', system: 'ERP', code: 'PERIOD_CLOSED' })).toBe(1);
    expect(total(final, 'concord_o2c_run_duration_seconds_count', { outcome: 'COMPLETED' })).toBe(1);
    expect(total(final, 'concord_o2c_run_duration_seconds_count', { outcome: 'DEAD_LETTERED' })).toBe(1);
    expect(total(final, 'concord_o2c_run_duration_seconds_sum', { outcome: 'COMPLETED' })).toBeGreaterThan(0);
  });

  it('reads the queue backlog, the runs per status and the open dead letters at scrape time', () => {
    // While the rate-limited run waited, its next attempt was a job (delayed, then waiting or active).
    expect(total(whileWaiting, 'concord_queue_jobs')).toBeGreaterThan(0);
    expect(find(final, 'concord_queue_jobs').map((s) => `${s.labels.lane}/${s.labels.state}`).sort()).toEqual(
      ['BILLING', 'CRM', 'ERP'].flatMap((lane) => ['active', 'delayed', 'waiting'].map((state) => `${lane}/${state}`)).sort(),
    );
    // Waiting to retry, or already on its next attempt when the scrape came.
    expect(total(whileWaiting, 'concord_o2c_runs', { status: 'WAITING_RETRY' }) + total(whileWaiting, 'concord_o2c_runs', { status: 'RUNNING' })).toBe(1);
    expect(total(final, 'concord_o2c_runs', { status: 'COMPLETED' })).toBe(1);
    expect(total(final, 'concord_o2c_runs', { status: 'DEAD_LETTERED' })).toBe(1);
    expect(total(final, 'concord_o2c_dead_letters')).toBe(1);
  });

  it('counts subscription connections and deliveries', () => {
    expect(total(final, 'concord_subscription_connections')).toBe(1);
    expect(total(final, 'concord_subscriptions_active')).toBe(1);
    expect(total(final, 'concord_subscription_deliveries_total')).toBeGreaterThanOrEqual(5);
  });

  it('serves every metric the Grafana dashboard (grafana/concord.json) charts', () => {
    const dashboard = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'grafana', 'concord.json'), 'utf8'));
    const panels = dashboard.panels as { id: number; gridPos: { x: number; w: number }; targets?: { expr: string }[] }[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels) expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    const exprs = panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    const names = new Set(exprs.flatMap((expr) => expr.match(/\b(?:concord|process|nodejs)_[a-z0-9_]+/g) ?? []));
    expect(names.size).toBeGreaterThan(15);
    for (const name of names) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(`${name}: ${scrapeText.includes(`# TYPE ${family} `)}`).toBe(`${name}: true`);
    }
  });

  it('includes the Node.js process metrics', () => {
    expect(total(final, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(find(final, 'nodejs_eventloop_lag_p99_seconds')).toHaveLength(1);
  });
});

describe('metrics at /metrics with CONCORD_METRICS_TOKEN', () => {
  it('is served only with the bearer token', async () => {
    const guarded = await startTestSystem({ env: { CONCORD_METRICS_TOKEN: 'scrape-secret-0123456789', CONCORD_POLL_INTERVAL_MS: '0' } });
    try {
      expect((await scrape(guarded.gateway.url)).status).toBe(401);
      expect((await scrape(guarded.gateway.url, { authorization: 'Bearer wrong' })).status).toBe(401);
      const ok = await scrape(guarded.gateway.url, { authorization: 'Bearer scrape-secret-0123456789' });
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('concord_o2c_dead_letters');
    } finally {
      await guarded.close();
    }
  });
});
