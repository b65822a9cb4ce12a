/**
 * The figures behind `opsOverview` (resolvers/ops.ts) from what this process has: the run store and
 * the work queues (shared by every process with REDIS_URL, so runs, backlog and dead letters are the
 * whole system's), and this process's metrics (vendor consumption, failed attempts, the history
 * behind the charts). Prometheus scraping every process is the fleet-wide view; grafana/ has it.
 */
import type { SystemName } from '../core/canonical';
import type { OpsFailureHotspot, OpsOverviewSource, OpsVendorErrors } from '../resolvers/ops';
import type { Run } from '../subgraphs/orchestration/model';
import type { WorkQueues } from '../subgraphs/orchestration/queue';
import type { RunStore } from '../subgraphs/orchestration/store';
import type { OpsHistory } from './history';
import { isVendorFailure } from './vendor-usage';
import type { Metrics } from './metrics';

export interface OpsOverviewOptions {
  metrics: Metrics;
  history: OpsHistory;
  store: Pick<RunStore, 'countByStatus' | 'list'>;
  queues: Pick<WorkQueues, 'backlog'>;
  /** Open dead letters read to group hotspots (newest first). Default 200. */
  maxDeadLetters?: number;
}

type CounterValue = { value: number; labels: Record<string, string | number> };

export function createOpsOverview(options: OpsOverviewOptions): OpsOverviewSource {
  const { metrics, history, store, queues, maxDeadLetters = 200 } = options;

  async function counter(name: string): Promise<CounterValue[]> {
    const metric = metrics.registry.getSingleMetric(name);
    return metric ? ((await metric.get()).values as CounterValue[]) : [];
  }

  const vendorOf = (system: SystemName | null) => (system ? (metrics.vendors.usage().find((v) => v.system === system)?.vendor ?? null) : null);

  async function openDeadLetters(): Promise<Run[]> {
    const runs: Run[] = [];
    let after: string | null = null;
    while (runs.length < maxDeadLetters) {
      const page = await store.list({ status: 'DEAD_LETTERED' }, { first: Math.min(100, maxDeadLetters - runs.length), after });
      runs.push(...page.items);
      if (!page.hasNextPage || !page.endCursor) break;
      after = page.endCursor;
    }
    return runs;
  }

  return {
    sampleIntervalSeconds: history.sampleMs / 1000,
    runsByStatus: () => store.countByStatus(),
    backlog: () => queues.backlog(),
    vendors: () => metrics.vendors.usage(),
    timeline: (minutes) => history.samples(minutes),
    window: (seconds) => history.window(seconds),

    async hotspots() {
      const byKey = new Map<string, OpsFailureHotspot>();
      const entry = (step: string, system: SystemName | null, code: string) => {
        const key = `${step}|${system}|${code}`;
        let hotspot = byKey.get(key);
        if (!hotspot) byKey.set(key, (hotspot = { step, system, vendor: vendorOf(system), code, openDeadLetters: 0, failedAttempts: 0, lastSeenAt: null }));
        return hotspot;
      };
      for (const run of await openDeadLetters()) {
        if (!run.deadLetter) continue;
        const system = run.steps.find((s) => s.name === run.deadLetter!.step)?.system ?? run.deadLetter.error.system;
        const hotspot = entry(run.deadLetter.step, system, run.deadLetter.error.code);
        hotspot.openDeadLetters += 1;
        if (!hotspot.lastSeenAt || run.deadLetter.at > hotspot.lastSeenAt) hotspot.lastSeenAt = run.deadLetter.at;
      }
      for (const name of ['concord_o2c_step_retries_total', 'concord_o2c_dead_lettered_total']) {
        for (const { value, labels } of await counter(name)) {
          if (value > 0) entry(String(labels.step), labels.system === 'UNKNOWN' ? null : (labels.system as SystemName), String(labels.code)).failedAttempts += value;
        }
      }
      return [...byKey.values()].sort((a, b) => b.openDeadLetters - a.openDeadLetters || b.failedAttempts - a.failedAttempts);
    },

    async vendorErrors() {
      const failed: OpsVendorErrors[] = [];
      for (const { value, labels } of await counter('concord_vendor_api_calls_total')) {
        const status = Number(labels.status);
        if (isVendorFailure(status)) failed.push({ vendor: String(labels.vendor), operation: String(labels.operation), status, calls: value });
      }
      return failed.sort((a, b) => b.calls - a.calls);
    },
  };
}
