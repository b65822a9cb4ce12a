/**
 * Reconciliation on a schedule: every replica keeps a timer, and for each interval (a time slot
 * counted from the epoch) exactly one replica runs it: the one that claims the slot's key first
 * (SET NX with the slot's length as expiry). The run itself still takes the reconciliation lock,
 * so a scheduled run never overlaps a manual one. In embedded mode the key-value store is in memory
 * and this is simply a local timer.
 *
 * The slot current when the scheduler starts is skipped, so a restart does not reconcile at once.
 */
import type { Logger } from '../../../core/log';
import type { KeyValueStore } from '../kv';
import type { Reconciler } from './reconciler';

export interface SchedulerOptions {
  reconciler: Reconciler;
  kv: KeyValueStore;
  logger: Logger;
  /** Time between scheduled runs, in ms. Must be above 0. */
  intervalMs: number;
  /** This replica's name in slot claims. Default: random. */
  instanceId?: string;
  /** How often the timer looks at the clock, in ms. Default min(interval / 4, 60000). */
  tickMs?: number;
  now?: () => number;
}

export interface ReconciliationScheduler {
  stop(): Promise<void>;
}

export function startReconciliationScheduler(options: SchedulerOptions): ReconciliationScheduler {
  const { reconciler, kv, logger, intervalMs, instanceId = Math.random().toString(36).slice(2, 10), now = Date.now } = options;
  if (!(intervalMs > 0)) throw new Error('intervalMs must be above 0');
  const tickMs = options.tickMs ?? Math.min(Math.max(10, Math.floor(intervalMs / 4)), 60_000);
  const slotOf = (ms: number) => Math.floor(ms / intervalMs);
  let lastSlot = slotOf(now());
  let current: Promise<unknown> | null = null;
  let stopped = false;

  async function tick(): Promise<void> {
    const slot = slotOf(now());
    if (slot <= lastSlot || stopped) return;
    lastSlot = slot;
    // One replica per slot: the first to claim it.
    if (!(await kv.setIfAbsent(`reconciliation:slot:${slot}`, instanceId, intervalMs * 2))) return;
    const { report, done } = await reconciler.start('SCHEDULE');
    logger.info({ reportId: report.id, slot }, 'scheduled reconciliation');
    await done;
  }

  const timer = setInterval(() => {
    if (current) return;
    current = tick()
      .catch((error: unknown) => logger.error({ err: error }, 'scheduled reconciliation could not start'))
      .finally(() => {
        current = null;
      });
  }, tickMs);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
