/**
 * Vendor API consumption against each vendor's limit, from the vendor calls the adapters report
 * (core/vendor-call.ts), against the limits the vendor modules declare (vendors/<vendor>/index.ts).
 * Each vendor limits something different, so each is measured its own way:
 *
 *   Salesforce  DAILY_REQUESTS       the org's 24-hour API request budget, as Salesforce reports it
 *                                    on every response (`Sforce-Limit-Info: api-usage=used/max`);
 *   Stripe      REQUESTS_PER_SECOND  Stripe's per-second rate limit (100/s live, 25/s test mode);
 *                                    no header tells usage, so the busiest second of the last minute;
 *   NetSuite    CONCURRENT_REQUESTS  the account's concurrency limit (CONCORD_ERP_CONCURRENCY, the
 *                                    share Concord keeps to); busy time per second is the average
 *                                    number of requests in flight (Little's law), its peak over the
 *                                    last minute is what is compared.
 *
 * A one-minute window of one-second slots per vendor; memory is fixed (60 slots, and at most
 * LATENCY_SAMPLES durations for the p95).
 */
import type { SystemName } from '../core/errors';
import type { VendorCall, VendorLimitPolicy } from '../core/vendor-call';

export type { VendorLimitPolicy } from '../core/vendor-call';
export type VendorLimitKind = VendorLimitPolicy['kind'];

export interface VendorLimitUsage {
  kind: VendorLimitKind;
  used: number;
  max: number;
  /** Where `used` comes from, for people reading the console. */
  source: string;
}

export interface VendorUsage {
  system: SystemName;
  vendor: string;
  callsLastMinute: number;
  errorsLastMinute: number;
  rateLimitedLastMinute: number;
  /** 95th percentile of call durations in the last minute, ms; null without calls. */
  p95LatencyMs: number | null;
  /** Calls since the process started. */
  callsTotal: number;
  limit: VendorLimitUsage | null;
}

const WINDOW_SECONDS = 60;

/**
 * A call that failed: no answer, or a 4xx/5xx other than 404. A 404 is a lookup that found nothing,
 * which is how adapters check for an existing record before writing (not a failure to report).
 */
export function isVendorFailure(status: number): boolean {
  return status === 0 || (status >= 400 && status !== 404);
}
const LATENCY_SAMPLES = 2000;

interface Slot {
  second: number;
  calls: number;
  errors: number;
  limited: number;
  busyMs: number;
}

interface VendorWindow {
  system: SystemName;
  slots: Slot[];
  latencies: { at: number; ms: number }[];
  total: number;
  reported: { used: number; max: number } | null;
}

export function createVendorUsage(policies: Record<string, VendorLimitPolicy> = {}, now: () => number = Date.now) {
  // Vendors with a known limit are listed before their first call (with zero usage).
  const vendors = new Map<string, VendorWindow>(
    Object.entries(policies).map(([vendor, policy]) => [vendor, { system: policy.system, slots: [], latencies: [], total: 0, reported: null }]),
  );

  function slotOf(window: VendorWindow, second: number): Slot {
    const index = second % WINDOW_SECONDS;
    let slot = window.slots[index];
    if (!slot || slot.second !== second) slot = window.slots[index] = { second, calls: 0, errors: 0, limited: 0, busyMs: 0 };
    return slot;
  }

  function record(call: VendorCall): void {
    let window = vendors.get(call.vendor);
    if (!window) vendors.set(call.vendor, (window = { system: call.system, slots: [], latencies: [], total: 0, reported: null }));
    const at = now();
    const slot = slotOf(window, Math.floor(at / 1000));
    slot.calls += 1;
    slot.busyMs += call.durationMs;
    if (isVendorFailure(call.status)) slot.errors += 1;
    if (call.status === 429) slot.limited += 1;
    window.total += 1;
    window.latencies.push({ at, ms: call.durationMs });
    if (window.latencies.length > LATENCY_SAMPLES) window.latencies.splice(0, window.latencies.length - LATENCY_SAMPLES);
    if (call.limit) window.reported = call.limit;
  }

  function summary(vendor: string, window: VendorWindow): VendorUsage {
    const at = now();
    const current = Math.floor(at / 1000);
    const live = window.slots.filter((s) => s && s.second > current - WINDOW_SECONDS);
    const sum = (pick: (s: Slot) => number) => live.reduce((total, s) => total + pick(s), 0);
    const recent = window.latencies.filter((l) => l.at > at - WINDOW_SECONDS * 1000).map((l) => l.ms).sort((a, b) => a - b);
    const p95 = recent.length ? recent[Math.min(recent.length - 1, Math.ceil(recent.length * 0.95) - 1)] : null;
    const policy = policies[vendor];
    let limit: VendorLimitUsage | null = null;
    if (policy?.kind === 'DAILY_REQUESTS' && window.reported) {
      limit = { kind: 'DAILY_REQUESTS', used: window.reported.used, max: window.reported.max, source: 'Sforce-Limit-Info api-usage, as last reported' };
    } else if (policy?.kind === 'REQUESTS_PER_SECOND') {
      limit = { kind: policy.kind, used: Math.max(0, ...live.map((s) => s.calls)), max: policy.max, source: 'busiest second of the last minute' };
    } else if (policy?.kind === 'CONCURRENT_REQUESTS') {
      const peak = Math.max(0, ...live.map((s) => s.busyMs / 1000));
      limit = { kind: policy.kind, used: Math.round(peak * 100) / 100, max: policy.max, source: 'requests in flight, busiest second of the last minute' };
    }
    return {
      system: window.system,
      vendor,
      callsLastMinute: sum((s) => s.calls),
      errorsLastMinute: sum((s) => s.errors),
      rateLimitedLastMinute: sum((s) => s.limited),
      p95LatencyMs: p95 === null ? null : Math.round(p95 * 10) / 10,
      callsTotal: window.total,
      limit,
    };
  }

  return {
    record,
    /** Every vendor with a known limit, then any other vendor called so far. */
    usage: (): VendorUsage[] => [...vendors].map(([vendor, window]) => summary(vendor, window)),
  };
}

export type VendorUsageTracker = ReturnType<typeof createVendorUsage>;
