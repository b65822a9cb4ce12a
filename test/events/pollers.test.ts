/**
 * Change polling on Redis: Salesforce accounts by SystemModstamp, NetSuite customers and invoices by
 * lastmodifieddate, each with a durable high-water mark, one poller per feed across replicas, and
 * no event twice (a restarted poller, an overlapping window). The system runs with
 * CONCORD_WORKERS=0, so only the pollers under test poll.
 */
import { createRedisCoordination, type Coordination } from '../../core/events/coordination';
import type { BusinessEvent, EventLog } from '../../core/events/event-log';
import { createRedisEventLog } from '../../core/events/redis-log';
import { loadConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { markConcordWrites } from '../../subgraphs/events/echo';
import { runPoller, type ChangeFeed, type PollRound } from '../../subgraphs/events/poller';
import type { Ports } from '../../subgraphs/orchestration/steps';
import { SIMULATOR_CREDENTIALS, createVendorPorts, simulatedVendorSettings } from '../../system';
import { createVendorModules } from '../../vendors';
import { REDIS_URL } from '../helpers/redis';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { eventsPrefix, sleep } from './helpers';

describe('change pollers (redis)', () => {
  let system: TestSystem;
  let ports: Ports;
  let log: EventLog;
  const coordinations: Coordination[] = [];
  const keys = eventsPrefix('pollers');
  const logger = createLogger({ level: 'silent' });
  const coordination = () => {
    const c = createRedisCoordination({ url: REDIS_URL, prefix: keys.prefix });
    coordinations.push(c);
    return c;
  };

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_WORKERS: '0', CONCORD_POLL_INTERVAL_MS: '0' } });
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), system.simulators);
    log = createRedisEventLog({ url: REDIS_URL, prefix: keys.prefix });
  });
  afterAll(async () => {
    await log.close();
    for (const c of coordinations) await c.close();
    await system.close();
    await keys.cleanup();
  });

  /** Rounds a poller has finished, by outcome: the signal that it had its chance (no sleeping). */
  function roundCounter() {
    const counts: Record<PollRound, number> = { polled: 0, idle: 0, failed: 0 };
    return {
      counts,
      onRound: (outcome: PollRound) => void (counts[outcome] += 1),
      /** Resolves once `n` more rounds with outcome `outcome` than now have finished. */
      async more(n: number, outcome: PollRound = 'polled', timeoutMs = 30_000): Promise<void> {
        const target = counts[outcome] + n;
        const deadline = Date.now() + timeoutMs;
        while (counts[outcome] < target) {
          if (Date.now() > deadline) throw new Error(`only ${counts[outcome]} of ${target} ${outcome} rounds in ${timeoutMs} ms`);
          await sleep(20);
        }
      },
    };
  }

  /** Run `feed`'s poller (every 100 ms) while `body` runs. */
  async function polling<T>(feed: ChangeFeed, body: (rounds: ReturnType<typeof roundCounter>) => Promise<T>, c = coordination(), rounds = roundCounter()): Promise<T> {
    const controller = new AbortController();
    const running = runPoller({ feed, log, coordination: c, logger, intervalMs: 100, signal: controller.signal, onRound: rounds.onRound });
    try {
      await rounds.more(1); // the first round sets the mark at "now": history is not replayed
      return await body(rounds);
    } finally {
      controller.abort();
      await running;
    }
  }

  async function waitFor(predicate: (events: BusinessEvent[]) => BusinessEvent[], timeoutMs = 30_000): Promise<BusinessEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = predicate(await log.read(null, 10_000));
      if (found.length || Date.now() > deadline) return found;
      await sleep(50);
    }
  }

  it('turns Salesforce account changes into CUSTOMER_UPDATED / CUSTOMER_CREATED, once each', async () => {
    const [salesforceFeed] = createVendorModules(simulatedVendorSettings(loadConfig({ NODE_ENV: 'test' }), system.simulators)).changeFeeds;
    const feed = salesforceFeed;
    const accountId = '001Dn0000000005IAA';
    const updated = await polling(feed, async () => {
      await ports.crm.updateAccount(accountId, { status: 'Under Review' });
      return waitFor((events) => events.filter((e) => e.customerId === accountId && e.source === 'CRM'));
    });
    expect(updated).toHaveLength(1);
    expect(updated[0]).toMatchObject({ type: 'CUSTOMER_UPDATED', data: { status: 'Under Review' } });
    expect(updated[0].dedupeKey).toMatch(/^crm:Account:001Dn0000000005IAA:/);

    // A poller restarted elsewhere continues from the durable mark: nothing is appended twice.
    const mark = await coordination().getCheckpoint('poller:salesforce');
    expect(Date.parse(mark!)).toBeGreaterThanOrEqual(Date.parse(updated[0].occurredAt));
    const created = await polling(feed, async () => {
      const response = await fetch(`${system.simulators.salesforce!.url}/services/data/v62.0/sobjects/Account`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SIMULATOR_CREDENTIALS.salesforceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ Name: 'Polled New Co' }),
      });
      const { id } = (await response.json()) as { id: string };
      return waitFor((events) => events.filter((e) => e.customerId === id));
    });
    expect(created).toEqual([expect.objectContaining({ type: 'CUSTOMER_CREATED', source: 'CRM', data: expect.objectContaining({ name: 'Polled New Co' }) })]);
    expect((await log.read(null, 10_000)).filter((e) => e.customerId === accountId)).toHaveLength(1);
  });

  it("does not report again a change Concord made itself, and still reports others' changes", async () => {
    const [salesforceFeed] = createVendorModules(simulatedVendorSettings(loadConfig({ NODE_ENV: 'test' }), system.simulators)).changeFeeds;
    const shared = coordination();
    const concord = markConcordWrites(ports, shared, 30_000);
    const [ours, theirs] = ['001Dn0000000008IAA', '001Dn0000000009IAA'];
    const reported = await polling(salesforceFeed, async (rounds) => {
      await concord.crm.updateAccount(ours, { status: 'Written By Concord' }); // announced by its writer
      await ports.crm.updateAccount(theirs, { status: 'Edited In Salesforce' }); // someone else
      await waitFor((events) => events.filter((e) => e.customerId === theirs));
      await rounds.more(2); // more rounds, each of which saw both changes: the marked one stays unreported
      return (await log.read(null, 10_000)).filter((e) => e.customerId === ours || e.customerId === theirs);
    }, shared);
    expect(reported.map((e) => [e.customerId, e.data?.status])).toEqual([[theirs, 'Edited In Salesforce']]);
  });

  it('turns NetSuite credit holds and postings into events, with one poller across replicas', async () => {
    const [, netsuiteFeed] = createVendorModules(simulatedVendorSettings(loadConfig({ NODE_ENV: 'test' }), system.simulators)).changeFeeds;
    const feed = netsuiteFeed;
    const customerId = '001Dn0000000007IAA';
    const controller = new AbortController();
    // A second replica polls the same feed: the lease lets one of them work at a time.
    // One count of rounds for both: whichever holds the lease polls the feed.
    const rounds = roundCounter();
    const rival = runPoller({ feed, log, coordination: coordination(), logger, intervalMs: 100, signal: controller.signal, onRound: rounds.onRound });
    try {
      const found = await polling(feed, async () => {
        await ports.erp.setCreditHold(customerId, true, { correlationId: 'poll-test' });
        await ports.erp.postInvoice(
          {
            invoiceId: 'in_polltest0001',
            customerId,
            documentDate: new Date().toISOString().slice(0, 10),
            lines: [{ description: 'Polled line', quantity: 1, amount: { amount: '10.00', currency: 'USD' } }],
            tax: { amount: '0.00', currency: 'USD' },
            total: { amount: '10.00', currency: 'USD' },
          },
          { correlationId: 'poll-test' },
        );
        return waitFor((events) => {
          const mine = events.filter((e) => e.source === 'ERP' && e.customerId === customerId);
          return mine.some((e) => e.type === 'INVOICE_POSTED') && mine.some((e) => e.type === 'CUSTOMER_UPDATED') ? mine : [];
        });
      }, coordination(), rounds);
      expect(found.find((e) => e.type === 'CUSTOMER_UPDATED')).toMatchObject({ data: { creditHold: true } });
      expect(found.filter((e) => e.type === 'INVOICE_POSTED')).toEqual([expect.objectContaining({ invoiceId: 'in_polltest0001', dedupeKey: expect.stringMatching(/^erp:invoice-posted:/) })]);
      // Two more polls of the feed (the rival's, once the first poller stopped and released its
      // lease, or all along): still nothing twice.
      await rounds.more(2);
      const again = (await log.read(null, 10_000)).filter((e) => e.source === 'ERP' && e.customerId === customerId);
      expect(again.map((e) => e.id)).toEqual(found.map((e) => e.id));
    } finally {
      controller.abort();
      await rival;
    }
  });
});
