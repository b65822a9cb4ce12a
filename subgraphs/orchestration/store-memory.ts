/** RunStore in process memory: embedded mode (not durable, one process). */
import type { Page } from '../../core/canonical';
import { RUN_STATUSES, type Run, type RunStatus } from './model';
import type { CreateResult, RunStore } from './store';

const clone = (run: Run): Run => structuredClone(run);

export function createMemoryRunStore(): RunStore {
  const runs = new Map<string, Run>();
  /** Insertion order = creation order; listing walks it backwards for newest first. */
  const order: string[] = [];
  const byKey = new Map<string, string>();
  const byOpportunity = new Map<string, string>();
  const leases = new Map<string, { holder: string; until: number }>();

  return {
    async create(run) {
      const keyed = byKey.get(run.idempotencyKey);
      if (keyed) return { outcome: 'existing-key', run: clone(runs.get(keyed)!) } satisfies CreateResult;
      const live = byOpportunity.get(run.opportunityId);
      if (live && runs.get(live)!.status !== 'COMPENSATED') {
        return { outcome: 'existing-opportunity', run: clone(runs.get(live)!) };
      }
      runs.set(run.id, clone(run));
      order.push(run.id);
      byKey.set(run.idempotencyKey, run.id);
      byOpportunity.set(run.opportunityId, run.id);
      return { outcome: 'created', run: clone(run) };
    },
    async get(id) {
      const run = runs.get(id);
      return run ? clone(run) : null;
    },
    async findByKey(idempotencyKey) {
      const id = byKey.get(idempotencyKey);
      return id ? clone(runs.get(id)!) : null;
    },
    async save(run) {
      const stored = runs.get(run.id);
      if (!stored || stored.version !== run.version) return null;
      const saved = { ...clone(run), version: run.version + 1 };
      runs.set(run.id, saved);
      return clone(saved);
    },
    async list(filter, page): Promise<Page<Run>> {
      let start = order.length - 1;
      if (page.after) {
        const at = order.lastIndexOf(page.after);
        start = at === -1 ? -1 : at - 1;
      }
      const items: Run[] = [];
      let i = start;
      for (; i >= 0 && items.length < page.first; i--) {
        const run = runs.get(order[i])!;
        if (!filter.status || run.status === filter.status) items.push(clone(run));
      }
      let hasNextPage = false;
      for (; i >= 0; i--) {
        if (!filter.status || runs.get(order[i])!.status === filter.status) {
          hasNextPage = true;
          break;
        }
      }
      return { items, hasNextPage, endCursor: items.length ? items[items.length - 1].id : null };
    },
    async forOpportunity(opportunityId) {
      const id = byOpportunity.get(opportunityId);
      return id ? clone(runs.get(id)!) : null;
    },
    async countByStatus() {
      const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
      for (const run of runs.values()) counts[run.status] += 1;
      return counts;
    },
    async lease(runId, holder, ttlMs) {
      const now = Date.now();
      const current = leases.get(runId);
      if (current && current.holder !== holder && current.until > now) return false;
      leases.set(runId, { holder, until: now + ttlMs });
      return true;
    },
    async release(runId, holder) {
      if (leases.get(runId)?.holder === holder) leases.delete(runId);
    },
    async close() {},
  };
}
