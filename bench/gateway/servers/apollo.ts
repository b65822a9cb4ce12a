/** (b) Bare @apollo/gateway on @apollo/server with its defaults (startStandaloneServer). */
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import type { BenchGateway, GatewayStartOptions } from './types';

export async function startApolloGateway(options: GatewayStartOptions): Promise<BenchGateway> {
  const server = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: options.supergraphSdl }) });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { port: Number(new URL(url).port), close: () => server.stop() };
}
