/**
 * The gateway: @apollo/gateway over the composed supergraph, served by @apollo/server on a plain
 * Node HTTP server that also answers /health and /ready. Requests to subgraphs are signed with
 * CONCORD_SUBGRAPH_SECRET and carry the caller's correlation id.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { ConcordError } from '../core/errors';
import type { Logger } from '../core/log';
import { SIGNATURE_HEADER, signBody } from '../core/signing';
import { correlationPlugin, formatGatewayError } from './errors';
import { readBody, sendGraphQLError, sendJson } from './http';
import { bearerToken, verifyToken, type Principal } from './token';

export const CORRELATION_HEADER = 'x-correlation-id';

export interface GatewayContext {
  correlationId: string;
  principal: Principal;
}

export interface GatewayOptions {
  /** Composed supergraph SDL (schema/supergraph.graphql). */
  supergraphSdl: string;
  /** Subgraph name -> URL, replacing the supergraph's `@join__graph` URLs. Default: none replaced. */
  subgraphUrls?: Record<string, string>;
  /** Secret to sign subgraph requests with; null = send unsigned. */
  subgraphSecret: string | null;
  /** HS256 secret that bearer tokens are verified with. */
  jwtSecret: string;
  logger: Logger;
  /** Production turns introspection off. Default false. */
  production?: boolean;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Longest wait for one subgraph fetch, in ms. Default 15000. */
  subgraphTimeoutMs?: number;
}

export interface RunningGateway {
  url: string;
  port: number;
  /** Subgraph name -> URL the gateway is using. */
  subgraphs: Record<string, string>;
  close(): Promise<void>;
}

/** `@join__graph(name: "crm", url: "http://...")` entries of a supergraph. */
export function supergraphSubgraphUrls(supergraphSdl: string): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const m of supergraphSdl.matchAll(/@join__graph\(name:\s*"([^"]+)",\s*url:\s*"([^"]*)"\)/g)) urls[m[1]] = m[2];
  return urls;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function correlationIdOf(req: http.IncomingMessage): string {
  const given = req.headers[CORRELATION_HEADER];
  return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
}

/** Global fetch with a timeout and, when a secret is set, the gateway's signature over the body. */
function subgraphFetcher(secret: string | null, timeoutMs: number): Fetcher {
  return (async (url: string, init: { body?: string; headers?: Record<string, string>; method?: string } = {}) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (secret !== null) headers[SIGNATURE_HEADER] = signBody(secret, init.body ?? '');
    return fetch(url, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
  }) as unknown as Fetcher;
}

export function createGateway(options: GatewayOptions) {
  const {
    supergraphSdl,
    subgraphUrls = {},
    subgraphSecret,
    jwtSecret,
    logger,
    production = false,
    maxBodyBytes = 1024 * 1024,
    subgraphTimeoutMs = 15_000,
  } = options;
  const subgraphs = { ...supergraphSubgraphUrls(supergraphSdl), ...subgraphUrls };
  const fetcher = subgraphFetcher(subgraphSecret, subgraphTimeoutMs);

  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url: subgraphs[name] ?? url,
        fetcher,
        willSendRequest({ request, context }) {
          if (context.correlationId) request.http?.headers.set(CORRELATION_HEADER, context.correlationId);
        },
      }),
  });

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: !production,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted) => formatGatewayError(formatted),
    plugins: [ApolloServerPluginLandingPageDisabled(), correlationPlugin<GatewayContext>()],
  });

  async function ready(): Promise<{ ready: boolean; subgraphs: Record<string, string> }> {
    const results = await Promise.all(
      Object.entries(subgraphs).map(async ([name, url]) => {
        try {
          const response = await fetch(url.replace(/\/graphql$/, '/health'), { signal: AbortSignal.timeout(2000) });
          return [name, response.ok ? 'up' : `down (${response.status})`] as const;
        } catch {
          return [name, 'down (no answer)'] as const;
        }
      }),
    );
    return { ready: results.every(([, state]) => state === 'up'), subgraphs: Object.fromEntries(results) };
  }

  async function graphql(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const correlationId = correlationIdOf(req);
    let principal: Principal;
    try {
      const token = bearerToken(req.headers.authorization);
      if (!token) throw new ConcordError('UNAUTHENTICATED', 'a bearer token is required');
      principal = await verifyToken(token, jwtSecret);
    } catch (error) {
      return sendGraphQLError(res, 401, error as ConcordError, correlationId);
    }
    let body: unknown = undefined;
    if (req.method === 'POST') {
      try {
        const text = await readBody(req, maxBodyBytes);
        body = text ? JSON.parse(text) : {};
      } catch (error) {
        const failure = error instanceof ConcordError ? error : new ConcordError('BAD_USER_INPUT', 'request body is not valid JSON');
        return sendGraphQLError(res, error instanceof ConcordError ? 413 : 400, failure, correlationId);
      }
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'POST', headers, search: url.search, body },
      context: async () => ({ correlationId, principal }),
    });
    const out: Record<string, string> = { [CORRELATION_HEADER]: correlationId };
    for (const [key, value] of response.headers) out[key] = value;
    res.writeHead(response.status ?? 200, out);
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    switch (url.pathname) {
      case '/health':
        return sendJson(res, 200, { status: 'ok' });
      case '/ready': {
        const state = await ready();
        return sendJson(res, state.ready ? 200 : 503, state);
      }
      case '/graphql':
        return graphql(req, res, url);
      default:
        return sendJson(res, 404, { error: `no route ${url.pathname}` });
    }
  }

  return {
    async listen(port = 0, host = '127.0.0.1'): Promise<RunningGateway> {
      await apollo.start();
      const server = http.createServer((req, res) => {
        handle(req, res).catch((error) => {
          logger.error({ err: error }, 'gateway request failed');
          if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal error', extensions: { code: 'INTERNAL' } }] });
          else res.end();
        });
      });
      server.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      return {
        url: `http://${host}:${address.port}`,
        port: address.port,
        subgraphs,
        close: async () => {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await apollo.stop();
        },
      };
    },
  };
}
