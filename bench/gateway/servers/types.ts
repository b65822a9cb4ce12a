/** What each benchmarked gateway is started with, and what it gives back. */
export interface GatewayStartOptions {
  /** The composed bench supergraph; its `@join__graph` URLs are the open subgraph paths. */
  supergraphSdl: string;
  /** http://127.0.0.1:<port> of the bench subgraphs process. */
  subgraphBaseUrl: string;
  /** Secret the subgraphs verify `/signed/*` requests with (Concord signs with it). */
  subgraphSecret: string;
  /** HS256 secret of the bearer token the load sends (Concord verifies it). */
  jwtSecret: string;
}

export interface BenchGateway {
  port: number;
  close(): Promise<void>;
}

export const GATEWAY_KINDS = ['concord', 'apollo-gateway', 'hive-gateway'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];
