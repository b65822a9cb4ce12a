/**
 * (f) direct: the floor. No gateway: for every request, the subgraph fetches that @apollo/gateway's
 * plan makes for the bench query (recorded once at start from a real execution) are sent one after
 * the other, each signed and carrying the principal as Concord sends them (core/signing.ts,
 * core/principal.ts) over Concord's node:http client, each answer read and parsed; then the
 * expected answer (computed from the fixed data) is written. Sequential, so it does more waiting
 * than a gateway that runs independent fetches in parallel, but no planning, no merging and no
 * serialising of the result: what any federation gateway over these subgraphs must at least spend.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import type { Fetcher } from '@apollo/utils.fetcher';
import { encodePrincipal, PRINCIPAL_HEADER } from '../../../core/principal';
import { SIGNATURE_HEADER, signRequest } from '../../../core/signing';
import { leanSendRequest, subgraphFetch } from '../../../gateway/subgraph-http';
import { BENCH_QUERY, expectedResult } from '../schema';
import type { BenchGateway, GatewayStartOptions } from './types';

interface RecordedFetch {
  subgraph: string;
  body: string;
}

/** The plan's fetches, in the order the gateway sent them, from one execution of the bench query. */
async function recordFetches(supergraphSdl: string): Promise<RecordedFetch[]> {
  const recorded: RecordedFetch[] = [];
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => {
      const fetcher = ((target: string, init: { body?: string; headers?: Record<string, string>; method?: string } = {}) => {
        recorded.push({ subgraph: name, body: init.body ?? '' });
        return subgraphFetch(target, init, 15_000);
      }) as unknown as Fetcher;
      return new RemoteGraphQLDataSource({ ...leanSendRequest, url, fetcher });
    },
  });
  const server = new ApolloServer({ gateway });
  await server.start();
  const response = await server.executeOperation({ query: BENCH_QUERY, operationName: 'Bench' });
  await server.stop();
  if (response.body.kind !== 'single' || response.body.singleResult.errors) throw new Error(`direct: the recording execution failed: ${JSON.stringify(response.body.kind === 'single' ? response.body.singleResult.errors : response.body.kind)}`);
  return recorded;
}

export async function startDirect(options: GatewayStartOptions): Promise<BenchGateway> {
  const fetches = await recordFetches(options.supergraphSdl);
  const principal = encodePrincipal({ subject: 'bench', scopes: new Set(['customers:read']), customerId: null });
  const answer = JSON.stringify(expectedResult());
  const targets = fetches.map(({ subgraph, body }) => ({ subgraph, body, path: `/signed/${subgraph}`, url: `${options.subgraphBaseUrl}/signed/${subgraph}` }));

  async function serve(): Promise<void> {
    for (const target of targets) {
      const headers: Record<string, string> = { 'content-type': 'application/json', [PRINCIPAL_HEADER]: principal };
      headers[SIGNATURE_HEADER] = signRequest(options.subgraphSecret, { method: 'POST', path: target.path, subgraph: target.subgraph, body: target.body, principal });
      const response = await subgraphFetch(target.url, { method: 'POST', headers, body: target.body }, 15_000);
      if (!response.ok) throw new Error(`direct: ${target.subgraph} answered ${response.status}`);
      JSON.parse(await response.text());
    }
  }

  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      serve().then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer),
        (error: unknown) => res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: String(error) }] })),
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
