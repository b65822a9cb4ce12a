/**
 * Warnings that a caller can cause (a forged webhook, a failed login) must not let that caller
 * write the log at its own rate: the first line of each kind is written, then at most one per
 * interval, carrying how many were suppressed in between. The count is kept per kind, in memory,
 * for a bounded number of kinds.
 */
import type { Logger } from './log';

export interface ThrottledLogOptions {
  /** Least time between two lines of one kind, in ms. Default 10000. */
  intervalMs?: number;
  /** Kinds tracked at once (older ones are forgotten). Default 100. */
  maxKinds?: number;
}

export type ThrottledWarn = (kind: string, fields: Record<string, unknown>, message: string) => void;

export function throttledWarn(logger: Logger, options: ThrottledLogOptions = {}): ThrottledWarn {
  const { intervalMs = 10_000, maxKinds = 100 } = options;
  const kinds = new Map<string, { last: number; suppressed: number }>();
  return (kind, fields, message) => {
    const now = Date.now();
    const state = kinds.get(kind);
    if (state && now - state.last < intervalMs) {
      state.suppressed += 1;
      return;
    }
    if (!state && kinds.size >= maxKinds) kinds.delete(kinds.keys().next().value!);
    logger.warn({ ...fields, ...(state?.suppressed ? { suppressed: state.suppressed } : {}) }, message);
    kinds.set(kind, { last: now, suppressed: 0 });
  };
}
