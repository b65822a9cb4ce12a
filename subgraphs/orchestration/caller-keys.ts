/**
 * Idempotency keys belong to the caller that sent them. A run stores its key as `<owner>|<key>`,
 * where the owner is the caller's scope (core/principal.ts callerScope), so that two callers who
 * happen to pick the same key get two runs, and a caller can neither replay nor squat (nor learn
 * the run id behind) another caller's key. `|` is not allowed in a caller's key (KEY_PATTERN), so
 * the caller's key is whatever follows the last `|`.
 *
 * Runs started without a caller (internal repairs, tests of the engine alone) keep the bare key.
 */

/** The stored form of a caller's key. */
export function ownedKey(owner: string | null | undefined, key: string): string {
  return owner ? `${owner}|${key}` : key;
}

/** The caller's key back from its stored form. */
export function unownedKey(stored: string): string {
  return stored.slice(stored.lastIndexOf('|') + 1);
}
