/**
 * `npm start`: the API process. In development, the whole system on one machine (embedded mode
 * without REDIS_URL): the vendor simulators for vendors not configured, the CRM, billing and ERP
 * subgraphs and the gateway; it prints every URL, an example query and admin and ops dev tokens.
 *
 * Under NODE_ENV=production it is one API replica (docs/deploy.md): every vendor, the subgraph
 * secret and a JWT secret or JWKS must be configured (core/config.ts names all that is missing),
 * no simulator is started and no token is minted or printed: tokens come from the identity provider.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type ConcordConfig } from './core/config';
import { createLogger } from './core/log';
import { SCOPES, mintToken } from './gateway/token';
import { startSystem, type RunningSystem } from './system';

const USAGE = `Usage: npm start [-- --help]

Starts the whole system on this machine: the Salesforce, Stripe and NetSuite simulators, the crm,
billing, erp and orchestration subgraphs and the gateway, then prints every URL, an admin dev token
and a link to the ops console. Takes no options: everything comes from the environment
(docs/configuration.md). Without REDIS_URL everything runs in this one process, in memory.

Ports: the gateway at PORT (default 4000), subgraphs at PORT+1..PORT+4 (crm, billing, erp,
orchestration), simulators at PORT+101..PORT+103 (Salesforce, Stripe, NetSuite), PORT+106
(Business Central, CONCORD_ERP=businesscentral) and PORT+107 (Chargebee, CONCORD_BILLING=chargebee
instead of Stripe).

Examples:
  npm start
  PORT=7000 npm start
  REDIS_URL=redis://127.0.0.1:6379 npm start
  LOG_LEVEL=debug CONCORD_LOG_FORMAT=json npm start`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.length > 0) {
    process.stderr.write(`concord: unknown option ${args[0]}\n\n${USAGE}\n`);
    process.exit(2);
  }
  const config = loadConfig(process.env, 'api');
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, production: config.production });
  const say = (line = '') => process.stdout.write(`${line}\n`);

  if (!config.redisUrl) {
    say('!! EMBEDDED MODE: REDIS_URL is not set. Everything runs in this one process, in memory.');
    say('!! Nothing is durable: a restart loses in-flight state. Set REDIS_URL for production.');
  }
  if (config.subgraphSecretIsGenerated) {
    say('!! CONCORD_SUBGRAPH_SECRET is not set: generated one for this start. Replicas (and a standalone gateway) must share one: set it.');
  }
  if (config.jwtSecretIsDev && !config.production) {
    say(`!! CONCORD_JWT_SECRET is not set: tokens are signed with the public dev secret "${config.jwtSecret}".`);
  }

  const system = await startSystem({ config, logger });
  if (config.production) {
    // No token is minted here: in production they come from the identity provider (docs/deploy.md).
    logger.info({ url: system.gateway.url, subgraphs: Object.fromEntries(Object.entries(system.subgraphs).map(([name, s]) => [name, s.url])) }, 'concord API replica started');
    say(`concord API ready at ${system.gateway.url}/graphql (health /health, ready /ready, metrics /metrics)`);
  } else {
    await announceDev(system, config, say);
  }

  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await system.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/** Development only: every URL, dev tokens and an example query. */
async function announceDev(system: RunningSystem, config: ConcordConfig, say: (line?: string) => void): Promise<void> {
  const token = await mintToken({ secret: config.jwtSecret, subject: 'dev-admin', scopes: SCOPES, ttl: '12h', issuer: config.security.jwtIssuer, audience: config.security.jwtAudience });
  const query = readFileSync(path.join(__dirname, 'examples', 'unified-view.graphql'), 'utf8');

  say();
  say('Concord is running.');
  say(`  gateway        ${system.gateway.url}/graphql   (health ${system.gateway.url}/health, ready ${system.gateway.url}/ready)`);
  say(`  subscriptions  ${system.gateway.url.replace(/^http/, 'ws')}/graphql   (graphql-ws; token in connection_init)`);
  if (system.simulators.stripe) say(`  webhooks       ${system.gateway.url}/webhooks/stripe   (the Stripe simulator delivers here)`);
  if (system.simulators.chargebee) say(`  webhooks       ${system.gateway.url}/webhooks/chargebee   (the Chargebee simulator delivers here)`);
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
}

main().catch((error: Error) => {
  if (error instanceof ConfigError) console.error(`concord: ${error.message}`);
  else console.error('concord failed to start:', error);
  process.exit(1);
});
