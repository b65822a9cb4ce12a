/**
 * An order-to-cash worker process on its own: no HTTP, just the engine's workers on Redis. Run as
 * many as needed next to API-only replicas (CONCORD_WORKERS=0); a killed worker's runs are taken
 * over by the others (BullMQ stalled-job recovery plus the run lease). Vendors come from the
 * environment (core/config.ts); REDIS_URL is required. With CONCORD_METRICS_PORT set, the worker's
 * own metrics (its vendor calls, retries, dead letters, run durations) are served there at /metrics;
 * OTEL_TRACES_EXPORTER traces its jobs as the gateway's requests are traced.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 SALESFORCE_INSTANCE_URL=... tsx subgraphs/orchestration/worker-main.ts
 */
import { ConfigError, loadConfig } from '../../core/config';
import { createEventInfrastructure } from '../../core/events';
import { createLogger } from '../../core/log';
import { listenMetrics } from '../../observability/metrics-server';
import { createOpsRuntime } from '../../observability/runtime';
import { createVendorModules, vendorLimits, vendorSettingsFromConfig } from '../../vendors';
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
  CONCORD_METRICS_PORT       serve this worker's /metrics on that port (default: none)
  CONCORD_ERP_CONCURRENCY    ERP steps at once across all workers (default 5)

Examples:
  REDIS_URL=redis://127.0.0.1:6379 npm run worker
  REDIS_URL=redis://redis:6379 CONCORD_METRICS_PORT=9464 npm run worker`;

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
  const config = loadConfig();
  if (!config.redisUrl) throw new ConfigError('a worker process needs REDIS_URL (embedded mode runs workers inside npm start)');
  const logger = createLogger({ level: config.logLevel, name: 'concord-worker', format: config.logFormat, production: config.production });
  // Workers also poll vendors for changes and run the event reactions (subgraphs/events/runtime.ts).
  const events = createEventInfrastructure(config, logger);
  const settings = vendorSettingsFromConfig(config);
  const ops = createOpsRuntime({ config, logger, vendorLimits: vendorLimits(settings) });
  const vendors = createVendorModules(settings, { onCall: ops.onVendorCall });
  const ports = markConcordWrites(vendors.ports, events.coordination, echoTtlMs(config));
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
  const metricsServer = metricsPort === null ? null : await listenMetrics({ metrics: ops.metrics, port: metricsPort, host: config.host, token: metricsToken });
  if (metricsServer) logger.info({ url: metricsServer.url }, 'worker metrics served');
  const live = createEventsRuntime({ config, events, ports, vendors, logger, workers: true });
  await live.start();
  logger.info({ pid: process.pid }, 'order-to-cash worker started');
  process.stdout.write(`worker ready ${process.pid}\n`);
  const stop = async () => {
    await live.close();
    await runtime.close();
    await events.close();
    await metricsServer?.close();
    await ops.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: Error) => {
  console.error(error instanceof ConfigError ? `concord-worker: ${error.message}` : error);
  process.exit(1);
});
