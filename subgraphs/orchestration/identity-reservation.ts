/**
 * Reservations of a company's identity while the customer master creates it: the normalised name
 * and the tax registration (matching.ts: the identities that alone make a likely duplicate), each a
 * key set only if absent, with an expiry, in the key-value store every process shares (Redis SET NX
 * PX in production). A create takes them all before it searches for duplicates and writes the CRM
 * account; a concurrent create of the same company finds one taken and is refused with CONFLICT,
 * naming the customer the holder made once it is known. Keys are taken in a fixed order and never
 * waited on, so two creates cannot deadlock; a create that fails before writing releases them.
 */
import { randomUUID } from 'node:crypto';
import { ConcordError } from '../../core/errors';
import type { KeyValueStore } from './kv';
import { normaliseName, normaliseTaxId } from './matching';

export interface IdentityReservationOptions {
  kv: KeyValueStore;
  /** How long a reservation lasts, in ms (see CustomerMasterOptions.reservationMs). */
  ttlMs: number;
}

interface Holder {
  /** The idempotency key of the create that holds it (the same key may pass: it is a replay). */
  key: string;
  token: string;
  /** The CRM account the holder made, once made. */
  customerId: string | null;
}

export interface HeldIdentity {
  /** Record the customer made under the reservation; it is kept until it expires. */
  settle(customerId: string): Promise<void>;
  /** Free the identity (nothing was created). */
  release(): Promise<void>;
}

export function createIdentityReservations(options: IdentityReservationOptions) {
  const { kv, ttlMs } = options;

  function keysOf(identity: { name: string; taxRegistration: string | null }): string[] {
    const keys: string[] = [];
    const name = normaliseName(identity.name);
    if (name) keys.push(`customer-master:identity:name:${name}`);
    const tax = normaliseTaxId(identity.taxRegistration);
    if (tax) keys.push(`customer-master:identity:tax:${tax}`);
    return keys;
  }

  async function reserve(identity: { name: string; taxRegistration: string | null }, idempotencyKey: string, confirmedOther: readonly string[]): Promise<HeldIdentity> {
    const token = randomUUID();
    const mine = (customerId: string | null) => JSON.stringify({ key: idempotencyKey, token, customerId } satisfies Holder);
    const taken: string[] = [];
    const release = async () => {
      for (const key of taken) {
        const raw = await kv.get(key).catch(() => null);
        // Only ours, and only as we left it.
        if (raw && (JSON.parse(raw) as Holder).token === token) await kv.deleteIfEquals(key, raw).catch(() => false);
      }
    };
    try {
      for (const key of keysOf(identity)) {
        if (await kv.setIfAbsent(key, mine(null), ttlMs)) {
          taken.push(key);
          continue;
        }
        const raw = await kv.get(key);
        if (raw === null) {
          // Expired between the two calls: try once more.
          if (await kv.setIfAbsent(key, mine(null), ttlMs)) {
            taken.push(key);
            continue;
          }
        }
        const holder = raw ? (JSON.parse(raw) as Holder) : null;
        // A retry of the same create (same key) is not a duplicate of itself.
        if (holder && holder.key === idempotencyKey) continue;
        // The caller confirmed the company the holder created is another one.
        if (holder?.customerId && confirmedOther.includes(holder.customerId)) continue;
        throw new ConcordError(
          'CONFLICT',
          holder?.customerId
            ? `customer ${holder.customerId} was just created with this ${key.includes(':tax:') ? 'tax registration' : 'name'}; pass its id in confirmNotDuplicateOf if it is another company`
            : `another request is creating a customer with this ${key.includes(':tax:') ? 'tax registration' : 'name'} right now; look it up shortly instead of creating it again`,
        );
      }
    } catch (error) {
      await release();
      throw error;
    }
    return {
      async settle(customerId) {
        for (const key of taken) {
          const raw = await kv.get(key);
          if (raw && (JSON.parse(raw) as Holder).token === token) await kv.compareAndSet(key, raw, mine(customerId), ttlMs);
        }
      },
      release,
    };
  }

  return { reserve };
}
