/** AuditTrail in this process's memory (embedded mode: not durable, gone on restart). */
import type { AuditTrail, OperatorAction } from './trail';

export function createMemoryAuditTrail(): AuditTrail {
  const entries: OperatorAction[] = [];
  let sequence = 0;
  return {
    async append(entry) {
      // Zero-padded so that ids order as text, as the Redis stream's do.
      const stored: OperatorAction = { ...structuredClone(entry), id: `${Date.now()}-${String(++sequence).padStart(10, '0')}` };
      entries.push(stored);
      return structuredClone(stored);
    },
    async list(filter, page) {
      let end = entries.length;
      if (page.after) {
        const at = entries.findIndex((e) => e.id === page.after);
        end = at < 0 ? 0 : at;
      }
      const items: OperatorAction[] = [];
      let i = end - 1;
      for (; i >= 0 && items.length < page.first; i--) {
        if (!filter.subject || entries[i].subject === filter.subject) items.push(structuredClone(entries[i]));
      }
      let hasNextPage = false;
      for (let j = i; j >= 0; j--) {
        if (!filter.subject || entries[j].subject === filter.subject) {
          hasNextPage = true;
          break;
        }
      }
      return { items, hasNextPage, endCursor: items.length ? items[items.length - 1].id : null };
    },
    async close() {},
  };
}
