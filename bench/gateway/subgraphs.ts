/**
 * The benchmark's subgraphs (bench/gateway/schema.ts), all four on one port of one process, apart
 * from the gateways: `POST /<name>` answers anyone (the peers), `POST /signed/<name>` answers only
 * requests signed by Concord's gateway (x-concord-signature over principal and body, checked with
 * core/signing.ts exactly as Concord's own subgraphs do; anything else is a 401).
 *
 * Fast on purpose, so that the gateway is what is measured: the schemas are @apollo/subgraph's
 * (buildSubgraphSchema, graphql-js execution), and an answer is computed once per distinct request
 * body and then served from memory (the data is fixed, so the same body always has the same answer).
 * The signature is still verified on every signed request. `memo: false` executes every request.
 *
 * Run as a child process: `node --import tsx bench/gateway/subgraphs.ts`; it sends
 * `{ ready: port }` over IPC and answers `'stats'` with request counts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { decodePrincipal, PRINCIPAL_HEADER } from '../../core/principal';
import { NonceWindow, SIGNATURE_HEADER, verifyRequest } from '../../core/signing';
import { SUBGRAPH_NAMES, subgraphSchema, type SubgraphName } from './schema';

export interface BenchSubgraphsOptions {
  /** Secret that `/signed/*` requests must be signed with. */
  secret: string;
  /** Serve a body's answer from memory after the first time. Default true. */
  memo?: boolean;
  /** Distinct bodies remembered per subgraph; beyond, requests execute. Default 10000. */
  memoSize?: number;
}

export interface SubgraphStats {
  requests: number;
  executed: number;
  refused: number;
  errors: number;
}

export function createBenchSubgraphs(options: BenchSubgraphsOptions) {
  const { secret, memo = true, memoSize = 10_000 } = options;
  const schemas = new Map<string, GraphQLSchema>(SUBGRAPH_NAMES.map((name) => [name, subgraphSchema(name)]));
  const documents = new Map<string, DocumentNode>();
  const answers = new Map<string, Map<string, string>>(SUBGRAPH_NAMES.map((name) => [name, new Map()]));
  const stats: SubgraphStats = { requests: 0, executed: 0, refused: 0, errors: 0 };
  const nonces = new NonceWindow();

  async function answer(name: SubgraphName, body: string): Promise<string> {
    const remembered = answers.get(name)!;
    const known = memo ? remembered.get(body) : undefined;
    if (known !== undefined) return known;
    stats.executed += 1;
    const schema = schemas.get(name)!;
    const { query, variables, operationName } = JSON.parse(body) as { query: string; variables?: Record<string, unknown>; operationName?: string };
    const key = `${name}\u0000${query}`;
    let document = documents.get(key);
    if (!document) {
      document = parse(query);
      const errors = validate(schema, document);
      if (errors.length) return JSON.stringify({ errors: errors.map((e) => ({ message: e.message })) });
      documents.set(key, document);
    }
    const result = await execute({ schema, document, variableValues: variables, operationName });
    const text = JSON.stringify(result);
    if (result.errors) stats.errors += 1;
    else if (memo && remembered.size < memoSize) remembered.set(body, text);
    return text;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      stats.requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0];
      const signed = path.startsWith('/signed/');
      const name = (signed ? path.slice('/signed/'.length) : path.slice(1)) as SubgraphName;
      if (!schemas.has(name) || req.method !== 'POST') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"message":"not found"}]}');
        return;
      }
      if (signed) {
        const principalHeader = req.headers[PRINCIPAL_HEADER] as string | undefined;
        if (!decodePrincipal(principalHeader) || verifyRequest(secret, { method: 'POST', path, subgraph: name, body, principal: principalHeader }, req.headers[SIGNATURE_HEADER] as string | undefined, { nonces }) !== 'ok') {
          stats.refused += 1;
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"message":"unsigned","extensions":{"code":"UNAUTHENTICATED"}}]}');
          return;
        }
      }
      answer(name, body).then(
        (text) => res.writeHead(200, { 'content-type': 'application/json' }).end(text),
        (error: unknown) => {
          stats.errors += 1;
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: String(error) }] }));
        },
      );
    });
  });
  server.keepAliveTimeout = 65_000;

  return {
    stats,
    async listen(port = 0): Promise<number> {
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (require.main === module) {
  const subgraphs = createBenchSubgraphs({
    secret: process.env.BENCH_SUBGRAPH_SECRET ?? '',
    memo: process.env.BENCH_SUBGRAPH_MEMO !== '0',
  });
  void subgraphs.listen().then((port) => process.send?.({ ready: port }));
  process.on('message', (message) => {
    if (message === 'stats') process.send?.({ stats: { ...subgraphs.stats } });
    if (message === 'stop') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}
