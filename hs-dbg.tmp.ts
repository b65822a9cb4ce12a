import { buildSeed } from './simulators/common/seed';
import { createHubSpotSimulator } from './simulators/hubspot/server';
import { createHubSpotClient } from './vendors/hubspot/client';
(async () => {
  const sim = await createHubSpotSimulator({ seed: buildSeed() }).listen(0);
  const client = createHubSpotClient({ baseUrl: sim.url, accessToken: 'pat-na1-00000000-0000-0000-0000-000000000000', onCall: (c) => console.log('call', c) });
  const r = await client.call('x', async () => await client.sdk.crm.objects.batchApi.read("companies", { inputs: [{ id: "3100000001" }], properties: [], propertiesWithHistory: [] }, undefined, client.callOptions));
  console.log(r.results.length);
  await sim.close();
})();
