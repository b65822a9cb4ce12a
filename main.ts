/**
 * `npm start`: the whole system on one machine (embedded mode without REDIS_URL): the vendor
 * simulators, the CRM, billing and ERP subgraphs and the gateway. Prints every URL, an example
 * query and an admin dev token.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from './core/config';
import { createLogger } from './core/log';
import { SCOPES, mintToken } from './gateway/token';
import { startSystem } from './system';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const say = (line = '') => process.stdout.write(`${line}\n`);

  if (!config.redisUrl) {
    say('!! EMBEDDED MODE: REDIS_URL is not set. Everything runs in this one process, in memory.');
    say('!! Nothing is durable: a restart loses in-flight state. Set REDIS_URL for production.');
  }
  if (config.jwtSecretIsDev) {
    say(`!! CONCORD_JWT_SECRET is not set: tokens are signed with the public dev secret "${config.jwtSecret}".`);
  }

  const system = await startSystem({ config, logger });
  const token = await mintToken({ secret: config.jwtSecret, subject: 'dev-admin', scopes: SCOPES, ttl: '12h', issuer: config.security.jwtIssuer, audience: config.security.jwtAudience });
  const query = readFileSync(path.join(__dirname, 'examples', 'unified-view.graphql'), 'utf8');

  say();
  say('Concord is running.');
  say(`  gateway        ${system.gateway.url}/graphql   (health ${system.gateway.url}/health, ready ${system.gateway.url}/ready)`);
  say(`  subscriptions  ${system.gateway.url.replace(/^http/, 'ws')}/graphql   (graphql-ws; token in connection_init)`);
  say(`  webhooks       ${system.gateway.url}/webhooks/stripe   (the Stripe simulator delivers here)`);
  say(`  metrics        ${system.gateway.url}/metrics   (Prometheus text format; grafana/concord.json charts it)`);
  for (const [name, server] of Object.entries(system.subgraphs)) say(`  ${name.padEnd(14)} ${server.url}`);
  for (const [name, sim] of Object.entries(system.simulators)) say(`  ${`${name} sim`.padEnd(14)} ${sim.url}   (control: ${sim.url}/__sim/stats)`);
  say();
  say('Admin dev token (12h, all scopes); paste this line into your shell:');
  say(`  export TOKEN=${token}`);
  say();
  // The console's own token: operator scopes only. In the URL fragment, which browsers never send to a server.
  const opsToken = await mintToken({ secret: config.jwtSecret, subject: 'dev-operator', scopes: ['ops:read', 'ops:write'], ttl: '12h', issuer: config.security.jwtIssuer, audience: config.security.jwtAudience });
  say('Ops console (ops:read ops:write, 12h):');
  say(`  ${system.gateway.url}/ops#token=${opsToken}`);
  say();
  say('Example: the unified view of 50 customers across CRM, billing and ERP');
  say(`  curl -s ${system.gateway.url}/graphql \\`);
  say(`    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`);
  say(`    -d '${JSON.stringify({ query: query.replace(/\s+/g, ' ').trim() })}'`);
  say();

  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await system.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: Error) => {
  if (error instanceof ConfigError) console.error(`concord: ${error.message}`);
  else console.error('concord failed to start:', error);
  process.exit(1);
});
