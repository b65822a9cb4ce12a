/**
 * The error contract where a vendor is slow: a subgraph that does not answer within the gateway's
 * subgraph timeout is VENDOR_UNAVAILABLE, naming the system and retryable (not a bare INTERNAL),
 * through the gateway of a real system whose Salesforce simulator is made slow.
 */
import { simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { buildSeed } from '../../simulators/common/seed';

const customer = buildSeed().customers[1];

describe('error contract: a slow vendor', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_SUBGRAPH_TIMEOUT_MS: '1000', CONCORD_POLL_INTERVAL_MS: '0' } });
  }, 60_000);
  afterAll(() => system?.close());

  it('answers VENDOR_UNAVAILABLE with system and retryable when the CRM outlasts the subgraph timeout', async () => {
    await simCall(system.simulators.salesforce!.url, 'faults', { rate: 0, latencyMs: 4000 });
    try {
      const { status, body } = await system.gql(`query($id: ID!) { customer(id: $id) { name } }`, { id: customer.crmId });
      expect(status).toBe(200);
      expect(body.data?.customer ?? null).toBeNull();
      expect(body.errors![0].extensions).toMatchObject({ code: 'VENDOR_UNAVAILABLE', system: 'CRM', retryable: true, correlationId: expect.any(String) });
    } finally {
      await simCall(system.simulators.salesforce!.url, 'reset', {});
    }
    const after = await system.gql(`query($id: ID!) { customer(id: $id) { name } }`, { id: customer.crmId });
    expect(after.body.data.customer.name).toBe(customer.name);
  });
});
