import { Client } from '@hubspot/api-client';
import { buildSeed } from './simulators/common/seed';
import { createHubSpotSimulator } from './simulators/hubspot/server';
(async () => {
  const sim = await createHubSpotSimulator({ seed: buildSeed() }).listen(0);
  const sdk = new Client({ accessToken: 'pat-na1-00000000-0000', basePath: sim.url, middleware: [{ pre(c: any) { console.log('pre'); return c; }, post(c: any) { console.log('post', c.httpStatusCode); return c; } }] });
  const r = await sdk.crm.objects.batchApi.read('companies', { inputs: [{ id: '3100000001' }], properties: [], propertiesWithHistory: [] });
  console.log(r.results.length);
  const r2 = await sdk.crm.companies.batchApi.read({ inputs: [{ id: '3100000001' }], properties: [], propertiesWithHistory: [] });
  console.log(r2.results.length);
  await sim.close();
})();
