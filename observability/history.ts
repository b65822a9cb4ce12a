/**
 * A short history of this process's metrics for the ops console's charts: every `sampleMs` the
 * registry's counters and histograms are read and the change since the previous sample is kept
 * (requests per second, p50/p95 latency estimated from the histogram buckets as Prometheus'
 * `histogram_quantile` does, vendor calls, runs settled), with the queue backlog and open dead
 * letters at that moment. Samples derive from the same families /metrics serves, so the console and
 * a Grafana dashboard agree. Memory is bounded: `retentionMs / sampleMs` samples.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../core/log';
import type { RunStore } from '../subgraphs/orchestration/store';
import type { WorkQueues } from '../subgraphs/orchestration/queue';

export interface OpsSample {
  at: string;
  requestsPerSecond: number;
  errorsPerSecond: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  vendorCallsPerSecond: number;
  runsCompleted: number;
  runsDeadLettered: number;
  backlog: number;
  deadLetters: number;
}

export interface OpsHistoryOptions {
  registry: Registry;
  /** Backlog and dead letters at each sample. Default: none (zeros). */
  queues?: Pick<WorkQueues, 'backlog'>;
  runs?: Pick<RunStore, 'countByStatus'>;
  /** Time between samples, in ms. Default 5000. */
  sampleMs?: number;
  /** How much history is kept, in ms. Default one hour. */
  retentionMs?: number;
  logger?: Logger;
}

interface Totals {
  at: number;
  requests: number;
  /** Cumulative request counts per bucket upper bound (`le`), summed over every label set. */
  buckets: Map<number, number>;
  errors: number;
  vendorCalls: number;
  completed: number;
  deadLettered: number;
}

/** The `q` quantile of a cumulative histogram's increase, interpolated within its bucket. */
export function quantileFromBuckets(q: number, buckets: [number, number][]): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return previousLe;
      const inBucket = count - previousCount;
      return inBucket <= 0 ? le : previousLe + (le - previousLe) * ((rank - previousCount) / inBucket);
    }
    previousLe = le;
    previousCount = count;
  }
  return previousLe;
}

export function createOpsHistory(options: OpsHistoryOptions) {
  const { registry, queues, runs, sampleMs = 5000, retentionMs = 3_600_000, logger } = options;
  const capacity = Math.max(2, Math.ceil(retentionMs / sampleMs));
  const samples: OpsSample[] = [];
  /** The raw readings behind `samples` (one more than samples), for figures over longer windows. */
  const readings: Totals[] = [];
  let timer: NodeJS.Timeout | null = null;
  let sampling: Promise<void> | null = null;

  async function values(name: string) {
    const metric = registry.getSingleMetric(name);
    return metric ? (await metric.get()).values : [];
  }
  const sum = (list: { value: number }[]) => list.reduce((total, v) => total + v.value, 0);

  async function totals(): Promise<Totals> {
    const requestValues = await values('concord_gateway_request_duration_seconds');
    const buckets = new Map<number, number>();
    let requests = 0;
    for (const v of requestValues as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
      if (v.metricName?.endsWith('_bucket')) {
        const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le);
        buckets.set(le, (buckets.get(le) ?? 0) + v.value);
      } else if (v.metricName?.endsWith('_count')) requests += v.value;
    }
    const runs = (await values('concord_o2c_run_duration_seconds')) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
    const settled = (outcome: string) => sum(runs.filter((v) => v.metricName?.endsWith('_count') && v.labels.outcome === outcome));
    return {
      at: Date.now(),
      requests,
      buckets,
      errors: sum(await values('concord_gateway_errors_total')),
      vendorCalls: sum(await values('concord_vendor_api_calls_total')),
      completed: settled('COMPLETED'),
      deadLettered: settled('DEAD_LETTERED'),
    };
  }

  /** The figures of the interval between two readings, with the backlog and dead letters at its end. */
  function between(from: Totals, to: Totals, backlog: number, deadLetters: number): OpsSample {
    const seconds = Math.max(0.001, (to.at - from.at) / 1000);
    const delta: [number, number][] = [...to.buckets].map(([le, count]) => [le, count - (from.buckets.get(le) ?? 0)]);
    const ms = (q: number) => {
      const value = quantileFromBuckets(q, delta);
      return value === null ? null : Math.round(value * 10000) / 10;
    };
    const rate = (n: number) => Math.round((n / seconds) * 100) / 100;
    return {
      at: new Date(to.at).toISOString(),
      requestsPerSecond: rate(to.requests - from.requests),
      errorsPerSecond: rate(to.errors - from.errors),
      latencyP50Ms: ms(0.5),
      latencyP95Ms: ms(0.95),
      vendorCallsPerSecond: rate(to.vendorCalls - from.vendorCalls),
      runsCompleted: to.completed - from.completed,
      runsDeadLettered: to.deadLettered - from.deadLettered,
      backlog,
      deadLetters,
    };
  }

  async function sample(): Promise<void> {
    const now = await totals();
    const [backlog, counts] = await Promise.all([
      queues?.backlog().catch(() => null) ?? null,
      runs?.countByStatus().catch(() => null) ?? null,
    ]);
    const queued = backlog ? Object.values(backlog).reduce((total, lane) => total + lane.waiting + lane.active + lane.delayed, 0) : 0;
    const previous = readings[readings.length - 1];
    if (previous) samples.push(between(previous, now, queued, counts?.DEAD_LETTERED ?? 0));
    readings.push(now);
    if (samples.length > capacity) samples.splice(0, samples.length - capacity);
    if (readings.length > capacity + 1) readings.splice(0, readings.length - capacity - 1);
  }

  const tick = () => {
    // One sample at a time: a slow Redis skips a tick rather than piling samples up.
    if (sampling) return;
    sampling = sample()
      .catch((error: unknown) => logger?.warn({ err: error }, 'ops history sample failed'))
      .finally(() => {
        sampling = null;
      });
  };

  return {
    sampleMs,
    /** Start sampling (the first sample is the baseline; the first point follows one interval later). */
    start(): void {
      if (timer) return;
      tick();
      timer = setInterval(tick, sampleMs);
      timer.unref();
    },
    /** The figures over the last `seconds` (one interval at least); null before two readings. */
    window(seconds = 60): OpsSample | null {
      const last = readings[readings.length - 1];
      const latest = samples[samples.length - 1];
      if (!last || !latest) return null;
      const from = readings.find((r) => r.at >= last.at - seconds * 1000 && r !== last) ?? readings[readings.length - 2];
      return { ...between(from, last, latest.backlog, latest.deadLetters), at: new Date(from.at).toISOString() };
    },
    /** Samples of the last `minutes`, oldest first. */
    samples(minutes = 30): OpsSample[] {
      const since = Date.now() - minutes * 60_000;
      return samples.filter((s) => Date.parse(s.at) >= since);
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await sampling;
    },
  };
}

export type OpsHistory = ReturnType<typeof createOpsHistory>;
