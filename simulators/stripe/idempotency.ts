/**
 * Stripe's idempotent requests (https://docs.stripe.com/api/idempotent_requests): the first result of
 * a POST carrying an `Idempotency-Key` is stored (status and body, errors included once the endpoint
 * started executing) and replayed for the same key with `Idempotent-Replayed: true`. The same key with
 * other parameters or another endpoint is refused (400 idempotency_error); a key whose first request
 * is still running gets 409 idempotency_key_in_use. Requests refused by parameter validation are not
 * stored, so a corrected retry can reuse the key. Keys are forgotten after 24 hours, as on Stripe.
 *
 * The store sits inside the route handler, so when the simulator shell applies a request and then
 * loses the answer (fault '500', 'timeout' or 'reset' with applyBeforeFail), the applied result is
 * what a retry with the same key gets back - exactly the uncertain outcome idempotency keys exist for.
 */
import type { SimResponse } from '../common/sim-server';
import { StripeApiError, VALIDATION_CODES } from './errors';

const KEY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * Most keys held at once. stripe-node puts a key on every POST, so a long benchmark would otherwise
 * keep every response for a day; past this bound the oldest keys go first (Stripe has no such bound).
 */
const MAX_KEYS = 20_000;

interface Entry {
  endpoint: string;
  params: string;
  createdAt: number;
  /** null while the first request is still running. */
  result: { status: number; headers: Record<string, string>; body: string } | null;
}

function idempotencyError(status: number, message: string, code?: string): SimResponse {
  return new StripeApiError(status, { type: 'idempotency_error', message, ...(code ? { code } : {}) }).toResponse();
}

function isValidationFailure(response: SimResponse): boolean {
  const body = response.body as { error?: { code?: string } } | undefined;
  return response.status === 400 && VALIDATION_CODES.has(body?.error?.code ?? '');
}

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * Run `execute` under `key`, or answer from what the key already holds.
   * `endpoint` is 'POST /v1/customers'; `params` the request's parameter fingerprint.
   */
  async run(key: string, endpoint: string, params: string, execute: () => Promise<SimResponse>): Promise<SimResponse> {
    const now = this.clock();
    const existing = this.entries.get(key);
    if (existing && now - existing.createdAt < KEY_TTL_MS) {
      if (existing.result === null) {
        return idempotencyError(
          409,
          `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
          'idempotency_key_in_use',
        );
      }
      if (existing.endpoint !== endpoint) {
        return idempotencyError(
          400,
          `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.endpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        );
      }
      if (existing.params !== params) {
        return idempotencyError(
          400,
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        );
      }
      const { status, headers, body } = existing.result;
      return {
        status,
        headers: { ...headers, 'Idempotent-Replayed': 'true', 'content-type': 'application/json;charset=UTF-8' },
        body,
      };
    }

    const entry: Entry = { endpoint, params, createdAt: now, result: null };
    this.entries.delete(key); // an expired entry: re-insert so that Map order stays oldest first
    this.entries.set(key, entry);
    this.evict(now);
    let response: SimResponse;
    try {
      response = await execute();
    } catch (error) {
      this.entries.delete(key);
      throw error;
    }
    if (isValidationFailure(response)) {
      this.entries.delete(key);
    } else {
      // Stored as text: a replay returns the object as it was then, not as it is now.
      const { 'Request-Id': original, ...headers } = response.headers ?? {};
      if (original) headers['Original-Request'] = original;
      entry.result = { status: response.status, headers, body: JSON.stringify(response.body) };
    }
    return response;
  }

  /** Drop expired keys, and the oldest ones beyond MAX_KEYS (Map order is insertion order). */
  private evict(now: number): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= MAX_KEYS && now - entry.createdAt < KEY_TTL_MS) break;
      if (entry.result !== null) this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
