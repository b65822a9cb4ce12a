/**
 * The entity cache's figures for bench:unified-view (bench/unified-view.ts): vendor calls of the
 * unified view cold, warm, and right after a change made in each vendor behind Concord's back,
 * with the staleness measured (from the change until the view shows it).
 *
 * Behind Concord's back: the change is made with an adapter of the bench's own against the
 * simulator (the vendor's SDK or API under it), which Concord is not told of; Concord learns of it
 * as it would of a person's change in the vendor's UI: the billing system's webhook (Stripe,
 * Chargebee) or a poll of the CRM or ERP change feed.
 *
 * Counting: a simulator counts every request it gets, so the change itself and the change polls
 * are counted by the bench (the pollers run here, on Concord's event log and coordination, with
 * their vendor calls counted, at --poll-ms like Concord's CONCORD_POLL_INTERVAL_MS) and taken off
 * the simulators' counts: what is left are the view's own calls.
 */
import Stripe from 'stripe';
import { loadConfig, type ConcordConfig } from '../core/config';
import { createLogger } from '../core/log';
import type { VendorCall } from '../core/vendor-call';
import { SCOPES, mintToken } from '../gateway/token';
import { buildSeed } from '../simulators/common/seed';
import { runPoller } from '../subgraphs/events/poller';
import { SIMULATOR_CREDENTIALS, simulatedVendorSettings, startSystem } from '../system';
import { createVendorModules } from '../vendors';
import { createChargebeeClient } from '../vendors/chargebee/client';

export interface CacheFigureOptions {
  secret: string;
  query: string;
  customers: number;
  rounds: number;
  /** Change polling interval, ms. */
  pollMs: number;
}

type Counts = Record<string, number>;

/**
 * A subscription item's quantity changed in the billing system with the vendor's own SDK, as
 * someone in its dashboard would: not through Concord's port, whose amendments carry Concord's
 * amendment id and are announced by Concord itself (the webhook's echo of them is dropped).
 */
async function changeQuantityBehindTheBack(config: ConcordConfig, billingUrl: string, contractId: string, quantity: (current: number) => number, onCall: (call: VendorCall) => void): Promise<void> {
  const url = new URL(billingUrl);
  if (config.vendors.billing === 'stripe') {
    const stripe = new Stripe(SIMULATOR_CREDENTIALS.stripeKey, { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 });
    const item = (await stripe.subscriptions.retrieve(contractId)).items.data[0];
    await stripe.subscriptions.update(contractId, { items: [{ id: item.id, quantity: quantity(item.quantity ?? 1) }], proration_behavior: 'none' });
    onCall({ system: 'BILLING', vendor: 'stripe', operation: 'subscriptions.retrieve', status: 200, durationMs: 0 });
    onCall({ system: 'BILLING', vendor: 'stripe', operation: 'subscriptions.update', status: 200, durationMs: 0 });
    return;
  }
  if (config.vendors.billing === 'chargebee') {
    const { site, apiKey } = SIMULATOR_CREDENTIALS.chargebee;
    const cb = createChargebeeClient({ site, apiKey, baseUrl: billingUrl, onCall });
    const { subscription } = await cb.subscription.retrieve(contractId);
    const items = (subscription.subscription_items ?? []).map((i: any, n: number) => ({ item_price_id: i.item_price_id, quantity: n === 0 ? quantity(i.quantity ?? 1) : i.quantity }));
    await cb.subscription.updateForItems(contractId, { subscription_items: items, replace_items_list: true, prorate: false });
    return;
  }
  throw new Error(`no behind-the-back change for billing vendor ${config.vendors.billing}`);
}
const sum = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);
const show = (c: Counts) => `${sum(c).toFixed(1).padStart(5)} (${Object.entries(c).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(1)}`).join(' ')})`;

export async function cacheFigures(options: CacheFigureOptions): Promise<void> {
  const { secret, query, customers, rounds, pollMs } = options;
  const choice = Object.fromEntries(['CONCORD_CRM', 'CONCORD_BILLING', 'CONCORD_ERP'].filter((name) => process.env[name]).map((name) => [name, process.env[name]!]));
  // Concord's own pollers off: the bench runs them (below) so that their calls can be told apart.
  const config = loadConfig({ CONCORD_JWT_SECRET: secret, NODE_ENV: 'test', CONCORD_POLL_INTERVAL_MS: '0', ...choice });
  const logger = createLogger({ level: 'silent' });
  const system = await startSystem({ config, logger, ports: 'ephemeral', seed: buildSeed({ customers }) });
  const controller = new AbortController();
  const pollers: Promise<void>[] = [];
  try {
    const sims = Object.entries(system.simulators) as [string, NonNullable<(typeof system.simulators)[keyof typeof system.simulators]>][];
    // Calls that are not the view's: the bench's change and its pollers, by vendor.
    const side: Counts = {};
    const countSide = (call: VendorCall) => {
      side[call.vendor] = (side[call.vendor] ?? 0) + 1;
    };
    const outside = createVendorModules(simulatedVendorSettings(config, system.simulators), { onCall: countSide });
    for (const feed of outside.changeFeeds) {
      pollers.push(runPoller({ feed, log: system.events.log, coordination: system.events.coordination, logger, intervalMs: pollMs, signal: controller.signal }));
    }
    const snapshot = (): Counts => Object.fromEntries(sims.map(([name, sim]) => [name, sim.stats().requests - (side[name] ?? 0)]));
    const since = (before: Counts): Counts => {
      const now = snapshot();
      return Object.fromEntries(Object.keys(now).map((k) => [k, now[k] - before[k]]));
    };

    const token = await mintToken({ secret, subject: 'bench', scopes: SCOPES });
    const view = async (): Promise<any[]> => {
      const response = await fetch(`${system.gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables: { first: customers } }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      if (body.errors || body.data?.customers.edges.length !== customers) throw new Error(`bad response: ${JSON.stringify(body.errors ?? 'wrong count').slice(0, 300)}`);
      return body.data.customers.edges.map((e: any) => e.node);
    };

    let before = snapshot();
    const first = await view();
    const cold = since(before);
    before = snapshot();
    for (let i = 0; i < rounds; i++) await view();
    const warm = Object.fromEntries(Object.entries(since(before)).map(([k, v]) => [k, v / rounds]));

    console.log(`entity cache, ${customers} customers (CONCORD_ENTITY_CACHE_TTL_S ${config.entityCache.ttlSeconds}, change polling every ${pollMs} ms)`);
    console.log(`  cold view                              vendor calls ${show(cold)}`);
    console.log(`  warm view (${rounds} requests)                vendor calls ${show(warm)}`);

    /** Make a change, then read the view until it shows: staleness, and the calls of the view that first showed it. */
    const afterChange = async (label: string, change: () => Promise<void>, shows: (nodes: any[]) => boolean) => {
      await change();
      const changedAt = performance.now();
      const deadline = Date.now() + 120_000;
      let reads = 0;
      for (;;) {
        const start = snapshot();
        const nodes = await view();
        reads += 1;
        if (shows(nodes)) {
          const staleness = performance.now() - changedAt;
          console.log(`  after ${label.padEnd(32)} vendor calls ${show(since(start))}  staleness ${(staleness / 1000).toFixed(2)} s (${reads} reads)`);
          return;
        }
        if (Date.now() > deadline) throw new Error(`${label}: not visible after 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    // ERP: a credit hold set in the ERP (polled change feed).
    const erpTarget = first.find((n) => n.erp && !n.erp.creditHold);
    if (erpTarget) {
      await afterChange(
        `${config.vendors.erp} credit hold`,
        async () => void (await outside.ports.erp.setCreditHold(erpTarget.id, true, { correlationId: 'bench-behind-the-back' })),
        (nodes) => nodes.find((n) => n.id === erpTarget.id)?.erp?.creditHold === true,
      );
    }
    // Billing: a contract's quantity changed in the billing system (webhook).
    const billingTarget = first.find((n) => n.contracts?.some((c: any) => c.status === 'ACTIVE' && c.items.length > 0));
    const billingSim = system.simulators.stripe ?? system.simulators.chargebee;
    if (billingTarget && billingSim) {
      const contract = billingTarget.contracts.find((c: any) => c.status === 'ACTIVE' && c.items.length > 0);
      const quantities = (nodes: any[]) => (nodes.find((n) => n.id === billingTarget.id)?.contracts?.find((c: any) => c.id === contract.id)?.items ?? []).map((i: any) => i.quantity).join(',');
      const was = quantities(first);
      await afterChange(
        `${config.vendors.billing} quantity`,
        () => changeQuantityBehindTheBack(config, billingSim.url, contract.id, (q) => q + 1, countSide),
        (nodes) => quantities(nodes) !== was,
      );
    }
    // CRM: an account renamed in the CRM (the list is read from the CRM on every view).
    const crmTarget = first[1];
    const renamed = `${crmTarget.name} (renamed)`;
    await afterChange(
      `${config.vendors.crm} account name`,
      async () => void (await outside.ports.crm.updateAccount(crmTarget.id, { name: renamed, correlationId: 'bench-behind-the-back' })),
      (nodes) => nodes.find((n) => n.id === crmTarget.id)?.name === renamed,
    );
  } finally {
    controller.abort();
    await Promise.all(pollers);
    await system.close();
  }
}
