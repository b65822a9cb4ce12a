/**
 * An order-to-cash worker process on its own: no HTTP, just the engine's workers on Redis. Run as
 * many as needed next to API-only replicas (CONCORD_WORKERS=0); a killed worker's runs are taken
 * over by the others (BullMQ stalled-job recovery plus the run lease). Vendors come from the
 * environment (core/config.ts); REDIS_URL is required. Under NODE_ENV=production every vendor must
 * be configured (the start names what is missing); in development a vendor not configured is the
 * bundled simulator where `npm start` or `npm run simulators` serves it (PORT+101..103), with a
 * warning. With CONCORD_WORKER_PORT set, the worker serves /health, /ready (Redis and its vendors)
 * and its own metrics (vendor calls, retries, dead letters, run durations) at /metrics there;
 * OTEL_TRACES_EXPORTER traces its jobs as the gateway's requests are traced.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 CONCORD_WORKER_PORT=5500 npm run worker
 */
import { capacityGovernorFromConfig } from '../../core/capacity-redis';
import { ConfigError, loadConfig, type ConcordConfig } from '../../core/config';
import { redisReadiness, runReadinessChecks, vendorReadiness } from '../../core/readiness';
import { createEventInfrastructure } from '../../core/events';
import { createLogger } from '../../core/log';
import { listenMetrics } from '../../observability/metrics-server';
import { createOpsRuntime } from '../../observability/runtime';
import { createVendorModules, vendorEndpoints, vendorLimits, vendorSettingsFromConfig, type VendorFallback } from '../../vendors';
import { entityCacheFromConfig } from '../../core/entity-cache-redis';
import { invalidatingWrites, safeInvalidator } from '../common/cache-invalidation';
import { markConcordWrites } from '../events/echo';
import { createEventsRuntime, echoTtlMs } from '../events/runtime';
import { createOrchestrationRuntime } from './runtime';

export const USAGE = `Usage: npm run worker [-- --help]

Runs order-to-cash and workflow workers (and the change pollers and event reactions) on their own,
with no HTTP API, next to API replicas started with CONCORD_WORKERS=0. Takes no options: everything
comes from the environment (docs/configuration.md). REDIS_URL is required (embedded mode runs the
workers inside npm start); use the same REDIS_URL, CONCORD_REDIS_PREFIX and vendor settings as the
API replicas. Prints "worker ready <pid>" once it takes work; SIGTERM or SIGINT stops it cleanly.

Environment worth knowing:
  REDIS_URL                  the Redis the API replicas use (required)
  CONCORD_REDIS_PREFIX       the same prefix as the API replicas (default concord)
  CONCORD_WORKER_PORT        serve this worker's /health, /ready and /metrics on that port (default: none)
  CONCORD_ERP_CONCURRENCY    ERP steps at once across all workers (default 5)

Examples:
  REDIS_URL=redis://127.0.0.1:6379 npm run worker
  REDIS_URL=redis://redis:6379 CONCORD_WORKER_PORT=9464 npm run worker`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.length > 0) {
    process.stderr.write(`concord-worker: unknown option ${args[0]}\n\n${USAGE}\n`);
    process.exit(2);
  }
  const config = loadConfig(process.env, 'worker');
  if (!config.redisUrl) throw new ConfigError('a worker process needs REDIS_URL (embedded mode runs workers inside npm start)');
  const redisUrl = config.redisUrl;
  const logger = createLogger({ level: config.logLevel, name: 'concord-worker', format: config.logFormat, production: config.production });
  const fallback = devVendorFallback(config);
  for (const [vendor, settings] of Object.entries(fallback)) {
    logger.warn({ vendor, settings: 'instanceUrl' in settings ? settings.instanceUrl : settings.baseUrl }, 'vendor not configured: using the bundled simulator there (development only)');
  }
  // Workers also poll vendors for changes and run the event reactions (subgraphs/events/runtime.ts).
  const events = createEventInfrastructure(config, logger);
  const settings = vendorSettingsFromConfig(config, fallback);
  const ops = createOpsRuntime({ config, logger, vendorLimits: vendorLimits(settings) });
  // The vendor budgets are shared with the API replicas and the other workers on the same Redis.
  const governor = capacityGovernorFromConfig(config);
  const vendors = createVendorModules(settings, { onCall: ops.onVendorCall, governor });
  ops.metrics.watch({ capacity: governor });
  // A worker reads nothing through the entity cache, but its writes drop what they changed from it
  // (Redis: the API replicas' shared store).
  const cache = entityCacheFromConfig(config, (error) => logger.warn({ err: error }, 'entity cache: Redis error'));
  const marked = markConcordWrites(vendors.ports, events.coordination, echoTtlMs(config));
  const ports = cache ? invalidatingWrites(marked, safeInvalidator(cache, logger)) : marked;
  const runtime = await createOrchestrationRuntime({
    config: { ...config, orchestration: { ...config.orchestration, workers: true } },
    ports,
    retryPolicies: vendors.retryPolicies,
    logger,
    events: events.log,
    onRunChanged: ops.onRunChanged,
    tracing: ops.tracing,
  });
  ops.metrics.watch({ queues: runtime.queues, runs: runtime.store });
  const { metricsPort, metricsToken } = config.observability;
  // Ready when Redis and the vendors this worker calls answer (core/readiness.ts).
  const redis = redisReadiness(redisUrl);
  const checks = {
    redis: redis.check,
    ...Object.fromEntries(Object.entries(vendorEndpoints(settings)).map(([vendor, url]) => [vendor, vendorReadiness(url)])),
  };
  const metricsServer =
    metricsPort === null
      ? null
      : await listenMetrics({ metrics: ops.metrics, port: metricsPort, host: config.host, token: metricsToken, ready: () => runReadinessChecks(checks) });
  if (metricsServer) logger.info({ url: metricsServer.url }, 'worker /health, /ready and /metrics served');
  const live = createEventsRuntime({ config, events, ports, vendors, logger, workers: true });
  await live.start();
  logger.info({ pid: process.pid }, 'order-to-cash worker started');
  process.stdout.write(`worker ready ${process.pid}\n`);
  const stop = async () => {
    await live.close();
    await runtime.close();
    await governor.close();
    await cache?.close();
    await events.close();
    await metricsServer?.close();
    await redis.close();
    await ops.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

/**
 * Development only: for a vendor not configured, the bundled simulator where `npm start` or
 * `npm run simulators` serves it (PORT+101..103). The simulators accept any credential of the right
 * form unless started with --require-credentials, so these are placeholders, not secrets (this
 * module must not import simulators/). Production has every vendor configured: nothing here.
 */
function devVendorFallback(config: ConcordConfig): VendorFallback {
  if (config.production) return {};
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const at = (offset: number) => `http://${host}:${config.port + offset}`;
  return {
    ...(config.salesforce ? {} : { salesforce: { instanceUrl: at(101), accessToken: 'concord-dev-session' } }),
    ...(config.hubspot ? {} : { hubspot: { accessToken: 'pat-na1-concord-dev-worker', baseUrl: at(104) } }),
    ...(config.stripe ? {} : { stripe: { apiKey: 'sk_test_concord_dev_worker', baseUrl: at(102), taxRateId: config.stripeTaxRateId } }),
    ...(config.chargebee ? {} : { chargebee: { site: 'concord-test', apiKey: 'test_concord_dev_worker', baseUrl: at(107) } }),
    ...(config.netsuite
      ? {}
      : { netsuite: { accountId: 'TSTDRV1234567', consumerKey: 'dev', consumerSecret: 'dev', tokenId: 'dev', tokenSecret: 'dev', baseUrl: at(103), concurrency: config.orchestration.concurrency.ERP } }),
    ...(config.businesscentral
      ? {}
      : {
          businesscentral: {
            baseUrl: at(106),
            tokenUrl: `${at(106)}/concord-sim-tenant/oauth2/v2.0/token`,
            tenant: 'concord-sim-tenant',
            environment: 'production',
            clientId: 'concord-dev-worker',
            clientSecret: 'dev',
            concurrency: config.orchestration.concurrency.ERP,
          },
        }),
  };
}

main().catch((error: Error) => {
  console.error(error instanceof ConfigError ? `concord-worker: ${error.message}` : error);
  process.exit(1);
});
