/**
 * Reconciliation reports and their drifts, kept in the key-value store (Redis or memory) for a
 * retention period: a report by id, the latest ones in order, and each drift by id (repairDrift
 * looks a drift up without its report).
 *
 * Keys: reconciliation:report:<id> (JSON), reconciliation:reports (newest first, capped),
 * reconciliation:drift:<id> (JSON).
 */
import type { SystemName } from '../../../core/canonical';
import type { KeyValueStore } from '../kv';
import type { Drift } from './drift';

export type ReportStatus = 'RUNNING' | 'COMPLETED' | 'FAILED';

export interface ReconciliationReport {
  id: string;
  status: ReportStatus;
  /** What started it: an operator's runReconciliation, or the schedule. */
  trigger: 'MANUAL' | 'SCHEDULE';
  startedAt: string;
  finishedAt: string | null;
  /** Customers, contracts and invoices compared. */
  checked: number;
  counts: { customers: number; contracts: number; invoices: number };
  /** Vendor requests the run made, per system. */
  vendorCalls: Record<SystemName, number>;
  /** Every drift found (the report holds at most the first `maxDrifts`). */
  driftCount: number;
  drifts: Drift[];
  /** True when more drifts were found than the report holds. */
  truncated: boolean;
  /** Why a FAILED run failed. */
  error: string | null;
}

export interface ReportStoreOptions {
  kv: KeyValueStore;
  /** How long reports and drifts are kept, in ms. Default 30 days. */
  retentionMs?: number;
  /** Reports listed (newest first). Default 100. */
  keep?: number;
}

export interface ReportStore {
  save(report: ReconciliationReport, options?: { index?: boolean }): Promise<void>;
  get(id: string): Promise<ReconciliationReport | null>;
  latest(count: number): Promise<ReconciliationReport[]>;
  drift(id: string): Promise<Drift | null>;
  saveDrifts(drifts: readonly Drift[]): Promise<void>;
}

const LIST = 'reconciliation:reports';
const reportKey = (id: string) => `reconciliation:report:${id}`;
const driftKey = (id: string) => `reconciliation:drift:${id}`;

export function createReportStore(options: ReportStoreOptions): ReportStore {
  const { kv, retentionMs = 30 * 24 * 3600 * 1000, keep = 100 } = options;
  const parse = <T>(json: string | null): T | null => (json === null ? null : (JSON.parse(json) as T));

  return {
    async save(report, { index = false } = {}) {
      await kv.set(reportKey(report.id), JSON.stringify(report), retentionMs);
      if (index) await kv.pushCapped(LIST, report.id, keep);
    },
    get: async (id) => parse<ReconciliationReport>(await kv.get(reportKey(id))),
    async latest(count) {
      const ids = await kv.listRange(LIST, count);
      const reports = await kv.getMany(ids.map(reportKey));
      return reports.map((json) => parse<ReconciliationReport>(json)).filter((r): r is ReconciliationReport => r !== null);
    },
    drift: async (id) => parse<Drift>(await kv.get(driftKey(id))),
    async saveDrifts(drifts) {
      // In slices, so one huge report does not make one huge round trip.
      for (let i = 0; i < drifts.length; i += 500) {
        await kv.setMany(drifts.slice(i, i + 500).map((d) => [driftKey(d.id), JSON.stringify(d)] as const), retentionMs);
      }
    },
  };
}
