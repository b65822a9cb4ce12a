/**
 * `npm run bench:reconciliation`: what a full reconciliation costs, against the bundled simulators
 * seeded with 1,000 and 10,000 consistent customers (each with its contracts, invoices in every
 * status and ERP postings).
 *
 * For each size it reconciles twice: at the configured pace (the share of each vendor's rate limit
 * given to reconciliation: CONCORD_RECONCILIATION_{CRM,BILLING,ERP}_RPS, default 10 / 25 / 10
 * requests per second), which is what production sees, and unpaced, which shows the work itself.
 * It prints the wall time, the vendor calls per system (every HTTP request the adapters made,
 * retries included), calls per customer, the records compared and the drifts found (0 expected:
 * the seed is consistent). The unpaced rows also split the time: reading the vendors (the
 * simulators run in this process, so their own work is in it) and comparing (Concord's CPU alone).
 *
 * Options: --sizes 1000,10000   --unpaced-only
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import type { SystemName } from '../core/canonical';
import { buildSeed } from '../simulators/common/seed';
import { createNetSuiteSimulator } from '../simulators/netsuite/server';
import { createSalesforceSimulator } from '../simulators/salesforce/server';
import { createStripeSimulator } from '../simulators/stripe/server';
import { createMemoryKeyValueStore } from '../subgraphs/orchestration/kv-memory';
import { compareSystems } from '../subgraphs/orchestration/reconciliation/compare';
import { createReconciler } from '../subgraphs/orchestration/reconciliation/reconciler';
import { createReportStore } from '../subgraphs/orchestration/reconciliation/report-store';
import { readSnapshot, type Pace } from '../subgraphs/orchestration/reconciliation/snapshot';
import { createVendorPorts } from '../system';

interface Row {
  customers: number;
  paced: boolean;
  seconds: number;
  calls: Record<SystemName, number>;
  records: number;
  drifts: number;
  /** Unpaced runs: seconds reading the vendors and comparing. */
  split: { read: number; compare: number } | null;
}

const UNPACED: Pace = { CRM: 0, BILLING: 0, ERP: 0 };

async function measure(customers: number, pace: Pace, paced: boolean): Promise<Row> {
  const seed = buildSeed({ customers });
  const [salesforce, stripe, netsuite] = await Promise.all([
    createSalesforceSimulator({ seed }).listen(0),
    createStripeSimulator({ seed }).listen(0),
    createNetSuiteSimulator({ seed }).listen(0),
  ]);
  try {
    const calls: Record<SystemName, number> = { CRM: 0, BILLING: 0, ERP: 0 };
    const ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), { salesforce, stripe, netsuite }, (call) => {
      calls[call.system] += 1;
    });
    const kv = createMemoryKeyValueStore();
    const reconciler = createReconciler({ ports, kv, reports: createReportStore({ kv }), logger: createLogger({ level: 'silent' }), pace, lockTtlMs: 120_000 });
    const started = performance.now();
    const { done } = await reconciler.start('MANUAL');
    const report = await done;
    const seconds = (performance.now() - started) / 1000;
    if (report.status !== 'COMPLETED') throw new Error(`reconciliation ${report.status}: ${report.error}`);
    let split: Row['split'] = null;
    if (!paced) {
      // The same work in its two halves (vendor calls are counted above, from the full run only).
      const counted = { ...calls };
      const readStarted = performance.now();
      const snapshot = await readSnapshot(ports, pace);
      const read = (performance.now() - readStarted) / 1000;
      const compareStarted = performance.now();
      compareSystems(snapshot, { today: new Date().toISOString().slice(0, 10) });
      split = { read, compare: (performance.now() - compareStarted) / 1000 };
      Object.assign(calls, counted);
    }
    return { customers, paced, seconds, calls, records: report.checked, drifts: report.driftCount, split };
  } finally {
    await Promise.all([salesforce.close(), stripe.close(), netsuite.close()]);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,10000' }, 'unpaced-only': { type: 'boolean', default: false } } });
  const sizes = values.sizes!.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const pace = loadConfig().consistency.reconciliationPace;
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(`Reconciliation against the simulators (no added latency); pace CRM ${pace.CRM} / BILLING ${pace.BILLING} / ERP ${pace.ERP} requests/s.`);
  say();
  say('| customers | pace | time | read / compare | vendor calls (SF / Stripe / NetSuite) | calls per customer | records compared | drifts |');
  say('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const customers of sizes) {
    const runs = values['unpaced-only'] ? [false] : [true, false];
    for (const paced of runs) {
      const row = await measure(customers, paced ? pace : UNPACED, paced);
      const total = row.calls.CRM + row.calls.BILLING + row.calls.ERP;
      say(
        `| ${row.customers.toLocaleString('en-US')} | ${paced ? 'configured' : 'unpaced'} | ${row.seconds.toFixed(1)} s | ${row.split ? `${row.split.read.toFixed(1)} s / ${(row.split.compare * 1000).toFixed(0)} ms` : '-'} | ${total} (${row.calls.CRM} / ${row.calls.BILLING} / ${row.calls.ERP}) | ${(total / row.customers).toFixed(3)} | ${row.records.toLocaleString('en-US')} | ${row.drifts} |`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
