/**
 * `opsOverview`, the ops console's query, through the gateway: who may read it, and what it says
 * after a completed run, a dead-lettered one and some traffic (runs per status, backlog lanes,
 * vendor consumption against limits, failure hotspots, failed vendor calls, the sampled timeline).
 */
import { mintToken } from '../../gateway/token';
import { readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { TEST_JWT_SECRET, simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { until } from './helpers';

const OVERVIEW = `query Overview {
  opsOverview {
    generatedAt sampleIntervalSeconds deadLetters
    runs { status count }
    backlog { system waiting active delayed }
    vendors { system vendor callsLastMinute errorsLastMinute rateLimitedLastMinute p95LatencyMs callsTotal limit { kind used max source } }
    hotspots { step system vendor code openDeadLetters failedAttempts lastSeenAt }
    vendorErrors { vendor operation status calls }
    timeline(minutes: 5) { at requestsPerSecond errorsPerSecond latencyP50Ms latencyP95Ms vendorCallsPerSecond runsCompleted runsDeadLettered backlog deadLetters }
    lastMinute { requestsPerSecond latencyP95Ms vendorCallsPerSecond runsCompleted runsDeadLettered }
  }
}`;

describe('opsOverview', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_OPS_SAMPLE_MS: '200', CONCORD_POLL_INTERVAL_MS: '0' } });
    const [good, bad] = await readyOpportunities(system.simulators.salesforce!.url);
    expect((await waitForRun(system, (await startRun(system, good.id, `overview-${good.id}`)).body.data.startOrderToCash.id)).status).toBe('COMPLETED');
    await simCall(system.simulators.netsuite!.url, 'periods', { closed: [new Date().toISOString().slice(0, 7)] });
    try {
      expect((await waitForRun(system, (await startRun(system, bad.id, `overview-${bad.id}`)).body.data.startOrderToCash.id)).status).toBe('DEAD_LETTERED');
    } finally {
      await simCall(system.simulators.netsuite!.url, 'periods', { closed: [] });
    }
  });
  afterAll(async () => system?.close());

  it('needs ops:read, and is not for customer portals', async () => {
    const reader = await mintToken({ secret: TEST_JWT_SECRET, subject: 'sales', scopes: ['customers:read', 'orders:write'] });
    const denied = await system.gql('{ opsOverview { deadLetters } }', {}, { authorization: `Bearer ${reader}` });
    expect(denied.status).toBe(403);
    expect(denied.body.errors![0].extensions.code).toBe('FORBIDDEN');
    const portal = await mintToken({ secret: TEST_JWT_SECRET, subject: 'portal', scopes: ['ops:read'], customerId: '001Dn0000000001IAA' });
    const fromPortal = await system.gql('{ opsOverview { deadLetters } }', {}, { authorization: `Bearer ${portal}` });
    expect(fromPortal.body.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const operator = await mintToken({ secret: TEST_JWT_SECRET, subject: 'operator', scopes: ['ops:read'] });
    const allowed = await system.gql('{ opsOverview { deadLetters } }', {}, { authorization: `Bearer ${operator}` });
    expect(allowed.body).toEqual({ data: { opsOverview: { deadLetters: 1 } } });
  });

  it('reports runs, backlog, vendor limits, hotspots and failed vendor calls', async () => {
    const { body } = await system.gql(OVERVIEW);
    expect(body.errors).toBeUndefined();
    const o = body.data.opsOverview;
    expect(o.sampleIntervalSeconds).toBe(0.2);
    expect(Object.fromEntries(o.runs.map((r: any) => [r.status, r.count]))).toMatchObject({ COMPLETED: 1, DEAD_LETTERED: 1, RUNNING: 0 });
    expect(o.deadLetters).toBe(1);
    expect(o.backlog.map((l: any) => l.system).sort()).toEqual(['BILLING', 'CRM', 'ERP']);

    const vendors = Object.fromEntries(o.vendors.map((v: any) => [v.vendor, v]));
    expect(vendors.salesforce).toMatchObject({ system: 'CRM', limit: { kind: 'DAILY_REQUESTS', max: 15000 } });
    expect(vendors.salesforce.limit.used).toBeGreaterThan(0);
    expect(vendors.stripe).toMatchObject({ system: 'BILLING', limit: { kind: 'REQUESTS_PER_SECOND', max: 25 } });
    expect(vendors.netsuite).toMatchObject({ system: 'ERP', limit: { kind: 'CONCURRENT_REQUESTS', max: 5 } });
    for (const v of o.vendors) {
      expect(v.callsLastMinute).toBeGreaterThan(0);
      expect(v.callsTotal).toBeGreaterThanOrEqual(v.callsLastMinute);
      expect(v.p95LatencyMs).toBeGreaterThan(0);
    }

    expect(o.hotspots[0]).toMatchObject({ step: 'erpPosting', system: 'ERP', vendor: 'netsuite', code: 'PERIOD_CLOSED', openDeadLetters: 1, failedAttempts: 1 });
    expect(Date.parse(o.hotspots[0].lastSeenAt)).toBeGreaterThan(Date.now() - 60_000);
    // The refused posting is a failed vendor call (a 404 lookup would not be).
    expect(o.vendorErrors).toContainEqual({ vendor: 'netsuite', operation: 'invoice.upsert', status: 400, calls: 1 });
    expect(o.vendorErrors.every((e: any) => e.status !== 404)).toBe(true);
  });

  it('samples the traffic into a timeline, and sums the last minute', async () => {
    for (let i = 0; i < 5; i++) await system.gql('query Traffic { customers(first: 3) { edges { node { id } } } }');
    const o = await until('a timeline with traffic', async () => {
      const { body } = await system.gql(OVERVIEW);
      const overview = body.data.opsOverview;
      return overview.timeline.length >= 3 && overview.lastMinute.requestsPerSecond > 0 ? overview : null;
    });
    const times = o.timeline.map((s: any) => Date.parse(s.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(o.timeline.some((s: any) => s.requestsPerSecond > 0 && s.latencyP95Ms > 0)).toBe(true);
    expect(o.timeline[o.timeline.length - 1].deadLetters).toBe(1);
    // Both runs settled within the minute, after the first reading.
    expect(o.lastMinute).toMatchObject({ runsCompleted: 1, runsDeadLettered: 1 });
    expect(o.lastMinute.latencyP95Ms).toBeGreaterThan(0);
    expect(o.lastMinute.vendorCallsPerSecond).toBeGreaterThan(0);
  });
});
