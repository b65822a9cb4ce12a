import { ConcordError } from '../core/errors';

/** Largest page a list field serves; bigger requests are refused rather than silently cut. */
export const MAX_PAGE_SIZE = 200;

export function checkFirst(first: number | null | undefined, fallback = 20, max = MAX_PAGE_SIZE): number {
  const value = first ?? fallback;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ConcordError('BAD_USER_INPUT', `first must be between 0 and ${max}, got ${value}`);
  }
  return value;
}

/** Opaque cursors: base64url of `<type>:<id>`, so clients do not build them by hand. */
export function encodeCursor(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64url');
}

export function decodeCursor(type: string, cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined || cursor === '') return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const prefix = `${type}:`;
  if (!text.startsWith(prefix) || text.length === prefix.length) {
    throw new ConcordError('BAD_USER_INPUT', `after is not a ${type} cursor`);
  }
  return text.slice(prefix.length);
}
