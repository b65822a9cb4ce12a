/**
 * (d) apollo-lean: bare @apollo/gateway as in (b), but each subgraph's data source sends through
 * Concord's node:http subgraph client (gateway/subgraph-http.ts: `subgraphFetch` and
 * `leanSendRequest`), without anything else of Concord (no auth, limits, admission, signing,
 * metrics). Concord minus this row is what Concord's own layers cost.
 */
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import type { Fetcher } from '@apollo/utils.fetcher';
import { leanSendRequest, subgraphFetch } from '../../../gateway/subgraph-http';
import type { BenchGateway, GatewayStartOptions } from './types';

const fetcher = ((url: string, init: { body?: string; headers?: Record<string, string>; method?: string } = {}) => subgraphFetch(url, init, 15_000)) as unknown as Fetcher;

export async function startApolloLean(options: GatewayStartOptions): Promise<BenchGateway> {
  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    buildService: ({ url }) => new RemoteGraphQLDataSource({ ...leanSendRequest, url, fetcher }),
  });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { port: Number(new URL(url).port), close: () => server.stop() };
}
