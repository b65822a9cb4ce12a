/**
 * Business Central's polled change feed (vendors/businesscentral/changes.ts) against its simulator:
 * the first poll starts from now; a posting and a credit hold made since come back as INVOICE_POSTED
 * and CUSTOMER_UPDATED with the canonical ids (case restored from BC's upper-cased Code fields),
 * in one $batch call per poll; a re-read inside the overlap keeps the same dedupe keys.
 */
import { buildSeed } from '../../simulators/common/seed';
import { businessCentralSeed } from '../../simulators/businesscentral/seed';
import { startBusinessCentralSimulator } from '../../simulators/businesscentral/server';
import type { SimServer } from '../../simulators/common/sim-server';
import { createBusinessCentralModule } from '../../vendors/businesscentral';
import { createMemoryCoordination } from '../../core/events/coordination';
import { createMemoryEventLog } from '../../core/events/memory-log';
import { createLogger } from '../../core/log';
import { markConcordWrites } from '../../subgraphs/events/echo';
import { runPoller } from '../../subgraphs/events/poller';
import type { Ports } from '../../subgraphs/orchestration/steps';

describe('Business Central change feed (polling lastModifiedDateTime)', () => {
  const seed = businessCentralSeed(buildSeed({ customers: 10 }));
  let sim: SimServer;
  let module: ReturnType<typeof createBusinessCentralModule>;
  const operations: string[] = [];

  beforeAll(async () => {
    sim = await startBusinessCentralSimulator({ seed, tenant: 'feed-tenant' });
    module = createBusinessCentralModule(
      { baseUrl: sim.url, tokenUrl: `${sim.url}/feed-tenant/oauth2/v2.0/token`, tenant: 'feed-tenant', environment: 'production', clientId: 'feed', clientSecret: 'feed' },
      { onCall: (call) => operations.push(call.operation) },
    );
  });
  afterAll(() => sim.close());

  it('reports a posting and a credit hold made since the mark, with canonical ids, in one call per poll', async () => {
    const first = await module.changeFeed.poll(null);
    expect(first.events).toEqual([]);
    const customer = seed.customers.find((c) => !c.creditHold)!;
    const invoiceId = 'in_FeedTest1Mixed';
    const correlation = { correlationId: 'feed-test' };
    const posting = await module.port.postInvoice(
      { invoiceId, customerId: customer.crmId, documentDate: new Date().toISOString().slice(0, 10), lines: [{ description: 'Plan', quantity: 1, amount: { amount: '100.00', currency: 'USD' } }], tax: { amount: '0.00', currency: 'USD' }, total: { amount: '100.00', currency: 'USD' } },
      correlation,
    );
    await module.port.setCreditHold(customer.crmId, true, correlation);

    operations.length = 0;
    const second = await module.changeFeed.poll(first.next);
    expect(operations.filter((o) => o !== 'oauth.token' && o !== 'companies.list')).toEqual(['changes.batch']);
    expect(second.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'INVOICE_POSTED', source: 'ERP', invoiceId, customerId: customer.crmId, dedupeKey: `erp:invoice-posted:${posting.internalId}` }),
        expect.objectContaining({ type: 'CUSTOMER_UPDATED', source: 'ERP', customerId: customer.crmId, data: expect.objectContaining({ creditHold: true }) }),
      ]),
    );
    expect(second.next > first.next).toBe(true);

    // Polled again from the same mark (a restart before the mark was saved): the same keys.
    const again = await module.changeFeed.poll(first.next);
    expect(again.events.map((e) => e.dedupeKey).sort()).toEqual(second.events.map((e) => e.dedupeKey).sort());
  });

  it("does not report again a credit hold Concord set itself, and still reports one set in BC by someone else", async () => {
    const log = createMemoryEventLog();
    const coordination = createMemoryCoordination();
    const concord = markConcordWrites({ crm: {}, erp: module.port } as unknown as Ports, coordination, 30_000);
    const [ours, theirs] = seed.customers.filter((c) => !c.creditHold).slice(1, 3);
    const controller = new AbortController();
    const poller = runPoller({ feed: module.changeFeed, log, coordination, logger: createLogger({ level: 'silent' }), intervalMs: 100, signal: controller.signal });
    try {
      // The first round sets the mark at "now"; changes after it are the ones polled.
      const deadline = Date.now() + 30_000;
      while (!(await coordination.getCheckpoint('poller:businesscentral'))) {
        if (Date.now() > deadline) throw new Error('the poller never ran');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await concord.erp.setCreditHold(ours.crmId, true, { correlationId: 'echo' });
      await module.port.setCreditHold(theirs.crmId, true, { correlationId: 'someone-else' }); // unmarked: as if by a BC user
      const seen = async () => (await log.read(null, 1000)).filter((e) => e.type === 'CUSTOMER_UPDATED');
      while (!(await seen()).some((e) => e.customerId === theirs.crmId)) {
        if (Date.now() > deadline) throw new Error('the change by someone else was never reported');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Ours was made first: the poll that reported theirs had read it too, and skipped it.
      expect((await seen()).map((e) => e.customerId).filter((id) => id === ours.crmId || id === theirs.crmId)).toEqual([theirs.crmId]);
    } finally {
      controller.abort();
      await poller;
    }
  });
});
