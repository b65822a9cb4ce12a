import { startTestSystem, type TestSystem } from '../helpers/system';

describe('gateway readiness', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(() => system.close());

  it('turns not ready (503) when a subgraph stops answering, while /health stays 200', async () => {
    expect((await fetch(`${system.gateway.url}/ready`)).status).toBe(200);
    await system.subgraphs.erp.close();
    const ready = await fetch(`${system.gateway.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, subgraphs: { crm: 'up', billing: 'up', erp: expect.stringMatching(/^down/) } });
    expect((await fetch(`${system.gateway.url}/health`)).status).toBe(200);
  });
});
