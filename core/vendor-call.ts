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
