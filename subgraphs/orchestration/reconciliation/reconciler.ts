/**
 * A reconciliation run: take the lock (one run at a time across every replica), read the three
 * systems in bulk (snapshot.ts), compare them (compare.ts), store the report and its drifts
 * (report-store.ts) and append one DRIFT_DETECTED event per drift.
 *
 * The lock is a key-value lock held by the report id and renewed while the run works; a run
 * started while another holds it gets the running report back rather than a second run. A replica
 * that dies mid-run lets its lock expire, and the report stays RUNNING until its retention ends
 * (the next run writes a new one).
 */
import { randomUUID } from 'node:crypto';
import { withCapacityPriority } from '../../../core/capacity';
import type { SystemName } from '../../../core/canonical';
import { ConcordError } from '../../../core/errors';
import type { EventLog } from '../../../core/events/event-log';
import type { Logger } from '../../../core/log';
import type { KeyValueStore } from '../kv';
import type { Ports } from '../steps';
import { compareSystems } from './compare';
import { driftId, type Drift, type DriftFinding } from './drift';
import type { ReconciliationReport, ReportStore } from './report-store';
import { readSnapshot, type Pace } from './snapshot';

export interface ReconcilerOptions {
  ports: Ports;
  kv: KeyValueStore;
  reports: ReportStore;
  logger: Logger;
  /** Where DRIFT_DETECTED events go. Absent = none. */
  events?: EventLog;
  /** Requests per second per vendor. Default CRM 10, BILLING 25 (Stripe's test-mode limit), ERP 10. */
  pace?: Pace;
  /** Lock lifetime, renewed every third of it while a run works, in ms. Default 60000. */
  lockTtlMs?: number;
  /** Drifts a report holds (all are counted). Default 5000. */
  maxDrifts?: number;
  /**
   * True when a finding's subject is being changed by a run right now (a customer sync, an
   * amendment): what the comparison saw is a moment inside that run, not drift. Default: never.
   */
  inFlight?: (finding: DriftFinding) => Promise<boolean>;
  now?: () => Date;
}

export interface Reconciler {
  /** Start a run (or get the one in progress); `done` settles when it has finished. */
  start(trigger: ReconciliationReport['trigger']): Promise<{ report: ReconciliationReport; done: Promise<ReconciliationReport> }>;
  /** The run in progress, if any. */
  running(): Promise<ReconciliationReport | null>;
}

export const RECONCILIATION_LOCK = 'reconciliation:lock';

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { ports, kv, reports, logger, events, pace = { CRM: 10, BILLING: 25, ERP: 10 }, lockTtlMs = 60_000, maxDrifts = 5000, inFlight, now = () => new Date() } = options;

  async function running(): Promise<ReconciliationReport | null> {
    const holder = await kv.get(RECONCILIATION_LOCK);
    return holder ? reports.get(holder) : null;
  }

  async function announce(drifts: Drift[]): Promise<void> {
    if (!events) return;
    for (const drift of drifts) {
      await events.append({
        type: 'DRIFT_DETECTED',
        occurredAt: drift.detectedAt,
        correlationId: drift.reportId,
        source: drift.system,
        customerId: drift.customerId,
        contractId: drift.contractId,
        invoiceId: drift.invoiceId,
        runId: null,
        dedupeKey: `drift:${drift.id}`,
        data: { driftId: drift.id, reportId: drift.reportId, kind: drift.kind, system: drift.system, subjectId: drift.subjectId, repairable: drift.remedy.action !== null },
      });
    }
  }

  async function work(report: ReconciliationReport): Promise<ReconciliationReport> {
    const renew = setInterval(() => void kv.expireIfEquals(RECONCILIATION_LOCK, report.id, lockTtlMs).catch(() => undefined), Math.ceil(lockTtlMs / 3));
    const started = performance.now();
    try {
      // Bulk reads: last in every vendor's shared budget, refused first when Salesforce's allocation runs low.
      const snapshot = await withCapacityPriority('bulk', () => readSnapshot(ports, pace));
      const today = now().toISOString().slice(0, 10);
      const { findings: found, counts } = compareSystems(snapshot, { today, now: now().getTime() });
      const busy = inFlight ? await Promise.all(found.map((f) => inFlight(f).catch(() => false))) : [];
      const findings = found.filter((_, i) => !busy[i]);
      const detectedAt = now().toISOString();
      const drifts: Drift[] = findings.map((f) => ({ ...f, id: driftId(report.id, f), reportId: report.id, detectedAt }));
      const kept = drifts.slice(0, maxDrifts);
      await reports.saveDrifts(kept);
      const done: ReconciliationReport = {
        ...report,
        status: 'COMPLETED',
        finishedAt: now().toISOString(),
        checked: counts.customers + counts.contracts + counts.invoices,
        counts,
        vendorCalls: snapshot.calls,
        driftCount: drifts.length,
        drifts: kept,
        truncated: drifts.length > kept.length,
      };
      await reports.save(done);
      await announce(kept).catch((error: unknown) => logger.warn({ err: error, reportId: report.id }, 'DRIFT_DETECTED events could not all be appended'));
      logger.info({ reportId: report.id, drifts: drifts.length, checked: done.checked, calls: snapshot.calls, ms: Math.round(performance.now() - started) }, 'reconciliation completed');
      return done;
    } catch (error) {
      const failed: ReconciliationReport = {
        ...report,
        status: 'FAILED',
        finishedAt: now().toISOString(),
        error: error instanceof Error ? error.message : String(error),
      };
      await reports.save(failed).catch(() => undefined);
      logger.error({ err: error, reportId: report.id }, 'reconciliation failed');
      return failed;
    } finally {
      clearInterval(renew);
      await kv.deleteIfEquals(RECONCILIATION_LOCK, report.id).catch(() => undefined);
    }
  }

  async function start(trigger: ReconciliationReport['trigger']) {
    const id = `rec_${now().getTime().toString(36)}${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    let held = await kv.setIfAbsent(RECONCILIATION_LOCK, id, lockTtlMs);
    for (let tries = 0; !held && tries < 3; tries++) {
      const current = await running();
      if (current?.status === 'RUNNING') return { report: current, done: waitFor(current.id) };
      // Released in between, or held by a run whose report is not written yet (or whose replica
      // died: its lock runs out within lockTtlMs).
      await new Promise((resolve) => setTimeout(resolve, 50));
      held = await kv.setIfAbsent(RECONCILIATION_LOCK, id, lockTtlMs);
    }
    if (!held) throw new ConcordError('CONFLICT', 'a reconciliation is starting on another replica; try again shortly', { retryable: true });
    const calls: Record<SystemName, number> = { CRM: 0, BILLING: 0, ERP: 0 };
    const report: ReconciliationReport = {
      id,
      status: 'RUNNING',
      trigger,
      startedAt: now().toISOString(),
      finishedAt: null,
      checked: 0,
      counts: { customers: 0, contracts: 0, invoices: 0 },
      vendorCalls: calls,
      driftCount: 0,
      drifts: [],
      truncated: false,
      error: null,
    };
    await reports.save(report, { index: true });
    logger.info({ reportId: id, trigger }, 'reconciliation started');
    return { report, done: work(report) };
  }

  /** A run another caller (or replica) started: poll its report until it has finished. */
  async function waitFor(id: string): Promise<ReconciliationReport> {
    for (;;) {
      const report = await reports.get(id);
      if (!report) throw new Error(`reconciliation report ${id} is gone`);
      if (report.status !== 'RUNNING') return report;
      if ((await kv.get(RECONCILIATION_LOCK)) !== id) return (await reports.get(id)) ?? report;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  return { start, running };
}
