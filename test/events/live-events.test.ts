/**
 * Live events end to end on Redis, through the gateway's graphql-ws endpoint (docs/api.md,
 * "Subscription"): run progress with federated fields, resuming from a cursor after a disconnect,
 * the payment-failure reaction seen through customerEvents, and two gateway processes on one Redis.
 * The run stream and the payment-failure reaction also run on every other vendor combination.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BusinessEvent } from '../../core/events/event-log';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { REDIS_URL } from '../helpers/redis';
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { eventsPrefix, postStripeWebhook, stripeEvent, subscribe, wsClient } from './helpers';
import type { Client } from 'graphql-ws';
import { OTHER_COMBINATIONS, vendorsOf, type VendorLenses } from '../helpers/combinations';

const ROOT = path.resolve(__dirname, '../..');
const SUBGRAPH_SECRET = 'live-events-test-subgraph-secret-0123456789';

const RUN_UPDATES = `subscription Run($id: ID!) {
  orderToCashRunUpdated(runId: $id) {
    id status updatedAt
    steps { name status attempts }
    customer { name erp { customerNumber } }
  }
}`;

describe('live events (redis)', () => {
  let system: TestSystem;
  let opportunities: { id: string; accountId: string }[];
  const keys = eventsPrefix('live');
  const clients: { dispose(): void | Promise<void> }[] = [];
  const client = () => {
    const c = wsClient(system.gateway.url, system.token);
    clients.push(c);
    return c;
  };

  const context = (): LiveContext => ({ system, vendors: vendorsOf(system), opportunities, client });

  beforeAll(async () => {
    system = await startTestSystem({
      env: { REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_POLL_INTERVAL_MS: '0', CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET },
    });
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await simCall(system.simulators.netsuite!.url, 'reset', {});
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('streams every step of a run through COMPLETED, with fields of the CRM and the ERP', () => streamsEveryStep(context()));

  it('resumes after a disconnect from the last event id seen: the exact rest, no gap, no duplicate', async () => {
    await simCall(system.simulators.netsuite!.url, 'faults', { latencyMs: 100 });
    const opp = opportunities.shift()!;
    const head = (await system.events.log.head()) ?? '0-0';
    const query = `subscription Mine($customer: ID!, $after: String) {
      customerEvents(customerId: $customer, after: $after) { id type detail run { id } }
    }`;
    const first = client();
    const before = subscribe(first, query, { customer: opp.accountId, after: head });
    const started = await startRun(system, opp.id, `live-resume-${opp.id}`);
    const runId = started.body.data.startOrderToCash.id as string;
    await before.until((p) => p.length >= 3);
    await first.dispose(); // the socket goes away mid-run
    const seen = before.payloads.map((p) => p.data.customerEvents);
    const lastSeen = seen[seen.length - 1].id;

    await waitForRun(system, runId); // the run goes on while nobody listens
    const after = subscribe(client(), query, { customer: opp.accountId, after: lastSeen });
    const completed = (p: any[]) =>
      p.some((x) => x.data?.customerEvents.type === 'RUN_STATUS_CHANGED' && JSON.parse(x.data.customerEvents.detail).status === 'COMPLETED');
    await after.until(completed);
    const resumed = after.payloads.map((p) => p.data.customerEvents);

    const expected = (await system.events.log.read(head, 10_000)).filter((e) => e.customerId === opp.accountId).map((e) => e.id);
    const received = [...seen, ...resumed].map((e) => e.id);
    expect(new Set(received).size).toBe(received.length);
    expect(received).toEqual(expected.slice(0, received.length));
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.some((e) => e.run?.id === runId)).toBe(true);
  });

  it('puts a customer on credit hold in the ERP and the CRM when a payment fails, seen through customerEvents', () => paymentFailureReaction(context()));

  describe('with a second gateway process on the same Redis', () => {
    let replica: ChildProcess;
    let replicaUrl: string;

    beforeAll(async () => {
      replica = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'gateway-main.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'test',
          REDIS_URL,
          CONCORD_REDIS_PREFIX: keys.prefix,
          CONCORD_JWT_SECRET: 'concord-test-secret-0123456789abcdef',
          CONCORD_SUBGRAPH_SECRET: SUBGRAPH_SECRET,
          CONCORD_TEST_SUBGRAPH_URLS: JSON.stringify(Object.fromEntries(Object.entries(system.subgraphs).map(([name, s]) => [name, s.url]))),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      replicaUrl = await new Promise<string>((resolve, reject) => {
        const lines = createInterface({ input: replica.stdout! });
        lines.on('line', (line) => {
          const match = /^ready (\S+)/.exec(line);
          if (match) resolve(match[1]);
        });
        replica.once('exit', (code) => reject(new Error(`gateway replica exited with ${code}`)));
      });
    }, 30_000);
    afterAll(async () => {
      if (replica.exitCode === null) {
        await new Promise<void>((resolve) => {
          replica.once('exit', () => resolve());
          replica.kill('SIGTERM');
        });
      }
    });

    it('delivers a webhook ingested by one gateway to a subscriber of the other', async () => {
      const query = `subscription Finalized($after: String) {
        businessEvents(types: [INVOICE_FINALIZED], after: $after) { id type invoice { id status total { amount } } customer { name } }
      }`;
      const onReplica = wsClient(replicaUrl, system.token);
      const onPrimary = client();
      clients.push(onReplica);
      const head = (await system.events.log.head()) ?? '0-0';
      const there = subscribe(onReplica, query, { after: head });
      const here = subscribe(onPrimary, query, { after: head });

      const state = await simCall(system.simulators.stripe!.url, 'state');
      const invoice = state.invoices.find((i: any) => i.status === 'open' && i.parent?.subscription_details);
      const delivered = await postStripeWebhook(system.gateway.url, stripeEvent('invoice.finalized', invoice), system.stripeWebhookSecret!);
      expect(delivered.status).toBe(200);

      const [remote, local] = await Promise.all([there.until((p) => p.length >= 1), here.until((p) => p.length >= 1)]);
      expect(remote[0]).toEqual(local[0]);
      expect(remote[0].data.businessEvents).toMatchObject({
        id: delivered.body.id,
        type: 'INVOICE_FINALIZED',
        invoice: { id: invoice.id, status: 'OPEN', total: { amount: expect.any(String) } },
        customer: { name: expect.any(String) },
      });
    });
  });
});

/**
 * The run stream and the payment-failure reaction on every other vendor combination
 * (test/helpers/combinations.ts): the same subscriptions, the same events, whichever vendors.
 */
describe.each(OTHER_COMBINATIONS)('live events on $name (redis)', ({ name, env }) => {
  let system: TestSystem;
  let opportunities: { id: string; accountId: string }[];
  const keys = eventsPrefix(`live-${name.replace(/\W/g, '')}`);
  const clients: { dispose(): void | Promise<void> }[] = [];
  const client = () => {
    const c = wsClient(system.gateway.url, system.token);
    clients.push(c);
    return c;
  };
  const context = (): LiveContext => ({ system, vendors: vendorsOf(system), opportunities, client });

  beforeAll(async () => {
    system = await startTestSystem({ env: { ...env, REDIS_URL, CONCORD_REDIS_PREFIX: keys.prefix, CONCORD_POLL_INTERVAL_MS: '0' } });
    opportunities = await readyOpportunities(vendorsOf(system).crm.url);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await simCall(vendorsOf(system).erp.url, 'reset', {});
  });
  afterAll(async () => {
    await system.close();
    await keys.cleanup();
  });

  it('streams every step of a run through COMPLETED, with fields of the CRM and the ERP', () => streamsEveryStep(context()));
  it('puts a customer on credit hold in the ERP and the CRM when a payment fails, seen through customerEvents', () => paymentFailureReaction(context()));
});

interface LiveContext {
  system: TestSystem;
  vendors: VendorLenses;
  opportunities: { id: string; accountId: string }[];
  client(): Client;
}

/** Every RUN_STATUS_CHANGED of a run in the log, oldest first. */
async function runEvents(system: TestSystem, runId: string): Promise<BusinessEvent[]> {
  return (await system.events.log.read(null, 10_000)).filter((e) => e.type === 'RUN_STATUS_CHANGED' && e.runId === runId);
}

async function streamsEveryStep({ system, vendors, opportunities, client }: LiveContext): Promise<void> {
  // Slow the ERP so that the subscription is in place before the run's first ERP step ends.
  await simCall(vendors.erp.url, 'faults', { latencyMs: 400 });
  const opp = opportunities.shift()!;
  const started = await startRun(system, opp.id, `live-steps-${opp.id}`);
  const runId = started.body.data.startOrderToCash.id as string;
  const sub = subscribe(client(), RUN_UPDATES, { id: runId });
  const payloads = await sub.until((p) => p.some((x) => x.data?.orderToCashRunUpdated.status === 'COMPLETED'));
  expect(payloads.every((p) => p.errors === undefined)).toBe(true);
  const runs = payloads.map((p) => p.data.orderToCashRunUpdated);

  // Exactly the run's changes in the log, from its state when we subscribed: none missed, none twice.
  const logged = await runEvents(system, runId);
  const fromSubscription = logged.slice(logged.findIndex((e) => e.state!.updatedAt === runs[0].updatedAt && e.state!.status === runs[0].status));
  const stepsOf = (steps: { status: string }[]) => steps.map((s) => s.status).join(',');
  expect(runs.map((r) => [r.status, stepsOf(r.steps)])).toEqual(
    fromSubscription.map((e) => [e.state!.status, stepsOf(e.state!.steps as { status: string }[])]),
  );
  // Each step from the first ERP one on was seen running, then succeeded; the end is COMPLETED.
  for (const name of ['erpCustomer', 'billingCustomer', 'contract', 'invoice', 'erpPosting', 'crmWriteBack']) {
    const running = runs.findIndex((r) => r.steps.find((s: any) => s.name === name).status === 'RUNNING');
    const done = runs.findIndex((r) => r.steps.find((s: any) => s.name === name).status === 'SUCCEEDED');
    expect({ name, running: running >= 0, before: running < done }).toEqual({ name, running: true, before: true });
  }
  expect(runs[runs.length - 1]).toMatchObject({ id: runId, status: 'COMPLETED' });
  expect(runs[runs.length - 1].steps.every((s: any) => s.status === 'SUCCEEDED')).toBe(true);
  // Federated fields, resolved per event through the query plan: CRM name, ERP customer number.
  for (const run of runs) expect(run.customer).toEqual({ name: expect.any(String), erp: { customerNumber: expect.stringMatching(/\S/) } });
  sub.stop();
  }

/**
 * A failed payment puts the customer on credit hold in the ERP and the CRM (the account status
 * reaction), announced through customerEvents; paying the invoice releases the hold.
 */
async function paymentFailureReaction({ system, vendors, client }: LiveContext): Promise<void> {
  const [billing, erp, crm] = await Promise.all([vendors.billing.read(), vendors.erp.read(), simCall(vendors.crm.url, 'state')]);
  const now = Date.now() / 1000;
  const overdue = (i: { status: string; dueDate: number | null }) => i.status === 'open' && i.dueDate !== null && i.dueDate < now;
  // An open invoice of a customer in all three systems, not on hold, with nothing overdue.
  const invoice = billing.invoices().find((i) => {
  if (i.status !== 'open' || !i.customerId || overdue(i) || i.total <= 0) return false;
  if (billing.invoices().some((o) => o.vendorCustomerId === i.vendorCustomerId && overdue(o))) return false;
  const account = crm.Account.find((a: any) => a.Id === i.customerId);
  const [held] = erp.customersLinkedTo(i.customerId);
  return account && account.Concord_Status__c !== 'Credit Hold' && held && !held.creditHold && held.holdIsAutomatic;
  });
  expect(invoice).toBeDefined();
  const customerId = invoice!.customerId!;

  const head = (await system.events.log.head()) ?? '0-0'; // subscribe from here: nothing after it is missed
  const sub = subscribe(client(), `subscription Account($id: ID!, $after: String) {
  customerEvents(customerId: $id, after: $after) { id type detail invoice { id status } customer { id name erp { creditHold } } }
  }`, { id: customerId, after: head });

  await vendors.billing.failPayment(invoice!.id);
  const held = await sub.until((p) => p.some((x) => x.data?.customerEvents.type === 'ACCOUNT_STATUS_CHANGED'));
  const events = held.map((p) => p.data.customerEvents);
  expect(events.find((e) => e.type === 'PAYMENT_FAILED')).toMatchObject({ invoice: { id: invoice!.id, status: 'OPEN' } });
  const status = events.find((e) => e.type === 'ACCOUNT_STATUS_CHANGED');
  expect(status).toMatchObject({ customer: { id: customerId, erp: { creditHold: true } } });
  expect(JSON.parse(status.detail)).toMatchObject({ creditHold: true, status: 'Credit Hold', reason: 'PAYMENT_FAILED' });
  const [crmHeld, erpHeld] = await Promise.all([simCall(vendors.crm.url, 'state'), vendors.erp.read()]);
  expect(crmHeld.Account.find((a: any) => a.Id === customerId).Concord_Status__c).toBe('Credit Hold');
  expect(erpHeld.customersLinkedTo(customerId).map((c) => c.creditHold)).toEqual([true]);

  // Paid: nothing overdue any more, so the hold is released and that is announced too.
  await vendors.billing.pay(invoice!.id);
  const released = await sub.until((p) => p.filter((x) => x.data?.customerEvents.type === 'ACCOUNT_STATUS_CHANGED').length >= 2);
  const last = released.map((p) => p.data.customerEvents).filter((e) => e.type === 'ACCOUNT_STATUS_CHANGED')[1];
  expect(last).toMatchObject({ customer: { erp: { creditHold: false } } });
  expect(JSON.parse(last.detail)).toMatchObject({ creditHold: false, status: 'Active', reason: 'INVOICE_PAID' });
  const crmReleased = await simCall(vendors.crm.url, 'state');
  expect(crmReleased.Account.find((a: any) => a.Id === customerId).Concord_Status__c).toBe('Active');
  sub.stop();
}
