/**
 * `opsOverview` (orchestration subgraph): the ops console's figures through the public GraphQL API,
 * scoped `ops:read` like every operator field. The figures come from an OpsOverviewSource the
 * composition root builds (observability/overview.ts: the run store, the work queues, and this
 * process's metrics); each field is computed only when selected, at most once per request.
 */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { SystemName } from '../core/canonical';
import { ConcordError } from '../core/errors';
import { isPortal, type Principal } from '../core/principal';
import type { RunStatus } from '../subgraphs/orchestration/model';

export interface OpsVendorUsage {
  system: SystemName;
  vendor: string;
  callsLastMinute: number;
  errorsLastMinute: number;
  rateLimitedLastMinute: number;
  p95LatencyMs: number | null;
  callsTotal: number;
  limit: { kind: string; used: number; max: number; source: string } | null;
}

export interface OpsFailureHotspot {
  step: string;
  system: SystemName | null;
  vendor: string | null;
  code: string;
  openDeadLetters: number;
  failedAttempts: number;
  lastSeenAt: string | null;
}

export interface OpsVendorErrors {
  vendor: string;
  operation: string;
  status: number;
  calls: number;
}

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

/** Where opsOverview's figures come from (observability/overview.ts). */
export interface OpsOverviewSource {
  runsByStatus(): Promise<Record<RunStatus, number>>;
  backlog(): Promise<Record<SystemName, { waiting: number; active: number; delayed: number }>>;
  vendors(): OpsVendorUsage[];
  /** Most frequent failures first. */
  hotspots(): Promise<OpsFailureHotspot[]>;
  /** Most frequent first. */
  vendorErrors(): Promise<OpsVendorErrors[]>;
  /** Oldest first. */
  timeline(minutes: number): OpsSample[];
  /** Figures over the last `seconds`; null until two samples exist. */
  window(seconds: number): OpsSample | null;
  sampleIntervalSeconds: number;
}

export interface OpsContext {
  /** Absent: this process serves no ops figures (opsOverview fails with INTERNAL). */
  ops?: OpsOverviewSource;
  principal: Principal;
}

interface Overview {
  generatedAt: string;
  source: OpsOverviewSource;
  /** Per-request memo: runsByStatus serves both `runs` and `deadLetters`. */
  memo: Map<string, Promise<unknown>>;
}

function once<T>(overview: Overview, key: string, compute: () => Promise<T>): Promise<T> {
  if (!overview.memo.has(key)) overview.memo.set(key, compute());
  return overview.memo.get(key) as Promise<T>;
}

const bounded = (value: number | null | undefined, fallback: number, max: number) => Math.max(0, Math.min(max, value ?? fallback));

export const opsResolvers: GraphQLResolverMap<OpsContext> = {
  Query: {
    opsOverview: (_: unknown, __: unknown, ctx: OpsContext): Overview => {
      if (isPortal(ctx.principal)) throw new ConcordError('FORBIDDEN', 'a customer portal token may not read operations figures');
      if (!ctx.ops) throw new ConcordError('INTERNAL', 'operations figures are not available from this process');
      return { generatedAt: new Date().toISOString(), source: ctx.ops, memo: new Map() };
    },
  },
  OpsOverview: {
    runs: async (o: Overview) => Object.entries(await once(o, 'runs', () => o.source.runsByStatus())).map(([status, count]) => ({ status, count })),
    deadLetters: async (o: Overview) => (await once(o, 'runs', () => o.source.runsByStatus())).DEAD_LETTERED ?? 0,
    backlog: async (o: Overview) => Object.entries(await o.source.backlog()).map(([system, lane]) => ({ system, ...lane })),
    vendors: (o: Overview) => o.source.vendors(),
    hotspots: async (o: Overview, { first }: { first?: number | null }) => (await o.source.hotspots()).slice(0, bounded(first, 10, 100)),
    vendorErrors: async (o: Overview, { first }: { first?: number | null }) => (await o.source.vendorErrors()).slice(0, bounded(first, 10, 100)),
    timeline: (o: Overview, { minutes }: { minutes?: number | null }) => o.source.timeline(bounded(minutes, 30, 60)),
    lastMinute: (o: Overview) => o.source.window(60),
    sampleIntervalSeconds: (o: Overview) => o.source.sampleIntervalSeconds,
  },
};
