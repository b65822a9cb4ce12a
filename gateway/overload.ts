/**
 * Graceful overload: a bounded number of GraphQL executions in flight, a short FIFO queue in front
 * of them, and beyond that a fast refusal (HTTP 503, `Retry-After`, SERVICE_UNAVAILABLE) instead of
 * seconds of latency for everyone.
 *
 * Why: the gateway's throughput is bounded by its CPU (about 13 ms per unified-view-sized request on
 * one core, bench/README.md). Past that point every extra request in flight only adds latency to all
 * the others; measured without a bound, p99 went from 27 ms at 1 connection to 7.2 s at 100 while
 * throughput stayed flat (issue 17). With the bound, the requests that are served keep their latency
 * and the rest learn at once that they should come back, which a client or a load balancer can act on.
 *
 * Only /graphql executions over HTTP pass this gate: /health, /ready, /metrics, the IDE and the ops
 * console never wait here, and neither do requests refused before execution (authentication, rate
 * limits, admission: their answers cost little and say more than a 503).
 */
import type { ConcordConfig } from '../core/config';
import { ConcordError } from '../core/errors';

export interface ExecutionGateOptions {
  /** Most executions at once; 0 = no bound (and no queue). Default 32. */
  maxInFlight?: number;
  /** Requests waiting for a slot, first come first served; beyond it a request is refused at once. Default 16. */
  queueLength?: number;
  /** Longest a request waits in the queue before it is refused, in ms. Default 500. */
  queueWaitMs?: number;
  /** Told of every refusal: the queue was full, or the request waited `queueWaitMs` in it. Default: nothing. */
  onShed?: (reason: ShedReason) => void;
  /** Timers, for tests that drive the queue's clock. Default: the global setTimeout/clearTimeout. */
  timers?: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
}

export type ShedReason = 'queue_full' | 'queue_timeout';

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant(release: Release): void;
  timer: unknown;
  /** False once it timed out (left in the queue array, skipped when reached). */
  live: boolean;
}

/** A refusal of the gate: the 503 the gateway answers. */
export class OverloadedError extends ConcordError {
  constructor(readonly reason: ShedReason, retryAfterSeconds: number) {
    super('SERVICE_UNAVAILABLE', reason === 'queue_full'
      ? 'the gateway is at capacity; retry shortly'
      : 'the gateway is at capacity and the request waited too long for its turn; retry shortly', { retryAfterSeconds });
    this.name = 'OverloadedError';
  }
}

export function createExecutionGate(options: ExecutionGateOptions = {}) {
  const { maxInFlight = 32, queueLength = 16, queueWaitMs = 500, onShed, timers = { setTimeout, clearTimeout } } = options;
  // Whole seconds (RFC 9110 delay-seconds): about the time the queue takes to move on.
  const retryAfterSeconds = Math.max(1, Math.ceil(queueWaitMs / 1000));
  let inFlight = 0;
  let queued = 0;
  let shed = 0;
  // A FIFO over an array with a moving head: O(1) both ends; timed-out waiters are skipped.
  let queue: Waiter[] = [];
  let head = 0;

  function refuse(reason: ShedReason): OverloadedError {
    shed += 1;
    onShed?.(reason);
    return new OverloadedError(reason, retryAfterSeconds);
  }

  function slot(): Release {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      next();
    };
  }

  /** A slot was given back: hand it to the oldest waiter still waiting, or free it. */
  function next(): void {
    while (head < queue.length) {
      const waiter = queue[head];
      queue[head++] = undefined as unknown as Waiter;
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      if (!waiter.live) continue;
      waiter.live = false;
      queued -= 1;
      timers.clearTimeout(waiter.timer);
      // The slot passes straight on: inFlight does not change.
      waiter.grant(slot());
      return;
    }
    inFlight -= 1;
  }

  return {
    /**
     * A slot for one execution: at once when one is free, after the requests queued before it
     * otherwise. Throws (or rejects with) OverloadedError when the queue is full or the wait too long.
     */
    acquire(): Release | Promise<Release> {
      if (maxInFlight <= 0) return () => undefined;
      if (inFlight < maxInFlight) {
        inFlight += 1;
        return slot();
      }
      if (queued >= queueLength) throw refuse('queue_full');
      return new Promise<Release>((resolve, reject) => {
        const waiter: Waiter = {
          grant: resolve,
          live: true,
          timer: timers.setTimeout(() => {
            if (!waiter.live) return;
            waiter.live = false;
            queued -= 1;
            reject(refuse('queue_timeout'));
          }, queueWaitMs),
        };
        queued += 1;
        queue.push(waiter);
      });
    },

    /**
     * Refuse now, before any work is done for the request (authentication, reading and parsing the
     * body), when acquire() would refuse it anyway: every slot and every place in the queue taken.
     * Null when it may be served (acquire() decides, after admission).
     */
    refuseEarly(): OverloadedError | null {
      return maxInFlight > 0 && inFlight >= maxInFlight && queued >= queueLength ? refuse('queue_full') : null;
    },

    /** Executions running now, requests waiting now, and requests refused since the start. */
    stats(): { inFlight: number; queued: number; shed: number; maxInFlight: number } {
      return { inFlight, queued, shed, maxInFlight };
    },
  };
}

export type ExecutionGate = ReturnType<typeof createExecutionGate>;

/** The gateway options (createGateway) for load that come from the configuration (CONCORD_MAX_IN_FLIGHT and the rest). */
export function loadOptionsFromConfig(config: ConcordConfig): { overload: Pick<ExecutionGateOptions, 'maxInFlight' | 'queueLength' | 'queueWaitMs'>; dedupFetches: boolean } {
  const { maxInFlight, queueLength, queueWaitMs, dedupFetches } = config.gatewayLoad;
  return { overload: { maxInFlight, queueLength, queueWaitMs }, dedupFetches };
}
