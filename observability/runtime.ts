/**
 * Metrics, tracing and the ops console's figures for one running system, wired in one place so
 * that the composition root (system.ts) only passes what this returns to each component:
 *
 *   onVendorCall  every adapter's vendor HTTP calls -> metrics (and the caller's own listener)
 *   onRunChanged  the engine's saved run changes -> retries, dead letters, run durations
 *   tracing       to the gateway, the subgraph servers and the orchestration workers
 *   watch(...)    the queues, run store and history behind /metrics and opsOverview
 */
import type { ConcordConfig } from '../core/config';
import type { Logger } from '../core/log';
import { tracingFromConfig } from '../core/tracing-export';
import type { Tracing } from '../core/tracing';
import type { VendorCallListener, VendorLimitPolicy } from '../core/vendor-call';
import type { OpsOverviewSource } from '../resolvers/ops';
import type { Run } from '../subgraphs/orchestration/model';
import type { WorkQueues } from '../subgraphs/orchestration/queue';
import type { RunStore } from '../subgraphs/orchestration/store';
import { createOpsHistory, type OpsHistory } from './history';
import { createMetrics, type Metrics } from './metrics';
import { createOpsOverview } from './overview';

export interface OpsRuntimeOptions {
  config: ConcordConfig;
  logger: Logger;
  /** Default: a new Metrics on its own Registry, with the vendors' known limits. */
  metrics?: Metrics;
  /** Default: from the configuration (OTEL_TRACES_EXPORTER; none records nothing but still propagates ids). */
  tracing?: Tracing;
  /** Also told of every vendor call. Default none. */
  onVendorCall?: VendorCallListener;
  /** Each vendor's limit, as its vendor module declares it (vendors/index.ts VendorModules.limits). Default none. */
  vendorLimits?: Record<string, VendorLimitPolicy>;
}

export function createOpsRuntime(options: OpsRuntimeOptions) {
  const { config, logger } = options;
  const metrics =
    options.metrics ??
    createMetrics({
      logger,
      vendorLimits: options.vendorLimits,
    });
  const ownTracing = !options.tracing;
  const tracing = options.tracing ?? tracingFromConfig(config.observability, logger);
  const listener = options.onVendorCall;
  let history: OpsHistory | null = null;

  return {
    metrics,
    tracing,
    onVendorCall: ((call) => {
      metrics.vendorCall(call);
      listener?.(call);
    }) as VendorCallListener,
    onRunChanged: (run: Run) => metrics.runChanged(run),

    /** Read the runtime's queues and run store at each scrape, and start the console's history. */
    watch(orchestration: {
      queues: WorkQueues;
      store: RunStore;
      workflowStore: Pick<RunStore, 'countByStatus'>;
      consistency: { reports: { latest(count: number): Promise<{ status: string; finishedAt: string | null; driftCount: number }[]> } };
    }): OpsOverviewSource {
      metrics.watch({
        queues: orchestration.queues,
        runs: orchestration.store,
        workflowRuns: orchestration.workflowStore,
        reconciliation: { latest: (count) => orchestration.consistency.reports.latest(count), intervalSeconds: config.consistency.reconciliationIntervalMinutes * 60 },
      });
      history = createOpsHistory({
        registry: metrics.registry,
        queues: orchestration.queues,
        runs: orchestration.store,
        sampleMs: config.observability.opsSampleMs,
        logger,
      });
      history.start();
      return createOpsOverview({ metrics, history, store: orchestration.store, queues: orchestration.queues });
    },

    async close(): Promise<void> {
      await history?.stop();
      // A tracing handed in belongs to the caller (a test reads its spans after close).
      if (ownTracing) await tracing.shutdown().catch(() => undefined);
    },
  };
}

export type OpsRuntime = ReturnType<typeof createOpsRuntime>;
