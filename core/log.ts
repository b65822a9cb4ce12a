/**
 * Structured JSON logs (pino). Secrets are redacted by path so that a token or key that reaches a
 * log call by mistake is still never written.
 */
import pino, { type Logger } from 'pino';

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
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const { level = 'info', name = 'concord' } = options;
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
