/**
 * The production composition root: one module per vendor (vendors/index.ts) built from the vendor
 * settings it is given, the CRM, billing, ERP and orchestration subgraphs, the live events and the
 * gateway. It starts no simulator and knows of none: the dev composition root (system.ts) starts
 * the simulators and hands their URLs and credentials in as vendor settings, so `npm start`, the
 * integration tests and the benchmarks run this same wiring.
 */
import { readFileSync } from 'node:fs';
import { capacityGovernorFromConfig } from './core/capacity-redis';
import type { ConcordConfig } from './core/config';
import { entityCacheFromConfig } from './core/entity-cache-redis';
import { createEventInfrastructure, type BusinessEvent, type EventInfrastructure } from './core/events';
import type { Logger } from './core/log';
import { redisReadiness, vendorReadiness } from './core/readiness';
import type { VendorCallListener } from './core/vendor-call';
import { securityOptionsFromConfig } from './gateway/auth-options';
import { loadOptionsFromConfig } from './gateway/overload';
import type { Metrics } from './observability/metrics';
import { createOpsRuntime } from './observability/runtime';
import type { Tracing } from './core/tracing';
import { createGateway, type RunningGateway } from './gateway/server';
import { SUPERGRAPH_PATH } from './schema/subgraphs';
import { createVendorModules, vendorEndpoints, vendorLimits, type VendorSettings } from './vendors';
import { createBillingSubgraph } from './subgraphs/billing/server';
import { followInvalidations, invalidatingWrites, safeInvalidator } from './subgraphs/common/cache-invalidation';
import { cachedReads } from './subgraphs/common/cached-reads';
import type { RunningServer } from './subgraphs/common/subgraph-server';
import { createCrmSubgraph } from './subgraphs/crm/server';
import { createErpSubgraph } from './subgraphs/erp/server';
import { markConcordWrites } from './subgraphs/events/echo';
import { createLocalEventsSubgraph } from './subgraphs/events/local-subgraph';
import { createEventsRuntime, echoTtlMs } from './subgraphs/events/runtime';
import { createOrchestrationRuntime, type OrchestrationRuntime, type OrchestrationRuntimeOptions } from './subgraphs/orchestration/runtime';
import { createOrchestrationSubgraph } from './subgraphs/orchestration/server';

/** Credentials the bundled simulators accept (they accept any of the right form). */
export interface ConcordOptions {
  config: ConcordConfig;
  logger: Logger;
  /** Where each vendor is and how to sign in (vendors/index.ts vendorSettingsFromConfig). Required. */
  vendors: VendorSettings;
  /** The Stripe webhook endpoint's signing secret. Default config.events.stripeWebhookSecret (null: refused). */
  stripeWebhookSecret?: string | null;
  /** Webhook credentials of other vendors by route name (`chargebee`: `user:password`). Default: from the configuration. */
  webhookSecrets?: Record<string, string | null>;
  /** 'fixed': ports from config.port as API.md lays out; 'ephemeral': port 0 everywhere (tests). Default 'fixed'. */
  ports?: 'fixed' | 'ephemeral';
  /** Told of every vendor call any adapter makes. */
  onVendorCall?: VendorCallListener;
  /** Batch entity reads onto vendor bulk reads. Default true; false is the benchmarks' baseline. */
  batch?: boolean;
  /** Prometheus metrics of this process (observability/metrics.ts), served at /metrics. Default: a new registry. */
  metrics?: Metrics;
  /** Spans and trace propagation (core/tracing.ts). Default: from the configuration (OTEL_TRACES_EXPORTER). */
  tracing?: Tracing;
  /** Told each time the entity cache dropped what an event named (tests: wait for an invalidation). Default: nothing. */
  onCacheInvalidated?: (event: BusinessEvent, units: string[]) => void;
  /** Engine hooks and a work-queue wrapper (tests: park a run at a step boundary, fail an enqueue). Default: none. */
  orchestration?: Pick<OrchestrationRuntimeOptions, 'hooks' | 'decorateQueues'>;
}

export interface RunningConcord {
  gateway: RunningGateway;
  subgraphs: { crm: RunningServer; billing: RunningServer; erp: RunningServer; orchestration: RunningServer };
  orchestration: OrchestrationRuntime;
  /** The event log and coordination (Redis with REDIS_URL, memory otherwise). */
  events: EventInfrastructure;
  /** The Stripe webhook signing secret in use (null: Stripe webhooks refused). */
  stripeWebhookSecret: string | null;
  /** The metrics served at /metrics and the tracing in use. */
  metrics: Metrics;
  tracing: Tracing;
  close(): Promise<void>;
}

export async function startConcord(options: ConcordOptions): Promise<RunningConcord> {
  const { config, logger, ports = 'fixed', onVendorCall, batch = true } = options;
  const at = (offset: number) => (ports === 'fixed' ? config.port + offset : 0);
  const host = config.host;
  const closers: (() => Promise<void>)[] = [];

  try {
    // Before everything that appends (runs, webhooks, pollers), closed after all of them.
    const events = createEventInfrastructure(config, logger);
    closers.push(() => events.close());
    // Metrics, tracing and the ops console's figures (observability/runtime.ts).
    const ops = createOpsRuntime({ config, logger, metrics: options.metrics, tracing: options.tracing, onVendorCall, vendorLimits: vendorLimits(options.vendors) });
    closers.push(() => ops.close());
    const { tracing } = ops;
    // One budget per vendor account with every other process on the same Redis (core/capacity.ts).
    const governor = capacityGovernorFromConfig(config);
    closers.push(() => governor.close());
    const vendors = createVendorModules(options.vendors, { onCall: ops.onVendorCall, governor });
    ops.metrics.watch({ capacity: governor });
    // The entity cache of vendor reads (core/entity-cache.ts): null when CONCORD_ENTITY_CACHE_TTL_S=0.
    const cache = entityCacheFromConfig(config, (error) => logger.warn({ err: error }, 'entity cache: Redis error (reads go to the vendors)'));
    if (cache) closers.push(() => cache.close());
    const invalidate = cache ? safeInvalidator(cache, logger) : null;
    // Concord's own writes to customer records are marked, so change polling does not report them
    // again, and drop what they changed from the entity cache before the write reports success.
    const marked = markConcordWrites(vendors.ports, events.coordination, echoTtlMs(config));
    const vendorPorts = invalidate ? invalidatingWrites(marked, invalidate) : marked;
    const { crm: crmPort, billing: billingPort, erp: erpPort } = vendorPorts;
    // The subgraphs' entity reads through the cache; the sagas read the vendors themselves.
    const reads = cache
      ? {
          cached: cachedReads(vendorPorts, cache, false, { onOutcome: (kind, hits, misses) => ops.metrics.entityCacheReads(kind, hits, misses) }),
          refresh: cachedReads(vendorPorts, cache, true, { onOutcome: (kind, hits, misses) => ops.metrics.entityCacheReads(kind, hits, misses) }),
        }
      : null;
    if (invalidate) {
      // The vendors' change events (webhooks, pollers) and Concord's own, as they reach the log.
      const following = new AbortController();
      const followed = followInvalidations({ log: events.log, invalidate, signal: following.signal, logger, onInvalidated: options.onCacheInvalidated });
      closers.push(async () => {
        following.abort();
        await followed;
      });
    }

    const secret = config.subgraphSecret;
    const crm = await createCrmSubgraph({
      port: crmPort,
      vendors: { billing: billingPort.vendor, erp: erpPort.vendor },
      ...(reads ? { reads: { cached: reads.cached.crm, refresh: reads.refresh.crm } } : {}),
      secret,
      logger,
      batch,
      tracing,
    }).listen(at(1), host);
    closers.push(() => crm.close());
    const billing = await createBillingSubgraph({ port: billingPort, ...(reads ? { reads: { cached: reads.cached.billing, refresh: reads.refresh.billing } } : {}), secret, logger, batch, tracing }).listen(at(2), host);
    closers.push(() => billing.close());
    const erp = await createErpSubgraph({ port: erpPort, ...(reads ? { reads: { cached: reads.cached.erp, refresh: reads.refresh.erp } } : {}), secret, logger, batch, tracing }).listen(at(3), host);
    closers.push(() => erp.close());
    const orchestration = await createOrchestrationRuntime({ config, ports: vendorPorts, retryPolicies: vendors.retryPolicies, logger, events: events.log, onRunChanged: ops.onRunChanged, tracing, ...options.orchestration });
    closers.push(() => orchestration.close());
    // Portal isolation of startOrderToCash: the deal's customer, read from the CRM before a run exists.
    const opportunityOwner = async (id: string) => (await crmPort.getOpportunities([id])).get(id)?.accountId ?? null;
    const orchestrationServer = await createOrchestrationSubgraph({
      engine: orchestration.engine,
      secret,
      logger,
      opportunityOwner,
      consistency: orchestration.consistency,
      ops: ops.watch(orchestration),
      opsRuns: orchestration.opsRuns,
      audit: orchestration.audit,
      readiness: () => orchestration.readiness(),
      tracing,
    }).listen(at(4), host);
    closers.push(() => orchestrationServer.close());

    const live = createEventsRuntime({ config, events, ports: vendorPorts, vendors, logger, stripeWebhookSecret: options.stripeWebhookSecret, webhookSecrets: options.webhookSecrets });
    closers.push(() => live.close());

    // /ready: the subgraphs through a signed probe, Redis, and the vendors this process calls (core/readiness.ts).
    const redisReady = config.redisUrl ? redisReadiness(config.redisUrl) : null;
    if (redisReady) closers.push(() => redisReady.close());
    const readinessChecks = {
      ...(redisReady ? { redis: redisReady.check } : {}),
      ...Object.fromEntries(Object.entries(vendorEndpoints(options.vendors)).map(([vendor, url]) => [vendor, vendorReadiness(url)])),
    };
    const gateway = await createGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
      subgraphUrls: { crm: crm.url, billing: billing.url, erp: erp.url, orchestration: orchestrationServer.url },
      subgraphSecret: secret,
      ...securityOptionsFromConfig(config),
      ...loadOptionsFromConfig(config),
      logger,
      production: config.production,
      ide: config.graphiql,
      events: {
        log: events.log,
        eventsDataSource: createLocalEventsSubgraph().dataSource,
        webhooks: live.webhooks,
        maxConnectionsPerSubject: config.security.wsMaxConnectionsPerSubject,
        maxConnectionsPerAddress: config.security.wsMaxConnectionsPerAddress,
      },
      metrics: ops.metrics,
      metricsToken: config.observability.metricsToken,
      tracing,
      readinessProbe: 'graphql',
      readinessChecks,
    }).listen(ports === 'fixed' ? config.port : 0, host);
    closers.push(() => gateway.close());
    await live.start(gateway.url);

    return {
      gateway,
      subgraphs: { crm, billing, erp, orchestration: orchestrationServer },
      orchestration,
      events,
      stripeWebhookSecret: live.stripeWebhookSecret,
      metrics: ops.metrics,
      tracing,
      close: async () => {
        // Gateway first, the event infrastructure last: nothing is left calling a closed server.
        for (const close of closers.reverse()) await close();
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
