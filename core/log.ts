/**
 * Structured JSON logs (pino). Secrets are redacted by path so that a token or key that reaches a
 * log call by mistake is still never written, and every string logged (messages, fields, error
 * messages and stacks) is scrubbed of what looks like a credential or payment data: JWTs, bearer
 * tokens, Stripe and Chargebee keys, HubSpot private-app tokens and webhook secrets, card numbers (Luhn-checked) and IBANs. Lines written
 * while a request or run is served carry its correlation id and W3C trace ids (core/tracing.ts).
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { logContext } from './tracing';

export type { Logger } from 'pino';

const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["x-concord-signature"]',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'accessToken',
  '*.accessToken',
  'secret',
  '*.secret',
  '*.consumerSecret',
  '*.tokenSecret',
  'password',
  '*.password',
  'cookie',
  '*.cookie',
  'headers.cookie',
  'req.headers.cookie',
  'headers["stripe-signature"]',
  '*.headers["stripe-signature"]',
  'jwtSecret',
  '*.jwtSecret',
  'subgraphSecret',
  '*.subgraphSecret',
  'webhookSecret',
  '*.webhookSecret',
  // Card and bank data as Stripe and NetSuite name it.
  'card',
  '*.card',
  'cvc',
  '*.cvc',
  'bank_account',
  '*.bank_account',
  'account_number',
  '*.account_number',
  'routing_number',
  '*.routing_number',
  'iban',
  '*.iban',
  'payment_method_details',
  '*.payment_method_details',
];

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const PATTERNS: [RegExp, string | ((match: string) => string)][] = [
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi, 'Bearer [redacted]'],
  [/\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{6,}/g, '[redacted-key]'],
  [/\bwhsec_[A-Za-z0-9]{6,}/g, '[redacted-key]'],
  // Chargebee API keys: test_/live_ and a long random part (the short ones of the simulator's docs are not keys).
  [/\b(?:test|live)_[A-Za-z0-9]{24,}/g, '[redacted-key]'],
  // HubSpot private-app tokens: pat-<region>-<uuid> (sent as bearer tokens, also found bare in errors and config dumps).
  [/\bpat-[a-z]{2,4}\d?-[A-Za-z0-9-]{8,}/g, '[redacted-key]'],
  [/\b(?:\d[ -]?){12,18}\d\b/g, (match) => (luhn(match.replace(/[ -]/g, '')) ? '[redacted-pan]' : match)],
  [/\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, '[redacted-iban]'],
];

/** A string with every credential- or payment-looking part replaced. */
export function scrub(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement as string);
  return out;
}

/** Deep copy of a log object with every string scrubbed (errors become plain objects). */
function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { type: value.name, message: scrub(value.message) };
    if (value.stack) plain.stack = scrub(value.stack);
    for (const [k, v] of Object.entries(value)) if (!(k in plain)) plain[k] = scrubValue(v, depth + 1);
    return plain;
  }
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1);
  return out;
}

/** How lines are written: JSON objects, pretty (for a person at a terminal), or auto (pretty on a TTY outside production). */
export type LogFormat = 'json' | 'pretty' | 'auto';

export interface LoggerOptions {
  /** pino level; default `info`. */
  level?: string;
  /** `name` on every line; default `concord`. */
  name?: string;
  /** Where lines go; default stdout. A destination given here is always written JSON. */
  destination?: DestinationStream;
  /** Default `json`; processes pass config.logFormat (CONCORD_LOG_FORMAT). */
  format?: LogFormat;
  /** Whether the process runs in production (auto never picks pretty there); default false. */
  production?: boolean;
}

/** Pretty only for a person: asked for, or auto on a terminal outside production. Logs collected by machines stay JSON. */
export function usePretty(format: LogFormat, production: boolean, isTty = Boolean(process.stdout.isTTY)): boolean {
  return format === 'pretty' || (format === 'auto' && isTty && !production);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = 'info', name = 'concord', format = 'json', production = false } = options;
  // pino-pretty as a synchronous stream rather than a transport (worker thread): lines appear in order
  // with the process's own stdout writes, and redaction and scrubbing have already run (pino does them
  // before the destination sees the line).
  const destination =
    options.destination ?? (usePretty(format, production) ? pinoPretty({ sync: true, colorize: Boolean(process.stdout.isTTY), translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }) : undefined);
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      // The request's or run's correlation id and trace ids on every line written while serving it
      // (core/tracing.ts), unless the line or a child logger already names its correlation id.
      mixin(object, _level, logger) {
        const fields: Record<string, string> = logContext();
        if (fields.correlationId && ('correlationId' in object || (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym]?.includes('"correlationId":'))) {
          delete fields.correlationId;
        }
        return fields;
      },
      formatters: { log: (object) => scrubValue(object) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          return method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
