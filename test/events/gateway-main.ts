/**
 * A gateway replica in a process of its own, for the multi-gateway test: the same supergraph, the
 * running system's subgraphs (CONCORD_TEST_SUBGRAPH_URLS, JSON), the shared Redis event log
 * (REDIS_URL + CONCORD_REDIS_PREFIX). Prints `ready <url>` once listening; SIGTERM closes it.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../core/config';
import { createRedisEventLog } from '../../core/events/redis-log';
import { createLogger } from '../../core/log';
import { securityOptionsFromConfig } from '../../gateway/auth-options';
import { createGateway } from '../../gateway/server';
import { SUPERGRAPH_PATH } from '../../schema/subgraphs';
import { createLocalEventsSubgraph } from '../../subgraphs/events/local-subgraph';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.redisUrl) throw new Error('REDIS_URL is required');
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', name: 'gateway-replica' });
  const log = createRedisEventLog({ url: config.redisUrl, prefix: config.redisPrefix });
  const gateway = await createGateway({
    supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
    subgraphUrls: JSON.parse(process.env.CONCORD_TEST_SUBGRAPH_URLS ?? '{}') as Record<string, string>,
    subgraphSecret: config.subgraphSecret,
    ...securityOptionsFromConfig(config),
    logger,
    events: { log, eventsDataSource: createLocalEventsSubgraph().dataSource },
  }).listen(0, '127.0.0.1');
  process.stdout.write(`ready ${gateway.url}\n`);
  process.once('SIGTERM', () => {
    void gateway.close().then(() => log.close()).then(() => process.exit(0));
  });
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
