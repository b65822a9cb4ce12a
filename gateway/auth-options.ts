/**
 * The gateway's security settings in one options object (authentication, limits, rate limits,
 * persisted queries), and how they come from the configuration (core/config.ts reads the
 * environment once). docs/configuration.md describes each.
 */
import type { ConcordConfig } from '../core/config';
import type { JWTVerifyGetKey } from 'jose';
import type { QueryLimits } from './limits';

export interface GatewaySecurityOptions {
  /** JWKS endpoint for RS256/ES256 tokens. Default: none. */
  jwksUrl?: string | null;
  /** RS256/ES256 keys given directly instead of a URL (tests). Default: from jwksUrl. */
  jwks?: JWTVerifyGetKey;
  /** Required `iss`. Default: not checked. */
  jwtIssuer?: string | null;
  /** Required `aud`. Default: not checked. */
  jwtAudience?: string | null;
  /** Longest token lifetime, in seconds. Default 86400 (24 h). */
  jwtMaxLifetimeSeconds?: number;
  /** Depth, aliases, cost and size limits. Default DEFAULT_LIMITS (gateway/limits.ts). */
  limits?: Partial<QueryLimits>;
  /** Most lexical tokens in a query. Default 5000. */
  maxTokens?: number;
  /** Estimated bytes the admission caches may hold. Default 64 MiB. */
  admissionCacheBytes?: number;
  /** Longest string in a variable or literal argument, in characters. Default 10000. */
  maxStringLength?: number;
  /** Failed authentications per client address per minute, then 429. Default 50. */
  authFailuresPerMinute?: number;
  /** Longest a GraphQL request may run before a 504, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Per-subject token bucket; null = no rate limits. Default null. */
  rateLimit?: { perSecond: number; burst: number } | null;
  /** Redis for shared rate-limit buckets; null = in memory (one process). Default null. */
  redisUrl?: string | null;
  /** Redis key namespace. Default 'concord'. */
  redisPrefix?: string;
  /** Directory of allowed .graphql operations; null = any operation. Default null. */
  safelistDir?: string | null;
  /** Automatic persisted queries. Default true. */
  apq?: boolean;
}

/**
 * The HS256 secret the gateway may verify with. The public dev secret is never used in production,
 * nor next to a JWKS (a configured identity provider means the dev secret is not wanted at all).
 */
export function hs256SecretOf(config: ConcordConfig): string | null {
  if (config.jwtSecretIsDev && (config.production || config.jwksUrl)) return null;
  return config.jwtSecret;
}

/** The gateway options (createGateway) that come from the configuration. */
export function securityOptionsFromConfig(config: ConcordConfig): { jwtSecret: string | null; maxBodyBytes: number; subgraphTimeoutMs: number; security: GatewaySecurityOptions } {
  const s = config.security;
  return {
    jwtSecret: hs256SecretOf(config),
    maxBodyBytes: s.maxBodyBytes,
    subgraphTimeoutMs: s.subgraphTimeoutMs,
    security: {
      jwksUrl: config.jwksUrl,
      jwtIssuer: s.jwtIssuer,
      jwtAudience: s.jwtAudience,
      jwtMaxLifetimeSeconds: s.jwtMaxLifetimeSeconds,
      limits: { maxDepth: s.maxDepth, maxAliases: s.maxAliases, maxCost: s.maxCost, defaultListSize: s.defaultListSize, maxFields: s.maxFields, maxSelectionFields: s.maxSelectionFields, maxFieldOverlaps: s.maxFieldOverlaps, maxFetches: s.maxSubgraphFetches },
      maxTokens: s.maxTokens,
      admissionCacheBytes: s.admissionCacheMb * 1024 * 1024,
      maxStringLength: s.maxStringLength,
      authFailuresPerMinute: s.authFailuresPerMinute,
      requestTimeoutMs: s.requestTimeoutMs,
      rateLimit: s.rateLimitPerSecond > 0 ? { perSecond: s.rateLimitPerSecond, burst: s.rateLimitBurst } : null,
      redisUrl: config.redisUrl,
      redisPrefix: config.redisPrefix,
      safelistDir: s.safelistDir,
      apq: s.apq,
    },
  };
}
