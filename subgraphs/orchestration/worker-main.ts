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
import { ConfigError, loadConfig, type ConcordConfig } from '../../core/config';
import { redisReadiness, runReadinessChecks, vendorReadiness } from '../../core/readiness';
import { createEventInfrastructure } from '../../core/events';
import { createLogger } from '../../core/log';
import { listenMetrics } from '../../gateway/metrics-server';
import { createOpsRuntime } from '../../gateway/ops/runtime';
import { createVendorPorts, vendorEndpoints } from '../../system';
import { markConcordWrites } from '../events/echo';
import { createEventsRuntime, echoTtlMs } from '../events/runtime';
import { createOrchestrationRuntime } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig(process.env, 'worker');
  if (!config.redisUrl) throw new ConfigError('a worker process needs REDIS_URL (embedded mode runs workers inside npm start)');
  const redisUrl = config.redisUrl;
  const logger = createLogger({ level: config.logLevel, name: 'concord-worker' });
  const simulators = devSimulators(config);
  for (const [vendor, sim] of Object.entries(simulators)) {
    logger.warn({ vendor, url: sim.url }, 'vendor not configured: using the bundled simulator there (development only)');
  }
  // Workers also poll vendors for changes and run the event reactions (subgraphs/events/runtime.ts).
  const events = createEventInfrastructure(config, logger);
  const ops = createOpsRuntime({ config, logger });
  const ports = markConcordWrites(createVendorPorts(config, simulators, ops.onVendorCall), events.coordination, echoTtlMs(config));
  const runtime = await createOrchestrationRuntime({
    config: { ...config, orchestration: { ...config.orchestration, workers: true } },
    ports,
    logger,
    events: events.log,
    onRunChanged: ops.onRunChanged,
    tracing: ops.tracing,
  });
  ops.metrics.watch({ queues: runtime.queues, runs: runtime.store });
  const endpoints = vendorEndpoints(config, simulators);
  // Ready when Redis and the vendors this worker calls answer (core/readiness.ts).
  const redis = redisReadiness(redisUrl);
  const checks = {
    redis: redis.check,
    salesforce: vendorReadiness(endpoints.salesforce.instanceUrl),
    stripe: vendorReadiness(endpoints.stripe.baseUrl),
    netsuite: vendorReadiness(endpoints.netsuite.baseUrl),
  };
  const { metricsPort, metricsToken } = config.observability;
  const metricsServer =
    metricsPort === null
      ? null
      : await listenMetrics({ metrics: ops.metrics, port: metricsPort, host: config.host, token: metricsToken, ready: () => runReadinessChecks(checks) });
  if (metricsServer) logger.info({ url: metricsServer.url }, 'worker /health, /ready and /metrics served');
  const live = createEventsRuntime({ config, events, ports, vendors: endpoints, logger, workers: true });
  await live.start();
  logger.info({ pid: process.pid }, 'order-to-cash worker started');
  process.stdout.write(`worker ready ${process.pid}\n`);
  const stop = async () => {
    await live.close();
    await runtime.close();
    await events.close();
    await metricsServer?.close();
    await redis.close();
    await ops.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

/** Development only: the simulators `npm start` or `npm run simulators` serves at PORT+101..103, for vendors not configured. */
function devSimulators(config: ConcordConfig): { salesforce?: { url: string }; stripe?: { url: string }; netsuite?: { url: string } } {
  // Production has every vendor configured (loadConfig refused the start otherwise): nothing here.
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const at = (offset: number) => ({ url: `http://${host}:${config.port + offset}` });
  return {
    ...(config.salesforce ? {} : { salesforce: at(101) }),
    ...(config.stripe ? {} : { stripe: at(102) }),
    ...(config.netsuite ? {} : { netsuite: at(103) }),
  };
}

main().catch((error: Error) => {
  console.error(error instanceof ConfigError ? `concord-worker: ${error.message}` : error);
  process.exit(1);
});
