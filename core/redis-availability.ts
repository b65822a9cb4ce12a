/**
 * Redis unreachable, as Concord's clients see it: one place where a failure to talk to Redis
 * becomes the retryable SERVICE_UNAVAILABLE of the error contract, and the client options that make
 * it come fast (seconds, not the ~15 s of ioredis's default retries).
 *
 * The rule is by class, not by message: a `ReplyError` is Redis answering (a script error,
 * NOSCRIPT, WRONGTYPE) and passes through as it is; any other error from the client (command
 * timed out, connection closed, retries per request exhausted) means Redis could not be reached,
 * and nothing the command asked for can be assumed done or not done.
 */
import { ReplyError, type RedisOptions } from 'ioredis';
import { ConcordError } from './errors';

/**
 * Fail-fast options for a Redis client of the request path. `commandTimeout` also bounds a command
 * waiting in the offline queue while ioredis reconnects (ioredis 6 sets the timer when the command
 * is issued); one retry per request rides over a single dropped connection.
 */
export function failFastRedisOptions(commandTimeoutMs: number): RedisOptions {
  return { commandTimeout: commandTimeoutMs, maxRetriesPerRequest: 1 };
}

export function isRedisUnreachable(error: unknown): boolean {
  return error instanceof Error && !(error instanceof ReplyError) && !(error instanceof ConcordError);
}

export function redisUnavailable(error: unknown): unknown {
  if (!isRedisUnreachable(error)) return error;
  return new ConcordError(
    'SERVICE_UNAVAILABLE',
    "Concord cannot reach its state store (Redis) right now; retry shortly with the same idempotency key (a request that did take effect is found by it, not repeated)",
    { retryable: true, cause: error },
  );
}

/**
 * The client with every command's failure mapped by redisUnavailable, including the `exec` of a
 * MULTI or pipeline. Everything else (events, status, quit) is the client's own.
 */
export function guardRedis<T extends object>(client: T): T {
  const wrapResult = (result: unknown): unknown => {
    if (result instanceof Promise) return result.catch((error: unknown) => Promise.reject(redisUnavailable(error)));
    if (result && typeof result === 'object' && typeof (result as { exec?: unknown }).exec === 'function') return guardRedis(result as object);
    return result;
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'on' || prop === 'once' || prop === 'off' || prop === 'quit' || prop === 'disconnect') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (...args: unknown[]) => wrapResult(value.apply(target, args));
    },
  });
}
