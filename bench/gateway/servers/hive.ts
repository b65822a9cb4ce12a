/**
 * (c) Hive Gateway from npm (@graphql-hive/gateway): its programmatic runtime over the same
 * supergraph, served by node:http, with its defaults (logging off, as the other two log nothing
 * per request either).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime } from '@graphql-hive/gateway';
import type { BenchGateway, GatewayStartOptions } from './types';

export async function startHiveGateway(options: GatewayStartOptions): Promise<BenchGateway> {
  const runtime = createGatewayRuntime({ supergraph: options.supergraphSdl, logging: false });
  const server = http.createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.dispose();
    },
  };
}
