/**
 * The composition root: starts the vendor simulators (for vendors not configured), one adapter per
 * vendor, the CRM, billing and ERP subgraphs and the gateway. `npm start`, the integration tests and
 * the benchmarks all start Concord through here, so they run the same wiring.
 */
import { readFileSync } from 'node:fs';
import type { ConcordConfig } from './core/config';
import { createEventInfrastructure, type EventInfrastructure } from './core/events';
import type { Logger } from './core/log';
import type { VendorCallListener } from './core/vendor-call';
import { securityOptionsFromConfig } from './gateway/auth-options';
import type { Metrics } from './gateway/metrics';
import { createOpsRuntime } from './gateway/ops/runtime';
import type { Tracing } from './core/tracing';
import { createGateway, type RunningGateway } from './gateway/server';
import { SUPERGRAPH_PATH } from './schema/subgraphs';
import type { SimServer } from './simulators/common/sim-server';
import { buildSeed, type Seed } from './simulators/common/seed';
import { createNetSuiteSimulator } from './simulators/netsuite/server';
import { createSalesforceSimulator } from './simulators/salesforce/server';
import { createStripeSimulator } from './simulators/stripe/server';
import { createStripeAdapter } from './subgraphs/billing/stripe-adapter';
import { createBillingSubgraph } from './subgraphs/billing/server';
import type { RunningServer } from './subgraphs/common/subgraph-server';
import { createSalesforceAdapter } from './subgraphs/crm/salesforce-adapter';
import { createCrmSubgraph } from './subgraphs/crm/server';
import { createNetSuiteAdapter } from './subgraphs/erp/netsuite-adapter';
import { createErpSubgraph } from './subgraphs/erp/server';
import { markConcordWrites } from './subgraphs/events/echo';
import { createEventsRuntime, echoTtlMs, type VendorEndpoints } from './subgraphs/events/runtime';
import { createOrchestrationRuntime, type OrchestrationRuntime } from './subgraphs/orchestration/runtime';
import { createOrchestrationSubgraph } from './subgraphs/orchestration/server';
import type { Ports } from './subgraphs/orchestration/steps';

/** Credentials the bundled simulators accept (they accept any of the right form). */
export const SIMULATOR_CREDENTIALS = {
  salesforceToken: 'concord-simulator-session',
  stripeKey: 'sk_test_concord_simulator',
  netsuite: {
    accountId: 'TSTDRV1234567',
    consumerKey: 'concord-sim-consumer',
    consumerSecret: 'concord-sim-consumer-secret',
    tokenId: 'concord-sim-token',
    tokenSecret: 'concord-sim-token-secret',
  },
};

export interface SystemOptions {
  config: ConcordConfig;
  logger: Logger;
  /** 'fixed': ports from config.port as API.md lays out; 'ephemeral': port 0 everywhere (tests). Default 'fixed'. */
  ports?: 'fixed' | 'ephemeral';
  /** Seed data of the bundled simulators. Default buildSeed({ customers: config.seedCustomers }). */
  seed?: Seed;
  /** Told of every vendor call any adapter makes. */
  onVendorCall?: VendorCallListener;
  /** Batch entity reads onto vendor bulk reads. Default true; false is the benchmarks' baseline. */
  batch?: boolean;
  /** Prometheus metrics of this process (gateway/metrics.ts), served at /metrics. Default: a new registry. */
  metrics?: Metrics;
  /** Spans and trace propagation (core/tracing.ts). Default: from the configuration (OTEL_TRACES_EXPORTER). */
  tracing?: Tracing;
}

export interface RunningSystem {
  gateway: RunningGateway;
  subgraphs: { crm: RunningServer; billing: RunningServer; erp: RunningServer; orchestration: RunningServer };
  orchestration: OrchestrationRuntime;
  /** The event log and coordination (Redis with REDIS_URL, memory otherwise). */
  events: EventInfrastructure;
  /** The Stripe webhook signing secret in use (null: Stripe webhooks refused). */
  stripeWebhookSecret: string | null;
  /** The bundled simulators that were started (absent for a vendor configured for real). */
  simulators: { salesforce?: SimServer; stripe?: SimServer; netsuite?: SimServer };
  /** The metrics served at /metrics and the tracing in use. */
  metrics: Metrics;
  tracing: Tracing;
  close(): Promise<void>;
}

/** Where each vendor is: the configured one, or the bundled simulator with its credentials. */
export function vendorEndpoints(
  config: ConcordConfig,
  simulators: { salesforce?: { url: string }; stripe?: { url: string }; netsuite?: { url: string } },
): VendorEndpoints {
  const missing = (name: string): never => {
    throw new Error(`${name} is neither configured nor simulated`);
  };
  return {
    salesforce: config.salesforce ?? { instanceUrl: simulators.salesforce?.url ?? missing('Salesforce'), accessToken: SIMULATOR_CREDENTIALS.salesforceToken },
    stripe: config.stripe
      ? { ...config.stripe, simulated: false }
      : { apiKey: SIMULATOR_CREDENTIALS.stripeKey, baseUrl: simulators.stripe?.url ?? missing('Stripe'), simulated: true },
    netsuite: config.netsuite ?? { ...SIMULATOR_CREDENTIALS.netsuite, baseUrl: simulators.netsuite?.url ?? missing('NetSuite') },
  };
}

/** One adapter per vendor: the configured vendor, or the bundled simulator at its URL. */
export function createVendorPorts(
  config: ConcordConfig,
  simulators: { salesforce?: { url: string }; stripe?: { url: string }; netsuite?: { url: string } },
  onCall?: VendorCallListener,
): Ports {
  const missing = (name: string) => {
    throw new Error(`${name} is neither configured nor simulated`);
  };
  return {
    crm: createSalesforceAdapter({
      instanceUrl: config.salesforce?.instanceUrl ?? simulators.salesforce?.url ?? missing('Salesforce'),
      accessToken: config.salesforce?.accessToken ?? SIMULATOR_CREDENTIALS.salesforceToken,
      onCall,
    }),
    billing: createStripeAdapter({
      apiKey: config.stripe?.apiKey ?? SIMULATOR_CREDENTIALS.stripeKey,
      baseUrl: config.stripe?.baseUrl ?? simulators.stripe?.url ?? missing('Stripe'),
      onCall,
    }),
    erp: createNetSuiteAdapter({
      ...(config.netsuite ?? { ...SIMULATOR_CREDENTIALS.netsuite, baseUrl: simulators.netsuite?.url ?? missing('NetSuite') }),
      onCall,
    }),
  };
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const { config, logger, ports = 'fixed', onVendorCall, batch = true } = options;
  const at = (offset: number) => (ports === 'fixed' ? config.port + offset : 0);
  const host = config.host;
  const closers: (() => Promise<void>)[] = [];
  const simulators: RunningSystem['simulators'] = {};

  try {
    const seed = options.seed ?? buildSeed({ customers: config.seedCustomers });
    if (!config.salesforce) simulators.salesforce = await createSalesforceSimulator({ seed }).listen(at(101), host);
    if (!config.stripe) simulators.stripe = await createStripeSimulator({ seed }).listen(at(102), host);
    if (!config.netsuite) simulators.netsuite = await createNetSuiteSimulator({ seed }).listen(at(103), host);
    for (const sim of Object.values(simulators)) closers.push(() => sim.close());

    // Before everything that appends (runs, webhooks, pollers), closed after all of them.
    const events = createEventInfrastructure(config, logger);
    closers.push(() => events.close());
    // Metrics, tracing and the ops console's figures (gateway/ops/runtime.ts).
    const ops = createOpsRuntime({ config, logger, metrics: options.metrics, tracing: options.tracing, onVendorCall });
    closers.push(() => ops.close());
    const { tracing } = ops;
    // Concord's own writes to customer records are marked, so change polling does not report them again.
    const vendorPorts = markConcordWrites(createVendorPorts(config, simulators, ops.onVendorCall), events.coordination, echoTtlMs(config));
    const { crm: crmPort, billing: billingPort, erp: erpPort } = vendorPorts;

    const secret = config.subgraphSecret;
    const crm = await createCrmSubgraph({
      port: crmPort,
      vendors: { billing: billingPort.vendor, erp: erpPort.vendor },
      secret,
      logger,
      batch,
      tracing,
    }).listen(at(1), host);
    closers.push(() => crm.close());
    const billing = await createBillingSubgraph({ port: billingPort, secret, logger, batch, tracing }).listen(at(2), host);
    closers.push(() => billing.close());
    const erp = await createErpSubgraph({ port: erpPort, secret, logger, batch, tracing }).listen(at(3), host);
    closers.push(() => erp.close());
    const orchestration = await createOrchestrationRuntime({ config, ports: vendorPorts, logger, events: events.log, onRunChanged: ops.onRunChanged, tracing });
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
      tracing,
    }).listen(at(4), host);
    closers.push(() => orchestrationServer.close());

    const live = createEventsRuntime({ config, events, ports: vendorPorts, vendors: vendorEndpoints(config, simulators), logger });
    closers.push(() => live.close());

    const gateway = await createGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
      subgraphUrls: { crm: crm.url, billing: billing.url, erp: erp.url, orchestration: orchestrationServer.url },
      subgraphSecret: secret,
      ...securityOptionsFromConfig(config),
      logger,
      production: config.production,
      events: {
        log: events.log,
        webhooks: live.webhooks,
        maxConnectionsPerSubject: config.security.wsMaxConnectionsPerSubject,
        maxConnectionsPerAddress: config.security.wsMaxConnectionsPerAddress,
      },
      metrics: ops.metrics,
      metricsToken: config.observability.metricsToken,
      tracing,
    }).listen(ports === 'fixed' ? config.port : 0, host);
    closers.push(() => gateway.close());
    await live.start(gateway.url);

    return {
      gateway,
      subgraphs: { crm, billing, erp, orchestration: orchestrationServer },
      simulators,
      orchestration,
      events,
      stripeWebhookSecret: live.stripeWebhookSecret,
      metrics: ops.metrics,
      tracing,
      close: async () => {
        // Gateway first, simulators last: nothing is left calling a closed server.
        for (const close of closers.reverse()) await close();
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
