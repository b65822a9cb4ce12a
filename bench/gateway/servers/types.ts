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
  /** The process doing the work when it is not the gateway process itself (Grafbase's binary): its CPU and memory are measured. */
  pid?: number;
  close(): Promise<void>;
}

/**
 * The rows of the benchmark. `concord-many-tokens` and `concord-redis` are Concord as in (a), the
 * first loaded with many distinct tokens (each verified once, then from the cache; the principal
 * differs, so fewer fetches are shared), the second with its rate limiter in Redis (REDIS_URL).
 */
export const GATEWAY_KINDS = ['concord', 'concord-many-tokens', 'concord-redis', 'apollo-gateway', 'apollo-lean', 'hive-gateway', 'grafbase', 'grafbase-nodedup', 'direct'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];
