/** Figures of the gateway benchmark: per-round results, their summary per gateway, and the report. */
import type { LoadResult } from './load';

export interface RoundFigures extends LoadResult {
  /** CPU the gateway process used, in cores (1 = one core busy all the time). */
  gatewayCpu: number;
  /** CPU the subgraphs process used, in cores. */
  subgraphCpu: number;
  /** CPU the load process (autocannon and the answer checks) used, in cores. */
  loadCpu: number;
  subgraphFetchesPerRequest: number;
}

export interface GatewaySummary {
  kind: string;
  rounds: number;
  rps: { median: number; min: number; max: number };
  latencyMs: { p50: number; p95: number; p99: number };
  /** Every error of the run: measured rounds and warm-ups. */
  errors: number;
  requests: number;
  peakRssBytes: number;
  gatewayCpu: number;
  /** Correct answers per second of gateway CPU: steadier than requests/s when other work shares the CPU. */
  perCpuSecond: number;
  subgraphCpu: number;
  loadCpu: number;
  subgraphFetchesPerRequest: number;
  /** Requests/s of each round, in order. */
  perRound: number[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarise(kind: string, rounds: RoundFigures[], warmupErrors: number, peakRssBytes: number): GatewaySummary {
  const rps = rounds.map((r) => r.rps);
  return {
    kind,
    rounds: rounds.length,
    rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
    latencyMs: {
      p50: median(rounds.map((r) => r.latencyMs.p50)),
      p95: median(rounds.map((r) => r.latencyMs.p95)),
      p99: median(rounds.map((r) => r.latencyMs.p99)),
    },
    errors: warmupErrors + rounds.reduce((sum, r) => sum + r.errors.total, 0),
    requests: rounds.reduce((sum, r) => sum + r.requests, 0),
    peakRssBytes,
    gatewayCpu: median(rounds.map((r) => r.gatewayCpu)),
    perCpuSecond: median(rounds.map((r) => r.rps / r.gatewayCpu)),
    subgraphCpu: median(rounds.map((r) => r.subgraphCpu)),
    loadCpu: median(rounds.map((r) => r.loadCpu)),
    subgraphFetchesPerRequest: median(rounds.map((r) => r.subgraphFetchesPerRequest)),
    perRound: rps,
  };
}

const pad = (text: string, width: number) => text.padStart(width);

/**
 * `value.toFixed(digits)`, or '-' when there is no number: a run in which nothing was served has no
 * percentiles (NaN, which arrives as null over the IPC channel's JSON).
 */
export function fixed(value: number | null | undefined, digits = 0): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** The peers of the last line, in its order; other rows follow. */
const RATIO_ORDER = ['apollo-gateway', 'hive-gateway', 'apollo-lean', 'grafbase'];

export function formatReport(summaries: GatewaySummary[], info: { pinned: boolean; gatewayCpus?: string; elapsedSeconds: number }): string {
  const header = ['gateway', 'req/s median', 'min-max', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'peak RSS', 'gw CPU', 'req/CPU-s', 'subgraph CPU', 'load CPU', 'fetches/req'];
  const widths = [20, 13, 13, 8, 8, 8, 8, 10, 8, 10, 13, 9, 12];
  const rows = summaries.map((s) => [
    s.kind,
    fixed(s.rps.median),
    `${fixed(s.rps.min)}-${fixed(s.rps.max)}`,
    fixed(s.latencyMs.p50, 1),
    fixed(s.latencyMs.p95, 1),
    fixed(s.latencyMs.p99, 1),
    String(s.errors),
    `${fixed(s.peakRssBytes / 1024 / 1024)} MB`,
    `${fixed(s.gatewayCpu * 100)}%`,
    fixed(s.perCpuSecond),
    `${fixed(s.subgraphCpu * 100)}%`,
    `${fixed(s.loadCpu * 100)}%`,
    fixed(s.subgraphFetchesPerRequest, 1),
  ]);
  const lines = [header, ...rows].map((cells) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : pad(cell, widths[c]))).join(' '));
  const perRound = summaries.map((s) => `${s.kind}: ${s.perRound.map((r) => fixed(r)).join(', ')}`).join('; ');
  const concord = summaries.find((s) => s.kind === 'concord');
  const ratios = concord
    ? summaries
        .filter((s) => s !== concord)
        .map((s) => {
          const paired = concord.perRound.map((r, i) => r / s.perRound[i]);
          const perCpu = fixed(concord.perCpuSecond / s.perCpuSecond, 2);
          return `concord/${s.kind} per round ${fixed(Math.min(...paired), 2)}-${fixed(Math.max(...paired), 2)}, per CPU-second ${perCpu}`;
        })
        .join('; ')
    : '';
  // The floor (direct fetches) and the high anchor (Grafbase) as limits: each row's req/CPU-s as a share of theirs.
  const limits = ['direct', 'grafbase', 'grafbase-nodedup']
    .map((kind) => summaries.find((s) => s.kind === kind))
    .filter((limit): limit is GatewaySummary => limit !== undefined)
    .map((limit) => `of ${limit.kind}: ${summaries.filter((s) => s !== limit).map((s) => `${s.kind} ${fixed(s.perCpuSecond / limit.perCpuSecond, 2)}`).join(', ')}`);
  return [
    ...lines,
    `requests/s per round: ${perRound}`,
    ...(ratios ? [`ratios (paired by round): ${ratios}`] : []),
    ...(limits.length ? [`share of the limit, per CPU-second: ${limits.join('; ')}`] : []),
    `subgraph fetches per request: ${summaries.map((s) => `${s.kind}=${fixed(s.subgraphFetchesPerRequest, 1)}`).join(' ')}`,
    `errors: wrong answers, non-2xx, socket errors and timeouts, warm-ups included; ${info.pinned ? `each gateway pinned to CPU ${info.gatewayCpus}` : 'gateways not pinned'}; ${Math.round(info.elapsedSeconds)} s in all`,
  ].join('\n');
}

/**
 * `concord/apollo-gateway=X concord/hive-gateway=Y concord/apollo-lean=Z concord/grafbase=W` (ratios
 * of median requests/s; the peers run), then Concord over every other row; null without Concord.
 */
export function ratioLine(summaries: GatewaySummary[]): string | null {
  const concord = summaries.find((s) => s.kind === 'concord');
  if (!concord) return null;
  const rank = (kind: string) => (RATIO_ORDER.includes(kind) ? RATIO_ORDER.indexOf(kind) : RATIO_ORDER.length);
  return summaries
    .filter((s) => s !== concord)
    .sort((a, b) => rank(a.kind) - rank(b.kind))
    .map((s) => `concord/${s.kind}=${fixed(concord.rps.median / s.rps.median, 2)}`)
    .join(' ');
}
