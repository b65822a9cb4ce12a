/**
 * `npm run gateway -- --supergraph ./supergraph.graphql [--port 4000]` and the `concord-gateway` bin
 * (bin/concord-gateway.js): the gateway alone over a supergraph file (gateway/standalone.ts). Flags
 * win over the environment (core/config.ts reads it once); `--help` lists both.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { AUTH_MODES, ConfigError, loadConfig, type AuthMode, type ConcordConfig } from '../core/config';
import { createLogger, type Logger } from '../core/log';
import { securityOptionsFromConfig } from './auth-options';
import { reportReady, startCluster, workerLabel } from './cluster';
import { loadOptionsFromConfig } from './overload';
import { startStandaloneGateway, type RunningStandaloneGateway, type StandaloneGatewayOptions } from './standalone';
import { SupergraphError } from './supergraph-source';

export const USAGE = `Usage: concord-gateway --supergraph <file> [options]
       npm run gateway -- --supergraph <file> [options]

Serves Concord's gateway (auth, scopes, limits, rate limits, subscriptions) over a composed
supergraph SDL file. Subgraph URLs come from its @join__graph entries; nothing else is started.
The file is watched: a valid change is swapped in without dropping requests or subscriptions,
an invalid one is logged and the previous supergraph keeps serving (SIGHUP also reloads).

Options:
  -s, --supergraph <file>      supergraph SDL file                   (CONCORD_SUPERGRAPH)
  -p, --port <n>               port, 0 = any free port; default 4000 (PORT)
      --host <address>         interface; default 127.0.0.1          (HOST)
      --auth <mode>            required (default): a valid bearer token on every request
                               optional: a token is verified when sent; without one only
                                         fields with no @authenticated/@requiresScopes
                               off:      no checks; local development only, refused
                                         with NODE_ENV=production     (CONCORD_AUTH)
      --no-signing             do not sign subgraph requests (for subgraphs that do not
                               verify CONCORD_SUBGRAPH_SECRET)        (CONCORD_SUBGRAPH_SIGNING=off)
      --no-watch               load the file once                    (CONCORD_SUPERGRAPH_WATCH=0)
      --processes <n>          gateway processes sharing the port (node:cluster), e.g. one
                               per core; default 1. Above 1 with a rate limit, REDIS_URL is
                               required (one budget across them)    (CONCORD_GATEWAY_PROCESSES)
      --subgraph <name>=<url>  call subgraph <name> at <url> instead of its @join__graph URL
                               (repeatable)
  -h, --help                   this help

Examples:
  npm run gateway -- --supergraph ./supergraph.graphql
  CONCORD_JWT_SECRET=... npx concord-gateway -s supergraph.graphql --port 8080 --host 0.0.0.0
  npm run gateway -- -s supergraph.graphql --auth optional --subgraph inventory=http://127.0.0.1:4010/graphql

Tokens, limits and rate limits use the same environment as the full system (docs/configuration.md): CONCORD_JWT_SECRET or CONCORD_JWKS_URL, CONCORD_MAX_*, CONCORD_RATE_LIMIT_*, ...`;

/** A mistake on the command line (exit code 2, with the usage). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface GatewayArgs {
  supergraph: string | null;
  port: number | null;
  host: string | null;
  auth: AuthMode | null;
  /** False with --no-signing; null = from the environment. */
  signing: boolean | null;
  /** False with --no-watch; null = from the environment. */
  watch: boolean | null;
  subgraphUrls: Record<string, string>;
  /** --processes; null = from the environment. */
  processes: number | null;
  help: boolean;
}

export function parseGatewayArgs(argv: string[]): GatewayArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        supergraph: { type: 'string', short: 's' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        auth: { type: 'string' },
        'no-signing': { type: 'boolean' },
        'no-watch': { type: 'boolean' },
        subgraph: { type: 'string', multiple: true },
        processes: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1 || (positionals.length === 1 && values.supergraph)) {
    throw new UsageError(`one supergraph file, please (got ${[values.supergraph, ...positionals].filter(Boolean).join(', ')})`);
  }
  let port: number | null = null;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got "${values.port}"`);
  }
  let auth: AuthMode | null = null;
  if (values.auth !== undefined) {
    const mode = values.auth.toLowerCase() as AuthMode;
    if (!AUTH_MODES.includes(mode)) throw new UsageError(`--auth must be required, optional or off, got "${values.auth}"`);
    auth = mode;
  }
  let processes: number | null = null;
  if (values.processes !== undefined) {
    processes = Number(values.processes);
    if (!Number.isInteger(processes) || processes < 1 || processes > 256) throw new UsageError(`--processes must be a whole number from 1 to 256, got "${values.processes}"`);
  }
  const subgraphUrls: Record<string, string> = {};
  for (const entry of values.subgraph ?? []) {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at).trim();
    const url = entry.slice(at + 1).trim();
    if (at <= 0 || !/^https?:\/\/\S+$/.test(url)) throw new UsageError(`--subgraph takes <name>=<http(s) url>, got "${entry}"`);
    subgraphUrls[name] = url;
  }
  return {
    supergraph: values.supergraph ?? positionals[0] ?? null,
    port,
    host: values.host ?? null,
    auth,
    signing: values['no-signing'] ? false : null,
    watch: values['no-watch'] ? false : null,
    subgraphUrls,
    processes,
    help: values.help ?? false,
  };
}

/** What the command prints before it serves: warnings about unsafe or surprising settings. */
export interface StartupNotes {
  warnings: string[];
}

/** The standalone gateway's options from the flags and the configuration; ConfigError when they conflict. */
export function standaloneOptions(args: GatewayArgs, config: ConcordConfig, logger: Logger): { options: StandaloneGatewayOptions; notes: StartupNotes; processes: number } {
  const supergraphPath = args.supergraph ?? config.standalone.supergraphPath;
  if (!supergraphPath) throw new UsageError('a supergraph file is required: --supergraph <file> (or CONCORD_SUPERGRAPH)');
  const processes = args.processes ?? config.standalone.processes;
  const security = securityOptionsFromConfig(config);
  if (processes > 1 && security.security.rateLimit && !config.redisUrl) {
    // In memory, each process would hand out the whole budget again: N times the limit.
    throw new ConfigError(`${processes} gateway processes share a rate limit only through Redis: set REDIS_URL, or run one process (--processes 1)`);
  }
  const auth = args.auth ?? config.standalone.authMode;
  const warnings: string[] = [];
  if (auth === 'off') {
    if (config.production) throw new ConfigError('--auth off is for local development only; refusing to start with NODE_ENV=production');
    warnings.push('AUTH IS OFF: no token is checked and every field is served to every caller. Local development only.');
  } else if (config.jwtSecretIsDev && !config.jwksUrl) {
    warnings.push(`CONCORD_JWT_SECRET is not set: tokens are verified with the public dev secret "${config.jwtSecret}" (npm run token mints them).`);
  }
  const signing = args.signing ?? config.standalone.signSubgraphRequests;
  if (signing && config.subgraphSecretIsGenerated) {
    if (config.production) {
      throw new ConfigError('NODE_ENV=production: set CONCORD_SUBGRAPH_SECRET (the secret your subgraphs verify) or turn signing off with --no-signing');
    }
    warnings.push('CONCORD_SUBGRAPH_SECRET is not set: subgraph requests are signed with a random secret of this start, which your subgraphs cannot verify. Set it, or pass --no-signing.');
  }
  return {
    options: {
      supergraphPath,
      port: args.port ?? config.port,
      host: args.host ?? config.host,
      auth,
      subgraphSecret: signing ? config.subgraphSecret : null,
      ...security,
      ...loadOptionsFromConfig(config),
      production: config.production,
      subgraphUrls: args.subgraphUrls,
      watch: args.watch ?? config.standalone.watch,
      maskSubgraphErrors: config.standalone.maskSubgraphErrors,
      // The WebSocket caps of the full system (docs/configuration.md), on the same service.
      subscriptions: { maxConnectionsPerSubject: config.security.wsMaxConnectionsPerSubject, maxConnectionsPerAddress: config.security.wsMaxConnectionsPerAddress },
      logger,
    },
    notes: { warnings },
    processes,
  };
}

/**
 * Everything the command does up to serving: parse, configure, warn, start, print where it is.
 * Null when only the help was asked for. Tests call this in process; `main` adds signals and exit codes.
 */
export async function runGatewayCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
  processLabel: string | null = null,
): Promise<RunningStandaloneGateway | null> {
  const args = parseGatewayArgs(argv);
  if (args.help) {
    say(USAGE);
    return null;
  }
  const config = loadConfig(env, 'gateway');
  const logger = createLogger({ level: config.logLevel, name: 'concord-gateway', format: config.logFormat, production: config.production });
  const { options, notes } = standaloneOptions(args, config, logger);
  for (const warning of notes.warnings) say(`!! ${warning}`);
  const gateway = await startStandaloneGateway({ ...options, processLabel });
  const { id } = gateway.supergraph();
  say('');
  say('Concord gateway (standalone) is running.');
  say(`  graphql     ${gateway.url}/graphql   (subscriptions: graphql-ws on the same URL)`);
  say(`  health      ${gateway.url}/health    ready: ${gateway.url}/ready`);
  say(`  supergraph  ${gateway.supergraphPath} (${id.slice(0, 12)})${options.watch === false ? '' : ', watched for changes'}`);
  for (const [name, url] of Object.entries(gateway.subgraphs)) say(`  subgraph    ${name.padEnd(16)} ${url}`);
  say(`  auth        ${options.auth}`);
  say(`  signing     ${options.subgraphSecret === null ? 'off' : 'on (x-concord-signature, CONCORD_SUBGRAPH_SECRET)'}`);
  say('');
  return gateway;
}

/** The process's last words on a failed start, and its exit code. */
function failStart(error: unknown): never {
  if (error instanceof UsageError) {
    process.stderr.write(`concord-gateway: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof ConfigError || error instanceof SupergraphError) {
    process.stderr.write(`concord-gateway: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`concord-gateway failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}

/**
 * The primary of `--processes N` (N > 1): checks the configuration as one process would (so a
 * mistake stops here, once), forks the workers (gateway/cluster.ts), prints where they serve, and
 * stops them all on SIGTERM / SIGINT.
 */
async function runPrimary(say: (line: string) => void, processes: number, logger: Logger): Promise<void> {
  const running = await startCluster(processes, logger);
  say('');
  say(`Concord gateway (standalone) is running in ${processes} processes (pids ${running.pids().join(', ')}) on one port.`);
  say(`  graphql     ${running.url}/graphql   (each answer names its process: x-concord-process)`);
  say(`  health      ${running.url}/health    ready: ${running.url}/ready`);
  say('');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`concord-gateway: ${signal}, shutting down ${processes} processes`);
    await running.stop();
    say('concord-gateway: every process stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGHUP', () => running.reload());
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const label = workerLabel();
  if (label === null) {
    // Not a worker: one process, or the primary of several.
    let processes = 1;
    let logger: Logger | null = null;
    try {
      const args = parseGatewayArgs(argv);
      if (!args.help) {
        const config = loadConfig(env, 'gateway');
        logger = createLogger({ level: config.logLevel, name: 'concord-gateway', format: config.logFormat, production: config.production });
        const checked = standaloneOptions(args, config, logger);
        processes = checked.processes;
        if (processes > 1) for (const warning of checked.notes.warnings) say(`!! ${warning}`);
      }
    } catch (error) {
      failStart(error);
    }
    if (processes > 1 && cluster.isPrimary) {
      try {
        await runPrimary(say, processes, logger!);
      } catch (error) {
        failStart(error);
      }
      return;
    }
  }
  let gateway: RunningStandaloneGateway | null;
  try {
    // A worker prints nothing of its own start: the primary has said where the gateway serves.
    gateway = await runGatewayCli(argv, env, label === null ? say : () => undefined, label);
  } catch (error) {
    failStart(error);
  }
  if (!gateway) return;
  const running = gateway;
  if (label !== null) {
    reportReady(running.url);
    // The primary gone (killed outright): this worker stops too, rather than serve unsupervised.
    process.on('disconnect', () => void stop('primary gone'));
  }
  let stopping = false;
  async function stop(signal: string) {
    if (stopping) return;
    stopping = true;
    if (label === null) say(`concord-gateway: ${signal}, shutting down`);
    await running.close().catch(() => undefined);
    process.exit(0);
  }
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGHUP', () => void running.reload());
}

if (require.main === module) void main();
