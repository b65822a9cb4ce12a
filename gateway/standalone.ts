/**
 * The gateway on its own: Concord's gateway (auth, scopes, limits, rate limits, persisted queries,
 * subscriptions) over any supergraph SDL file, in front of subgraphs Concord did not start. Their
 * URLs come from the supergraph's `@join__graph` entries (or overrides). `npm run gateway` and the
 * `concord-gateway` bin start it through gateway/cli.ts; tests call startStandaloneGateway directly.
 *
 * The file is watched (gateway/supergraph-watch.ts). A change is validated first
 * (gateway/supergraph-source.ts) and swapped in through @apollo/gateway's update hook: requests in
 * flight finish on the old schema and plans, open subscriptions keep theirs, new ones get the new
 * supergraph. An invalid file is logged with its reason and the old supergraph keeps serving; the
 * same invalid content is not reported again until the file changes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AuthMode } from '../core/config';
import type { Logger } from '../core/log';
import type { GatewaySecurityOptions } from './auth-options';
import { createGateway, type GatewayOptions, type RunningGateway } from './server';
import type { UpstreamSubscriptionsOptions } from './standalone-subscriptions';
import { SupergraphError, loadSupergraphFile, supergraphId } from './supergraph-source';
import { watchFileForChanges, type FileWatch } from './supergraph-watch';

export interface StandaloneGatewayOptions {
  /** The supergraph SDL file to serve (and watch). */
  supergraphPath: string;
  /** Which of several processes this is (gateway/cluster.ts); null = the only one. */
  processLabel?: string | null;
  /** Port to listen on; 0 = any free port. Default 4000. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** 'required', 'optional' or 'off' (refused with `production`); see GatewayOptions.auth. Default 'required'. */
  auth?: AuthMode;
  /** Secret subgraph requests are signed with (core/signing.ts); null = unsigned. */
  subgraphSecret: string | null;
  /** HS256 secret tokens are verified with; null = JWKS only (security.jwksUrl). */
  jwtSecret: string | null;
  /** JWKS, limits, rate limits, persisted queries (gateway/auth-options.ts). Default: see each field. */
  security?: GatewaySecurityOptions;
  /** Largest request body, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Production: introspection off, auth 'off' refused. Default false. */
  production?: boolean;
  /** Subgraph name -> URL, replacing `@join__graph` URLs (containers, tunnels). Default none. */
  subgraphUrls?: Record<string, string>;
  /**
   * Watch the file and swap valid changes in. `false` loads it once (reload() and the CLI's SIGHUP
   * still reload). Default { debounceMs: 200, pollIntervalMs: 2000 } (gateway/supergraph-watch.ts).
   */
  watch?: boolean | { debounceMs?: number; pollIntervalMs?: number };
  /** Hide subgraph error messages ("Internal error") instead of passing them on as DOWNSTREAM_SERVICE_ERROR. Default false. */
  maskSubgraphErrors?: boolean;
  /** Subscriptions passed through to the subgraphs that own them (gateway/standalone-subscriptions.ts). Default: defaults. */
  subscriptions?: UpstreamSubscriptionsOptions;
  /** Executions in flight and their queue (GatewayOptions.overload). Default: its defaults. */
  overload?: GatewayOptions['overload'];
  /** Share identical query fetches in flight (GatewayOptions.dedupFetches). Default true. */
  dedupFetches?: boolean;
  logger: Logger;
}

/** What a reload did. */
export type ReloadOutcome =
  | { status: 'unchanged'; id: string }
  | { status: 'swapped'; id: string; previousId: string }
  | { status: 'rejected'; reason: string; serving: string };

export interface RunningStandaloneGateway extends RunningGateway {
  supergraphPath: string;
  /** Read the file again now (what the watch does on a change). */
  reload(): Promise<ReloadOutcome>;
}

const short = (id: string) => id.slice(0, 12);

/** Subgraphs added, removed or moved between two URL maps, for the reload log line. */
function subgraphChanges(before: Record<string, string>, after: Record<string, string>) {
  const added = Object.keys(after).filter((n) => !(n in before));
  const removed = Object.keys(before).filter((n) => !(n in after));
  const moved = Object.keys(after).filter((n) => n in before && before[n] !== after[n]);
  return { added, removed, moved };
}

export async function startStandaloneGateway(options: StandaloneGatewayOptions): Promise<RunningStandaloneGateway> {
  const {
    supergraphPath,
    port = 4000,
    host = '127.0.0.1',
    auth = 'required',
    subgraphSecret,
    jwtSecret,
    security,
    maxBodyBytes,
    production = false,
    subgraphUrls = {},
    watch = true,
    subscriptions = {},
    maskSubgraphErrors = false,
    overload,
    dedupFetches = true,
    processLabel = null,
    logger,
  } = options;
  const file = path.resolve(supergraphPath);
  // Fails with the reason (SupergraphError) before anything listens.
  const first = loadSupergraphFile(file, { subgraphUrls });
  const gateway = await createGateway({
    supergraphSdl: first.sdl,
    subgraphUrls,
    subgraphSecret,
    jwtSecret,
    security,
    maxBodyBytes,
    logger,
    production,
    auth,
    // Other teams' subgraphs have no Concord /health route; any GraphQL server answers __typename.
    readinessProbe: 'graphql',
    upstreamSubscriptions: subscriptions,
    maskSubgraphErrors,
    overload,
    dedupFetches,
    processLabel,
  }).listen(port, host);
  logger.info(
    { supergraph: file, id: short(first.id), subgraphs: first.subgraphs, subscriptionFields: first.subscriptionFields, auth, signing: subgraphSecret !== null },
    'supergraph loaded',
  );

  let rejectedId: string | null = null;
  let missingReported = false;
  async function reload(): Promise<ReloadOutcome> {
    const serving = gateway.supergraph().id;
    let sdl: string;
    try {
      sdl = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (error as Error).message;
      if (!missingReported) logger.error({ supergraph: file, reason, serving: short(serving) }, 'supergraph file unreadable; still serving the previous supergraph');
      missingReported = true;
      return { status: 'rejected', reason, serving };
    }
    missingReported = false;
    const id = supergraphId(sdl);
    if (id === serving) {
      rejectedId = null;
      return { status: 'unchanged', id };
    }
    const before = { ...gateway.subgraphs };
    try {
      const info = gateway.updateSupergraph(sdl);
      rejectedId = null;
      logger.info(
        { supergraph: file, id: short(info.id), previous: short(serving), ...subgraphChanges(before, info.subgraphs), subscriptionFields: info.subscriptionFields },
        'supergraph reloaded',
      );
      return { status: 'swapped', id: info.id, previousId: serving };
    } catch (error) {
      const reason = error instanceof SupergraphError ? error.message : `the gateway could not load it: ${(error as Error).message}`;
      // One line per bad content: the watch's later hints about the same file stay quiet.
      if (rejectedId !== id) logger.error({ supergraph: file, reason, rejected: short(id), serving: short(serving) }, 'supergraph file rejected; still serving the previous supergraph');
      rejectedId = id;
      return { status: 'rejected', reason, serving };
    }
  }

  let watcher: FileWatch | null = null;
  if (watch !== false) {
    const settings = watch === true ? {} : watch;
    watcher = watchFileForChanges(file, {
      ...settings,
      onChange: async () => {
        await reload();
      },
      onError: (error) => logger.warn({ err: error, supergraph: file }, 'supergraph file watch error; polling continues'),
    });
  }

  return {
    ...gateway,
    supergraphPath: file,
    reload,
    close: async () => {
      watcher?.close();
      await gateway.close();
    },
  };
}
