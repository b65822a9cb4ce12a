import type { SystemName } from './errors';

/** One finished vendor HTTP call, reported by adapters for metrics and logs. */
export interface VendorCall {
  system: SystemName;
  vendor: string;
  /** Adapter operation, for example 'query', 'customers.search', 'suiteql'. */
  operation: string;
  /** HTTP status, or 0 when no response came (timeout, reset). */
  status: number;
  durationMs: number;
  /** Remaining vendor API budget when the vendor tells it (Sforce-Limit-Info), as used/limit. */
  limit?: { used: number; max: number };
}

export type VendorCallListener = (call: VendorCall) => void;

/**
 * How a vendor's limit is known, as its vendor module declares it (vendors/<vendor>/index.ts):
 * reported by the vendor on every answer (`reported`), or a documented figure. Metrics and the ops
 * console read it (observability/vendor-usage.ts).
 */
export type VendorLimitPolicy = { system: SystemName } & (
  | { kind: 'DAILY_REQUESTS'; reported: true }
  | { kind: 'REQUESTS_PER_SECOND' | 'CONCURRENT_REQUESTS'; max: number }
);
