/**
 * `npm run token -- --scope "customers:read billing:read" [--customer <id>] [--ttl 1h] [--sub name]`
 * prints a dev token signed with CONCORD_JWT_SECRET (or the dev secret).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config';
import { SCOPES, mintToken } from './token';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scope: { type: 'string', default: SCOPES.join(' ') },
      customer: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      sub: { type: 'string', default: 'dev-cli' },
    },
  });
  const config = loadConfig();
  const token = await mintToken({
    secret: config.jwtSecret,
    subject: values.sub!,
    scopes: values.scope!.split(/\s+/).filter(Boolean),
    customerId: values.customer ?? null,
    ttl: values.ttl,
    issuer: config.security.jwtIssuer,
    audience: config.security.jwtAudience,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: Error) => {
  console.error(`token: ${error.message}`);
  process.exit(1);
});
