/**
 * `npm run token -- --preset admin|ops|portal [--customer <id>] [--ttl 1h] [--sub name]`, or
 * `--scope "..."`: prints a dev token signed with CONCORD_JWT_SECRET (or the dev secret). The presets
 * are the kinds of client of docs/api.md "Scopes", so nobody has to remember which scopes a portal needs.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config';
import { SCOPES, mintToken, type Scope } from './token';

/** The kinds of client (docs/api.md): their scopes, and whether a portal's customer must be named. */
export const PRESETS: Record<string, { scopes: readonly Scope[]; needsCustomer: boolean; about: string }> = {
  admin: { scopes: SCOPES, needsCustomer: false, about: 'internal app or administrator: every scope' },
  ops: { scopes: ['ops:read', 'ops:write'], needsCustomer: false, about: 'operator, the ops console: ops:read ops:write' },
  portal: { scopes: ['customers:read', 'billing:read', 'orders:write'], needsCustomer: true, about: 'customer portal: customers:read billing:read orders:write, one customer (--customer required)' },
};

export const USAGE = `Usage: npm run -s token -- [--preset admin|ops|portal] [options]

Prints a bearer token (HS256, signed with CONCORD_JWT_SECRET, or the dev secret when it is unset) on
stdout, for development and tests. Production identity providers issue their own tokens (CONCORD_JWKS_URL).

Presets (the kinds of client, docs/api.md "Scopes"):
${Object.entries(PRESETS).map(([name, p]) => `  ${name.padEnd(8)} ${p.about}`).join('\n')}

Options:
  -p, --preset <name>     one of the presets above (default: admin, unless --scope is given)
  -s, --scope "<scopes>"  space-separated scopes instead of a preset:
                          ${SCOPES.join(' ')}
  -c, --customer <id>     make it a portal token for this customer id (claim customer_id)
  -t, --ttl <duration>    lifetime, e.g. 30m, 1h, 12h (default 1h)
      --sub <subject>     the token's subject (default dev-cli)
  -h, --help              this help

Examples:
  export TOKEN=$(npm run -s token -- --preset admin)
  npm run -s token -- --preset ops --ttl 12h
  npm run -s token -- --preset portal --customer 001Dn0000000001IAA
  npm run -s token -- --scope "customers:read billing:read erp:read"`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface TokenRequest {
  scopes: string[];
  customerId: string | null;
  ttl: string;
  subject: string;
}

/** The token a command line asks for, or null for --help. */
export function parseTokenArgs(argv: string[]): TokenRequest | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        preset: { type: 'string', short: 'p' },
        scope: { type: 'string', short: 's' },
        customer: { type: 'string', short: 'c' },
        ttl: { type: 'string', short: 't', default: '1h' },
        sub: { type: 'string', default: 'dev-cli' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return null;
  if (values.preset && values.scope) throw new UsageError('give --preset or --scope, not both');
  const presetName = values.preset ?? (values.scope === undefined ? 'admin' : null);
  const preset = presetName === null ? null : PRESETS[presetName];
  if (presetName !== null && !preset) throw new UsageError(`unknown preset "${presetName}"; use one of ${Object.keys(PRESETS).join(', ')}`);
  if (preset?.needsCustomer && !values.customer) throw new UsageError(`the ${presetName} preset needs --customer <id>: a portal token acts for one customer`);
  return {
    scopes: preset ? [...preset.scopes] : values.scope!.split(/\s+/).filter(Boolean),
    customerId: values.customer ?? null,
    ttl: values.ttl!,
    subject: values.sub!,
  };
}

async function main(): Promise<void> {
  let request: TokenRequest | null;
  try {
    request = parseTokenArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`token: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (request === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig(process.env, 'gateway');
  const token = await mintToken({ secret: config.jwtSecret, subject: request.subject, scopes: request.scopes, customerId: request.customerId, ttl: request.ttl, issuer: config.security.jwtIssuer, audience: config.security.jwtAudience });
  process.stdout.write(`${token}\n`);
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`token: ${error.message}`);
    process.exit(1);
  });
}
