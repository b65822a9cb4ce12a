/**
 * One HTTP server factory for every subgraph: Apollo Server over a federation subgraph schema,
 * behind a check that the request was signed by the gateway. Resolvers throw ConcordError; this is
 * the one place where that becomes a GraphQL error's `extensions`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ApolloServer, HeaderMap, type BaseContext } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { DocumentNode, GraphQLFormattedError } from 'graphql';
import { CACHE_CONTROL_HEADER, wantsNoCache } from '../../core/entity-cache';
import { ConcordError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { traceIncoming } from '../../core/tracing-http';
import type { Tracing } from '../../core/tracing';
import { PRINCIPAL_HEADER, UNSIGNED_PRINCIPAL, decodePrincipal, type Principal } from '../../core/principal';
import { NonceWindow, SIGNATURE_HEADER, verifyRequest } from '../../core/signing';

export const CORRELATION_HEADER = 'x-correlation-id';

export interface RequestInfo {
  correlationId: string;
  /** The caller's principal, signed by the gateway (core/principal.ts). */
  principal: Principal;
  /** True when the entity cache is to be read through (the request asked for no-cache). */
  refresh: boolean;
}

/** What every subgraph's resolver context holds: the server puts it there, next to what `context` builds. */
export interface SubgraphRequestContext {
  principal: Principal;
}

/**
 * Largest request body a subgraph reads, in bytes. Far above anything the gateway sends (its own
 * client limit is 1 MiB), low enough that an unsigned caller cannot make a subgraph buffer
 * unbounded data before the signature check turns it away.
 */
export const SUBGRAPH_MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface SubgraphServerOptions<C extends BaseContext> {
  /** Subgraph name, for logs and errors. */
  name: string;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<C>;
  /**
   * Builds the context of one request (fresh DataLoaders, so nothing is cached across requests).
   * The server adds `principal` to it, so resolvers always find the caller there.
   */
  context: (info: RequestInfo) => Omit<C, keyof SubgraphRequestContext>;
  /** Gateway's shared secret. Null turns the check off (never in production). */
  secret: string | null;
  logger: Logger;
  /**
   * Each /graphql request runs in a SERVER span continuing the gateway's `traceparent`, with the
   * correlation id as its scope (vendor calls below it are child spans; log lines carry both).
   * Default: none.
   */
  tracing?: Tracing;
  /**
   * Whether the subgraph can serve now, for GET /ready (the gateway's /ready asks it): null when
   * ready, else why not (for example: Redis cannot be reached). /health stays liveness only.
   * Default: always ready.
   */
  readiness?: () => Promise<string | null>;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Map a resolver failure to the error contract; anything unexpected becomes a bare INTERNAL. */
export function formatSubgraphError(formatted: GraphQLFormattedError, error: unknown, logger: Logger, name: string): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof ConcordError) {
    return { message: original.message, path: formatted.path, extensions: original.toExtensions() };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') {
    // GraphQL's own validation and input errors: safe to show as they are.
    return { message: formatted.message, path: formatted.path, locations: formatted.locations, extensions: { code } };
  }
  logger.error({ err: original, subgraph: name, path: formatted.path }, 'resolver failed');
  return { message: 'Internal error', path: formatted.path, extensions: { code: 'INTERNAL' } };
}

/** The body, or null when it is larger than SUBGRAPH_MAX_BODY_BYTES (the rest is not read). */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > SUBGRAPH_MAX_BODY_BYTES) {
        resolve(null);
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function createSubgraphServer<C extends BaseContext & SubgraphRequestContext>(options: SubgraphServerOptions<C>) {
  const { name, typeDefs, resolvers, context, secret, logger, tracing, readiness } = options;
  // Each signature is accepted once by this process (core/signing.ts).
  const nonces = new NonceWindow();
  const apollo = new ApolloServer<C>({
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> }),
    includeStacktraceInErrorResponses: false,
    // Traces go to Apollo's cloud; Concord's own tracing is OpenTelemetry.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    formatError: (formatted, error) => formatSubgraphError(formatted, error, logger, name),
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://subgraph');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok', subgraph: name });
    if (url.pathname === '/ready') {
      const reason = readiness ? await readiness().catch((error: unknown) => (error instanceof Error ? error.message : 'not ready')) : null;
      return sendJson(res, reason === null ? 200 : 503, reason === null ? { status: 'ready', subgraph: name } : { status: 'unavailable', subgraph: name, reason });
    }
    if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found' });
    // POST only: the gateway never sends GET, and a GET ?query= would be a second way in.
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendJson(res, 405, { errors: [{ message: 'subgraphs answer POST only', extensions: { code: 'BAD_USER_INPUT' } }] });
    }

    const body = await readBody(req);
    if (body === null) {
      res.setHeader('connection', 'close');
      return sendJson(res, 413, { errors: [{ message: 'request body is too large', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    // The principal header is inside the signature: verified together, or the request is refused.
    const principalHeader = req.headers[PRINCIPAL_HEADER] as string | undefined;
    const principal = secret === null ? (decodePrincipal(principalHeader) ?? UNSIGNED_PRINCIPAL) : decodePrincipal(principalHeader);
    const verdict =
      secret === null || !principal
        ? null
        : verifyRequest(secret, { method: 'POST', path: url.pathname, subgraph: name, body, principal: principalHeader }, req.headers[SIGNATURE_HEADER] as string | undefined, { nonces });
    if (secret !== null && verdict !== 'ok') {
      return sendJson(res, 401, {
        errors: [{ message: 'subgraphs answer only the gateway', extensions: { code: 'UNAUTHENTICATED' } }],
      });
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let parsed: unknown = undefined;
    if (req.method === 'POST') {
      try {
        parsed = body ? JSON.parse(body) : {};
      } catch {
        return sendJson(res, 400, { errors: [{ message: 'body is not JSON', extensions: { code: 'BAD_USER_INPUT' } }] });
      }
    }
    const correlationId = (req.headers[CORRELATION_HEADER] as string | undefined) ?? randomUUID();
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'POST', headers, search: url.search, body: parsed },
      context: async () => {
        const info: RequestInfo = { correlationId, principal: principal!, refresh: wantsNoCache(req.headers[CACHE_CONTROL_HEADER]) };
        return { ...context(info), principal: info.principal } as C;
      },
    });
    const out: Record<string, string> = {};
    for (const [key, value] of response.headers) out[key] = value;
    res.writeHead(response.status ?? 200, out);
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  return {
    async listen(port = 0, host = '127.0.0.1'): Promise<RunningServer> {
      await apollo.start();
      const server = http.createServer((req, res) => {
        const correlationId = typeof req.headers[CORRELATION_HEADER] === 'string' ? req.headers[CORRELATION_HEADER] : null;
        const traced = tracing && req.url?.startsWith('/graphql')
          ? traceIncoming(tracing, req, res, { name: `subgraph ${name}`, correlationId, attributes: { 'concord.subgraph': name } }, () => handle(req, res))
          : handle(req, res);
        traced.catch((error) => {
          logger.error({ err: error, subgraph: name }, 'subgraph request failed');
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
        url: `http://${host}:${address.port}/graphql`,
        port: address.port,
        close: async () => {
          if (!server.listening) return; // closing twice is harmless
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await apollo.stop();
        },
      };
    },
  };
}
