/**
 * (c) Hive Gateway from npm (@graphql-hive/gateway): its programmatic runtime over the same
 * supergraph, served by node:http, with its defaults (logging off, as the other two log nothing
 * per request either).
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PEERS_DIR } from '../peers';
import type { BenchGateway, GatewayStartOptions } from './types';

/** The part of @graphql-hive/gateway's runtime used here: a node:http request listener that can be disposed. */
type HiveRuntime = http.RequestListener & { dispose(): Promise<void> | void };
type CreateGatewayRuntime = (options: { supergraph: string; logging: boolean }) => HiveRuntime;

/**
 * Loaded at run time from bench/gateway/peers/node_modules (bench/gateway/peers.ts installs it there), so
 * that neither the main install nor the type check needs the package.
 */
function loadHive(): CreateGatewayRuntime {
  return (createRequire(path.join(PEERS_DIR, 'package.json'))('@graphql-hive/gateway') as { createGatewayRuntime: CreateGatewayRuntime }).createGatewayRuntime;
}

export async function startHiveGateway(options: GatewayStartOptions): Promise<BenchGateway> {
  const runtime = loadHive()({ supergraph: options.supergraphSdl, logging: false });
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
