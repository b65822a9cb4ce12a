/**
 * The one push-to-pull bridge of subscriptions: a producer pushes values (or promises of values,
 * computed concurrently) and a consumer pulls them, in push order, through an async iterator.
 * Both subscription sources use it: Concord's event log (subscription-streams.ts
 * orderedDeliveries) and a subgraph's own graphql-ws stream (standalone-upstream.ts relay).
 *
 * Why not an async generator: a generator's `return()` waits until the generator is resumed, so a
 * client that leaves while no event comes would keep its stream (and its upstream socket) open.
 * Here `return()` and `abort()` take effect at once.
 *
 *   push(value)   a value or a promise of one; delivered after everything pushed before it
 *   end(error?)   no more values: what was pushed is delivered, then done (or the error thrown)
 *   abort(reason) stop now: what was pushed is dropped; with an Error reason the consumer's next
 *                 pull throws it (token expired, too slow), without one it is done
 */
export interface PullQueue<T> {
  push(value: T | Promise<T>): void;
  end(error?: unknown): void;
  abort(reason?: unknown): void;
  /** Values pushed and not yet pulled. */
  readonly length: number;
  /** True once aborted or returned by the consumer. */
  readonly stopped: boolean;
  /** Resolves once fewer than `limit` values wait, or the queue is stopped (producer back-pressure). */
  room(limit: number): Promise<void>;
  /** The consumer's side. */
  readonly iterator: AsyncGenerator<T>;
}

/** `onStop` runs once, when the consumer returns or the queue is aborted: stop the producer there. */
export function createPullQueue<T>(onStop: () => void = () => undefined): PullQueue<T> {
  const pending: Promise<T>[] = [];
  let ended: { error?: unknown } | null = null;
  let stoppedWith: { reason?: unknown } | null = null;
  let wakeConsumer: (() => void) | null = null;
  let wakeProducer: (() => void) | null = null;
  const wake = () => {
    const consumer = wakeConsumer;
    const producer = wakeProducer;
    wakeConsumer = wakeProducer = null;
    consumer?.();
    producer?.();
  };
  const stop = (reason?: unknown) => {
    if (stoppedWith) return;
    stoppedWith = { reason };
    pending.length = 0;
    wake();
    onStop();
  };

  const iterator: AsyncGenerator<T> = {
    async next() {
      for (;;) {
        if (stoppedWith) {
          const { reason } = stoppedWith;
          // The error is reported once; after it the stream is simply over.
          if (reason instanceof Error) {
            stoppedWith = {};
            throw reason;
          }
          return { done: true, value: undefined };
        }
        const head = pending.shift();
        if (head) {
          wake();
          const value = await head;
          // Aborted while the value was computed: it is not delivered.
          if (stoppedWith) continue;
          return { done: false, value };
        }
        if (ended) {
          const { error } = ended;
          stop();
          if (error !== undefined) throw error;
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => (wakeConsumer = resolve));
      }
    },
    async return() {
      stop();
      return { done: true, value: undefined };
    },
    async throw(error) {
      stop();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  } as AsyncGenerator<T>;

  return {
    push(value) {
      if (stoppedWith || ended) return;
      const promise = Promise.resolve(value);
      promise.catch(() => undefined); // surfaced, in order, by next()
      pending.push(promise);
      wake();
    },
    end(error) {
      if (stoppedWith || ended) return;
      ended = { error };
      wake();
    },
    abort: (reason) => stop(reason),
    get length() {
      return pending.length;
    },
    get stopped() {
      return stoppedWith !== null;
    },
    async room(limit) {
      while (pending.length >= limit && !stoppedWith) await new Promise<void>((resolve) => (wakeProducer = resolve));
    },
    iterator,
  };
}
