/**
 * A tiny subgraph server for the standalone gateway's tests: a Federation 2 schema built with
 * @apollo/subgraph, GraphQL over HTTP POST on /graphql and subscriptions over graphql-ws on the same
 * path, on port 0. It records what reached it (operations and headers), so tests can tell which
 * subgraph a query plan called and how requests were signed. No /health route on purpose: the
 * standalone gateway must not rely on one (its readiness probe is a GraphQL `__typename` query).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { execute, parse, type DocumentNode } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

export interface SeenRequest {
  kind: 'http' | 'ws';
  query: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestSubgraph {
  name: string;
  url: string;
  /** Every request received, oldest first. */
  seen: SeenRequest[];
  /** Requests other than the gateway's readiness probes. */
  operations(): SeenRequest[];
  /** Open upstream subscriptions (graphql-ws). */
  openSubscriptions(): number;
  close(): Promise<void>;
}

export async function serveSubgraph(name: string, typeDefs: DocumentNode, resolvers: GraphQLResolverMap<unknown>): Promise<TestSubgraph> {
  const schema = buildSubgraphSchema({ typeDefs, resolvers });
  const seen: SeenRequest[] = [];
  const running = new Set<string>();
  const contexts = new WeakMap<object, number>();
  let nextContext = 0;
  const keyOf = (ctx: object) => {
    if (!contexts.has(ctx)) contexts.set(ctx, nextContext++);
    return contexts.get(ctx);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      void (async () => {
        if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/graphql') {
          res.writeHead(404).end();
          return;
        }
        const { query, variables, operationName } = JSON.parse(body) as { query: string; variables?: Record<string, unknown>; operationName?: string };
        seen.push({ kind: 'http', query, headers: req.headers, body });
        const result = await execute({ schema, document: parse(query), variableValues: variables, operationName });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
      })().catch((error: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: error.message }] }));
      });
    });
  });
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = useServer(
    {
      schema,
      onSubscribe: (ctx, _id, payload) => {
        seen.push({ kind: 'ws', query: payload.query, headers: (ctx.extra as { request: http.IncomingMessage }).request.headers, body: JSON.stringify(ctx.connectionParams ?? {}) });
      },
      // Counted once running (a subscription refused by validation never is), until it completes.
      onOperation: (ctx, id) => {
        running.add(`${keyOf(ctx)}:${id}`);
      },
      onComplete: (ctx, id) => {
        running.delete(`${keyOf(ctx)}:${id}`);
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    name,
    url: `http://127.0.0.1:${port}/graphql`,
    seen,
    operations: () => seen.filter((r) => !r.query.includes('__ApolloServiceHealthCheck__')),
    openSubscriptions: () => running.size,
    close() {
      closing ??= (async () => {
        await ws.dispose();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
