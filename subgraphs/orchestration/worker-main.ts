/**
 * An order-to-cash worker process on its own: no HTTP, just the engine's workers on Redis. Run as
 * many as needed next to API-only replicas (CONCORD_WORKERS=0); a killed worker's runs are taken
 * over by the others (BullMQ stalled-job recovery plus the run lease). Vendors come from the
 * environment (core/config.ts); REDIS_URL is required.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 SALESFORCE_INSTANCE_URL=... tsx subgraphs/orchestration/worker-main.ts
 */
import { ConfigError, loadConfig } from '../../core/config';
import { createEventInfrastructure } from '../../core/events';
import { createLogger } from '../../core/log';
import { createVendorPorts, vendorEndpoints } from '../../system';
import { markConcordWrites } from '../events/echo';
import { createEventsRuntime, echoTtlMs } from '../events/runtime';
import { createOrchestrationRuntime } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.redisUrl) throw new ConfigError('a worker process needs REDIS_URL (embedded mode runs workers inside npm start)');
  const logger = createLogger({ level: config.logLevel, name: 'concord-worker' });
  // Workers also poll vendors for changes and run the event reactions (subgraphs/events/runtime.ts).
  const events = createEventInfrastructure(config, logger);
  const ports = markConcordWrites(createVendorPorts(config, {}), events.coordination, echoTtlMs(config));
  const runtime = await createOrchestrationRuntime({
    config: { ...config, orchestration: { ...config.orchestration, workers: true } },
    ports,
    logger,
    events: events.log,
  });
  const live = createEventsRuntime({ config, events, ports, vendors: vendorEndpoints(config, {}), logger, workers: true });
  await live.start();
  logger.info({ pid: process.pid }, 'order-to-cash worker started');
  process.stdout.write(`worker ready ${process.pid}\n`);
  const stop = async () => {
    await live.close();
    await runtime.close();
    await events.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: Error) => {
  console.error(error instanceof ConfigError ? `concord-worker: ${error.message}` : error);
  process.exit(1);
});
