/**
 * Prometheus metrics (prom-client), served at GET /metrics. One `Metrics` per process, on its own
 * Registry passed through the options (never prom-client's global one: tests start many systems
 * in one process). Components report through listener functions they already have (the adapters'
 * `onCall`, the engine's `onRunChanged`) or through small hooks (gateway requests and subgraph
 * fetches); state that lives elsewhere (queue backlog, runs per status, subscriptions) is read when
 * Prometheus scrapes.
 *
 * Families (every name starts with `concord_`; grafana/concord.json charts them):
 *
 *   gateway_request_duration_seconds{operation,type,status}   histogram; _count is the request count
 *   gateway_errors_total{code}                                 GraphQL errors answered, by API.md code
 *   gateway_rate_limited_total                                 requests refused with 429 RATE_LIMITED
 *   gateway_shed_total{reason}                                 requests refused with 503 at capacity (gateway/overload.ts)
 *   gateway_executions_in_flight, gateway_executions_queued    executions running and waiting now
 *   subgraph_fetches_deduplicated_total{subgraph}              fetches answered by an identical one in flight
 *   subgraph_fetch_duration_seconds{subgraph,status}           gateway -> subgraph requests
 *   vendor_api_calls_total{system,vendor,operation,status}     every vendor HTTP call (status 0: none came)
 *   vendor_api_call_duration_seconds{vendor,operation}         histogram
 *   vendor_rate_limited_total{vendor,operation}                vendor 429s
 *   vendor_api_limit_used / _max / _headroom_ratio{vendor,kind} consumption against each vendor's limit
 *   o2c_runs_started_total, o2c_run_duration_seconds{outcome}  runs, and start-to-settle time per outcome
 *   o2c_step_retries_total{step,system,code}                   failed step attempts that will be retried
 *   o2c_dead_lettered_total{step,system,code}                  runs dead-lettered (failure hotspots)
 *   o2c_runs{status}, o2c_dead_letters                         runs per status now, open dead letters now
 *   queue_jobs{lane,state}                                     work-queue backlog (waiting, active, delayed)
 *   subscription_connections, subscriptions_active, subscription_deliveries_total
 *   plus Node.js process metrics (process_*, nodejs_*) unless turned off
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../core/log';
import type { VendorCall } from '../core/vendor-call';
import type { Run, RunStatus } from '../subgraphs/orchestration/model';
import type { WorkQueues } from '../subgraphs/orchestration/queue';
import type { RunStore } from '../subgraphs/orchestration/store';
import type { CapacityGovernor, CapacityUsage } from '../core/capacity';
import { createVendorUsage, type VendorLimitPolicy, type VendorUsageTracker } from './vendor-usage';

export interface MetricsOptions {
  /** Registry the families are registered in. Default: a new Registry. */
  registry?: Registry;
  /** Node.js process metrics (CPU, memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
  /** How each vendor's limit is known (declared by each vendor module: vendors/index.ts). Default none. */
  vendorLimits?: Record<string, VendorLimitPolicy>;
  /** Distinct operation names kept as label values; later ones are counted as 'other'. Default 200. */
  maxOperations?: number;
  /** Told when a scrape-time source fails (Redis down). Default: silent. */
  logger?: Logger;
}

export interface SubscriptionStats {
  connections: number;
  subscriptions: number;
  delivered: number;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RUN_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 14400, 86400];
const SETTLED: readonly RunStatus[] = ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'];
/** Runs remembered to tell a change from a repeat (per process; the oldest are forgotten first). */
const RUNS_REMEMBERED = 10_000;
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/** A label that takes at most `max` distinct values (a client picks operation names). */
function boundedLabel(max: number): (value: string) => string {
  const known = new Set<string>();
  return (value) => {
    if (known.has(value)) return value;
    if (known.size >= max) return 'other';
    known.add(value);
    return value;
  };
}

/** One read shared by the gauges of one scrape (collected one after another); `reset` starts a scrape. */
function sharedRead<T>(read: () => Promise<T>, ttlMs = 250): { get(): Promise<T>; reset(): void } {
  let at = 0;
  let pending: Promise<T> | null = null;
  return {
    get() {
      if (!pending || Date.now() - at > ttlMs) {
        at = Date.now();
        pending = read();
      }
      return pending;
    },
    reset() {
      pending = null;
    },
  };
}

export function createMetrics(options: MetricsOptions = {}) {
  const { registry = new Registry(), processMetrics = true, vendorLimits = {}, maxOperations = 200, logger } = options;
  const registers = [registry];
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const operationLabel = boundedLabel(maxOperations);
  const vendors: VendorUsageTracker = createVendorUsage(vendorLimits);
  const sources: {
    queues?: Pick<WorkQueues, 'backlog'>;
    /** The process's capacity governor (core/capacity.ts): each vendor account's shared budget as it stands. */
    capacity?: Pick<CapacityGovernor, 'usage'>;
    runs?: Pick<RunStore, 'countByStatus'>;
    subscriptions?: () => SubscriptionStats;
    /** Workflow runs (customer sync, amendment, repair): their dead letters. */
    workflowRuns?: Pick<RunStore, 'countByStatus'>;
    /** The latest reconciliation reports (newest first) and the schedule's interval in seconds (0: none). */
    reconciliation?: { latest(count: number): Promise<{ status: string; finishedAt: string | null; driftCount: number }[]>; intervalSeconds: number };
    /** Whether this process is ready (the gateway's /ready). */
    ready?: () => Promise<boolean>;
    /** The gateway's executions in flight and queued (gateway/overload.ts). */
    executions?: () => { inFlight: number; queued: number };
  } = {};
  const warn = (what: string) => (error: unknown) => logger?.warn({ err: error }, `metrics: ${what} unavailable for this scrape`);
  const runCounts = sharedRead(async () => (sources.runs ? sources.runs.countByStatus().catch(warn('run counts')) : undefined));

  const gatewayRequest = new Histogram({
    name: 'concord_gateway_request_duration_seconds',
    help: 'GraphQL requests at the gateway, from arrival to the last byte sent, by operation name, operation type and HTTP status',
    labelNames: ['operation', 'type', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const gatewayErrors = new Counter({
    name: 'concord_gateway_errors_total',
    help: 'GraphQL errors in gateway responses, by extensions.code',
    labelNames: ['code'] as const,
    registers,
  });
  const gatewayRateLimited = new Counter({
    name: 'concord_gateway_rate_limited_total',
    help: 'Requests the gateway refused with 429 RATE_LIMITED (per-subject token bucket)',
    registers,
  });
  const gatewayShed = new Counter({
    name: 'concord_gateway_shed_total',
    help: 'Requests the gateway refused with 503 SERVICE_UNAVAILABLE at capacity: the queue was full (queue_full) or the request waited too long in it (queue_timeout)',
    labelNames: ['reason'] as const,
    registers,
  });
  new Gauge({
    name: 'concord_gateway_executions_in_flight',
    help: 'GraphQL executions running now at the gateway (at most CONCORD_MAX_IN_FLIGHT)',
    registers,
    collect() {
      if (sources.executions) this.set(sources.executions().inFlight);
    },
  });
  new Gauge({
    name: 'concord_gateway_executions_queued',
    help: 'GraphQL requests waiting now for an execution slot (at most CONCORD_QUEUE_LENGTH)',
    registers,
    collect() {
      if (sources.executions) this.set(sources.executions().queued);
    },
  });
  const fetchesShared = new Counter({
    name: 'concord_subgraph_fetches_deduplicated_total',
    help: 'Subgraph fetches not sent because an identical one (same subgraph, operation, variables and caller) was in flight; each got a copy of its answer',
    labelNames: ['subgraph'] as const,
    registers,
  });
  const entityCacheReads = new Counter({
    name: 'concord_entity_cache_reads_total',
    help: 'Entity reads of the subgraphs by cache outcome: hit (served from the entity cache) or miss (read from the vendor); kind is system.vendor.entity',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const subgraphFetch = new Histogram({
    name: 'concord_subgraph_fetch_duration_seconds',
    help: 'Requests from the gateway to subgraphs, by subgraph and HTTP status (0: no response)',
    labelNames: ['subgraph', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const vendorCalls = new Counter({
    name: 'concord_vendor_api_calls_total',
    help: 'Vendor API HTTP calls, by system, vendor, adapter operation and HTTP status (0: no response)',
    labelNames: ['system', 'vendor', 'operation', 'status'] as const,
    registers,
  });
  const vendorDuration = new Histogram({
    name: 'concord_vendor_api_call_duration_seconds',
    help: 'Vendor API HTTP call durations, by vendor and adapter operation',
    labelNames: ['vendor', 'operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const vendorRateLimited = new Counter({
    name: 'concord_vendor_rate_limited_total',
    help: 'Vendor API calls answered 429 (rate limited by the vendor)',
    labelNames: ['vendor', 'operation'] as const,
    registers,
  });
  const limitLabels = ['vendor', 'kind'] as const;
  /** Each limit gauge sets its own values at scrape time, from the same usage figures. */
  const limitGauge = (name: string, help: string, value: (limit: { used: number; max: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: limitLabels,
      registers,
      collect() {
        for (const usage of vendors.usage()) {
          if (usage.limit && usage.limit.max > 0) this.set({ vendor: usage.vendor, kind: usage.limit.kind.toLowerCase() }, value(usage.limit));
        }
      },
    });
  limitGauge(
    'concord_vendor_api_limit_used',
    'Vendor API consumption against its limit: daily_requests (Sforce-Limit-Info), requests_per_second and concurrent_requests (busiest second of the last minute)',
    (limit) => limit.used,
  );
  limitGauge('concord_vendor_api_limit_max', 'The vendor API limit that concord_vendor_api_limit_used is measured against', (limit) => limit.max);
  limitGauge('concord_vendor_api_limit_headroom_ratio', 'Share of the vendor API limit left: 1 - used / max', (limit) => Math.max(0, 1 - limit.used / limit.max));

  // The shared budget of each vendor account, read from Redis (or memory) at scrape time: the same
  // figures in every process's /metrics, since every process draws on the same budget.
  let capacityRead: Promise<CapacityUsage[]> | null = null;
  const capacityUsage = () => (capacityRead ??= (sources.capacity?.usage() ?? Promise.resolve([])).catch((error: unknown) => {
    logger?.warn({ err: error }, 'vendor capacity could not be read for /metrics');
    return [];
  }));
  const capacityGauge = (name: string, help: string, value: (usage: CapacityUsage) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['vendor'] as const,
      registers,
      async collect() {
        this.reset();
        for (const usage of await capacityUsage()) {
          const figure = value(usage);
          if (figure !== null) this.set({ vendor: usage.vendor }, figure);
        }
      },
    });
  capacityGauge('concord_vendor_capacity_in_flight', 'Calls in flight on the vendor account, across all processes (concurrency budget)', (u) => u.concurrency?.inFlight ?? null);
  capacityGauge('concord_vendor_capacity_concurrency_max', 'The vendor account\'s concurrency budget (CONCORD_ERP_CONCURRENCY)', (u) => u.concurrency?.max ?? null);
  capacityGauge('concord_vendor_capacity_started_in_window', 'Calls started on the vendor account in the current rate window, across all processes', (u) => u.perSecond?.started ?? null);
  capacityGauge('concord_vendor_capacity_rate_max', 'The vendor account\'s rate budget, calls a second (CONCORD_STRIPE_RATE_PER_SECOND)', (u) => u.perSecond?.max ?? null);
  capacityGauge('concord_vendor_capacity_waiting', 'Calls of this process waiting for room in the vendor account\'s budget', (u) => u.queuedHere);

  const runsStarted = new Counter({ name: 'concord_o2c_runs_started_total', help: 'Order-to-cash runs started', registers });
  const runDuration = new Histogram({
    name: 'concord_o2c_run_duration_seconds',
    help: 'Order-to-cash runs from start to settling, by outcome (COMPLETED, DEAD_LETTERED, COMPENSATED); a redriven run counts again when it settles again',
    labelNames: ['outcome'] as const,
    buckets: RUN_BUCKETS,
    registers,
  });
  const stepRetries = new Counter({
    name: 'concord_o2c_step_retries_total',
    help: 'Failed order-to-cash step attempts that will be retried by policy, by step, system and error code',
    labelNames: ['step', 'system', 'code'] as const,
    registers,
  });
  const deadLettered = new Counter({
    name: 'concord_o2c_dead_lettered_total',
    help: 'Order-to-cash runs dead-lettered, by the step that failed, its system and error code',
    labelNames: ['step', 'system', 'code'] as const,
    registers,
  });
  new Gauge({
    name: 'concord_o2c_runs',
    help: 'Order-to-cash runs per status now (the run store: every process\'s runs)',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      const counts = await runCounts.get();
      if (counts) for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'concord_o2c_dead_letters',
    help: 'Dead-lettered order-to-cash runs waiting for an operator (retry or cancel)',
    registers,
    async collect() {
      const counts = await runCounts.get();
      if (counts) this.set(counts.DEAD_LETTERED ?? 0);
    },
  });
  new Gauge({
    name: 'concord_workflow_dead_letters',
    help: 'Dead-lettered workflow runs (customer sync, amendment, repair) waiting for an operator (retryWorkflowRun or cancelWorkflowRun)',
    registers,
    async collect() {
      if (!sources.workflowRuns) return;
      const counts = await sources.workflowRuns.countByStatus().catch(warn('workflow run counts'));
      if (counts) this.set(counts.DEAD_LETTERED ?? 0);
    },
  });
  // Reconciliation, for alerting (grafana/alerts.yml): drift found, and no successful run within the interval.
  const latestReconciliation = async () => {
    if (!sources.reconciliation) return null;
    return (await sources.reconciliation.latest(20).catch(warn('reconciliation reports'))) ?? null;
  };
  new Gauge({
    name: 'concord_reconciliation_drifts',
    help: 'Drifts found by the latest completed reconciliation',
    registers,
    async collect() {
      const done = (await latestReconciliation())?.find((r) => r.status === 'COMPLETED');
      if (done) this.set(done.driftCount);
    },
  });
  new Gauge({
    name: 'concord_reconciliation_last_success_timestamp_seconds',
    help: 'When the latest completed reconciliation finished (Unix seconds; absent until one has)',
    registers,
    async collect() {
      const done = (await latestReconciliation())?.find((r) => r.status === 'COMPLETED' && r.finishedAt);
      if (done) this.set(Date.parse(done.finishedAt!) / 1000);
    },
  });
  new Gauge({
    name: 'concord_reconciliation_interval_seconds',
    help: 'Seconds between scheduled reconciliations (CONCORD_RECONCILIATION_INTERVAL_MINUTES; 0: no schedule)',
    registers,
    collect() {
      if (sources.reconciliation) this.set(sources.reconciliation.intervalSeconds);
    },
  });
  new Gauge({
    name: 'concord_ready',
    help: 'Whether this process is ready to serve (1) or not (0), as its /ready answers',
    registers,
    async collect() {
      if (!sources.ready) return;
      this.set((await sources.ready().catch(() => false)) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'concord_queue_jobs',
    help: 'Work-queue jobs per lane (CRM, BILLING, ERP) and state (waiting, active, delayed)',
    labelNames: ['lane', 'state'] as const,
    registers,
    async collect() {
      if (!sources.queues) return;
      const backlog = await sources.queues.backlog().catch(warn('queue backlog'));
      if (!backlog) return;
      for (const [lane, counts] of Object.entries(backlog)) {
        for (const state of ['waiting', 'active', 'delayed'] as const) this.set({ lane, state }, counts[state]);
      }
    },
  });
  new Gauge({
    name: 'concord_subscription_connections',
    help: 'Open graphql-ws connections (authenticated)',
    registers,
    collect() {
      if (sources.subscriptions) this.set(sources.subscriptions().connections);
    },
  });
  new Gauge({
    name: 'concord_subscriptions_active',
    help: 'Active subscriptions across all connections',
    registers,
    collect() {
      if (sources.subscriptions) this.set(sources.subscriptions().subscriptions);
    },
  });
  let deliveredSeen = 0;
  new Counter({
    name: 'concord_subscription_deliveries_total',
    help: 'Subscription payloads delivered to clients',
    registers,
    collect() {
      if (!sources.subscriptions) return;
      const delivered = sources.subscriptions().delivered;
      if (delivered > deliveredSeen) this.inc(delivered - deliveredSeen);
      deliveredSeen = Math.max(deliveredSeen, delivered);
    },
  });

  /** Per run: its status and each step's `status:attempts`, as last seen, to count changes once. */
  const seen = new Map<string, { status: RunStatus; steps: Map<string, string> }>();

  return {
    registry,
    /** Vendor consumption against limits, for the ops console (observability/vendor-usage.ts). */
    vendors,

    gatewayRequest(labels: { operation: string | null; type: string | null; status: number }, seconds: number): void {
      const operation = labels.operation === null ? '(none)' : OPERATION_NAME.test(labels.operation) ? operationLabel(labels.operation) : 'invalid';
      gatewayRequest.observe({ operation, type: labels.type ?? '(none)', status: String(labels.status) }, seconds);
      if (labels.status === 429) gatewayRateLimited.inc();
    },
    gatewayErrors(codes: readonly string[]): void {
      for (const code of codes) gatewayErrors.inc({ code });
    },
    gatewayShed(reason: string): void {
      gatewayShed.inc({ reason });
    },
    subgraphFetchShared(subgraph: string): void {
      fetchesShared.inc({ subgraph });
    },
    entityCacheReads(kind: string, hits: number, misses: number): void {
      if (hits > 0) entityCacheReads.inc({ kind, outcome: 'hit' }, hits);
      if (misses > 0) entityCacheReads.inc({ kind, outcome: 'miss' }, misses);
    },
    subgraphFetch(subgraph: string, status: number, seconds: number): void {
      subgraphFetch.observe({ subgraph, status: String(status) }, seconds);
    },

    /** A VendorCallListener. */
    vendorCall(call: VendorCall): void {
      vendorCalls.inc({ system: call.system, vendor: call.vendor, operation: call.operation, status: String(call.status) });
      vendorDuration.observe({ vendor: call.vendor, operation: call.operation }, call.durationMs / 1000);
      if (call.status === 429) vendorRateLimited.inc({ vendor: call.vendor, operation: call.operation });
      vendors.record(call);
    },

    /** The engine's onRunChanged: starts, retries, dead letters and settling times, each counted once. */
    runChanged(run: Run): void {
      const before = seen.get(run.id);
      if (!before && run.createdAt === run.updatedAt) runsStarted.inc();
      const steps = new Map<string, string>();
      for (const step of run.steps) {
        const state = `${step.status}:${step.attempts}`;
        steps.set(step.name, state);
        if (step.status === 'WAITING_RETRY' && before?.steps.get(step.name) !== state) {
          stepRetries.inc({ step: step.name, system: step.system, code: step.lastError?.code ?? 'UNKNOWN' });
        }
      }
      if (before?.status !== run.status && SETTLED.includes(run.status)) {
        runDuration.observe({ outcome: run.status }, Math.max(0, Date.parse(run.updatedAt) - Date.parse(run.createdAt)) / 1000);
        if (run.status === 'DEAD_LETTERED' && run.deadLetter) {
          const failed = run.steps.find((s) => s.name === run.deadLetter!.step);
          deadLettered.inc({ step: run.deadLetter.step, system: failed?.system ?? 'UNKNOWN', code: run.deadLetter.error.code });
        }
      }
      seen.delete(run.id);
      seen.set(run.id, { status: run.status, steps });
      if (seen.size > RUNS_REMEMBERED) seen.delete(seen.keys().next().value as string);
    },

    /** Scrape-time sources: the work queues, the run store, the subscription service. */
    watch(next: typeof sources): void {
      Object.assign(sources, next);
    },

    async scrape(): Promise<{ contentType: string; body: string }> {
      runCounts.reset();
      capacityRead = null;
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
