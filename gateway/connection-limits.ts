/**
 * Limits on who may hold what open, shared by HTTP and WebSocket: connections per token subject
 * and per client address, and failed authentications per address.
 *
 * Every check-and-count is one synchronous step (no await between the test and the increment),
 * so a burst of concurrent connection attempts cannot overshoot a cap the way a check followed by
 * an asynchronous step and then a count can. Counts are per gateway process: a cap is per replica.
 */

/** Counts held per key, each below a cap; `acquire` and `release` pair up. */
export class CappedCounter {
  private readonly counts = new Map<string, number>();

  constructor(readonly cap: number) {}

  /** Take one for `key`; false (and nothing taken) when the key is at its cap. */
  acquire(key: string): boolean {
    const held = this.counts.get(key) ?? 0;
    if (held >= this.cap) return false;
    this.counts.set(key, held + 1);
    return true;
  }

  release(key: string): void {
    const held = this.counts.get(key) ?? 0;
    if (held <= 1) this.counts.delete(key);
    else this.counts.set(key, held - 1);
  }

  held(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

export interface FailureLimiterOptions {
  /** Failed authentications an address may make per window. Default 20. */
  maxFailures?: number;
  /** The window, in ms. Default 60000. */
  windowMs?: number;
  /** Addresses tracked at once (the oldest are forgotten). Default 10000. */
  maxAddresses?: number;
}

/**
 * Failed authentications per client address in a fixed window. Once an address is over its
 * allowance, its requests are refused (429) before any token is verified, until the window ends:
 * guessing tokens or flooding with bad ones costs the gateway one map lookup.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { started: number; failures: number }>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;

  constructor(options: FailureLimiterOptions = {}) {
    const { maxFailures = 20, windowMs = 60_000, maxAddresses = 10_000 } = options;
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
    this.maxAddresses = maxAddresses;
  }

  /** Seconds until the address may try again; 0 when it may now. */
  blockedFor(address: string, now = Date.now()): number {
    const window = this.windows.get(address);
    if (!window) return 0;
    if (now - window.started >= this.windowMs) {
      this.windows.delete(address);
      return 0;
    }
    return window.failures >= this.maxFailures ? Math.max(1, Math.ceil((window.started + this.windowMs - now) / 1000)) : 0;
  }

  recordFailure(address: string, now = Date.now()): void {
    let window = this.windows.get(address);
    if (!window || now - window.started >= this.windowMs) {
      if (!window && this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
      window = { started: now, failures: 0 };
      this.windows.set(address, window);
    }
    window.failures += 1;
  }
}

/** A WebSocket connection refused for a limit: the transport closes the socket with this code. */
export class ConnectionRefused extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectionRefused';
  }
}

/** Close code for "too many" (graphql-ws leaves 4000-4999 to applications; 4429 echoes HTTP 429). */
export const CLOSE_TOO_MANY = 4429;
