/**
 * Salesforce wire conventions shared by the store, SOQL and the routes: the error envelope, record
 * ids (15/18 characters with the case-checksum suffix) and date formats.
 */
import { salesforceId18 } from '../common/seed';

export const API_VERSION = 'v62.0';
export const API_BASE = `/services/data/${API_VERSION}`;

/** One entry of Salesforce's error array: `[{ message, errorCode, fields? }]`. */
export interface SalesforceErrorEntry {
  message: string;
  errorCode: string;
  fields?: string[];
}

/** A failure the simulator answers with Salesforce's error envelope and HTTP status. */
export class SalesforceApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }

  get entry(): SalesforceErrorEntry {
    return this.fields === undefined
      ? { message: this.message, errorCode: this.errorCode }
      : { message: this.message, errorCode: this.errorCode, fields: this.fields };
  }
}

export const notFound = () => new SalesforceApiError(404, 'NOT_FOUND', 'The requested resource does not exist');

const SUFFIX_MAP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/**
 * A 15- or 18-character id in its canonical 18-character form, or null when malformed. An
 * 18-character id is case-insensitive: its suffix encodes the case of the first 15 characters,
 * so the case is restored from it before the suffix is checked.
 */
export function normalizeId(value: string): string | null {
  if (!/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(value)) return null;
  if (value.length === 15) return salesforceId18(value);
  const suffix = value.slice(15).toUpperCase();
  const chars = value.slice(0, 15).split('');
  for (let chunk = 0; chunk < 3; chunk++) {
    const bits = SUFFIX_MAP.indexOf(suffix[chunk]);
    if (bits < 0) return null;
    for (let i = 0; i < 5; i++) {
      const at = chunk * 5 + i;
      chars[at] = bits & (1 << i) ? chars[at].toUpperCase() : chars[at].toLowerCase();
    }
  }
  const restored = salesforceId18(chars.join(''));
  return restored.slice(15) === suffix ? restored : null;
}

/** Salesforce's datetime format: 2026-08-01T00:00:00.000+0000 */
export function formatDateTime(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

/** Milliseconds of a Salesforce date or datetime string (both formats parse), NaN when invalid. */
export function parseTime(value: string): number {
  const normalized = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(normalized);
}

export function isDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(parseTime(value));
}

export function recordUrl(type: string, id: string): string {
  return `${API_BASE}/sobjects/${type}/${id}`;
}
