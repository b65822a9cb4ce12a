import { buildSeed } from './simulators/common/seed';
import { createHubSpotSimulator } from './simulators/hubspot/server';
import { createHubSpotAdapter } from './vendors/hubspot/adapter';
(async () => {
  const sim = await createHubSpotSimulator({ seed: buildSeed() }).listen(0);
  const port = createHubSpotAdapter({ baseUrl: sim.url, accessToken: 'pat-na1-00000000-0000-0000-0000-000000000000' });
  try {
    const page = await port.listAccounts({ first: 3 });
    console.log(JSON.stringify(page, null, 1).slice(0, 800));
    const accs = await port.getAccounts(['3100000001', '3100000006', '3199999999']);
    console.log([...accs.values()]);
    const byAcc = await port.getOpportunitiesByAccount(['3100000002', '3199999999']);
    console.log(JSON.stringify([...byAcc]).slice(0, 1500));
    const lines = await port.getOpportunityLines(['4100000001']);
    console.log(JSON.stringify([...lines]));
    await port.updateOpportunity('4100000001', { orderStatus: 'Posted' });
    console.log(await port.upsertAccountByKey('key-1', { name: 'New Co', domain: 'new.example.com', parentId: '3100000001' }));
    console.log(await port.upsertAccountByKey('key-1', { name: 'New Co', domain: 'new.example.com', parentId: null }));
    console.log(await port.findAccountByKey('key-1'));
    console.log(await port.findAccountCandidates({ nameTokens: ['acme'], domain: null }));
    console.log(await port.listContracts({ first: 2 }));
    await port.ping();
    console.log(await port.getAccounts(['3100000001']).then(m=>m.size));
  } catch (e) { console.error('ERR', e); }
  console.log(await (await fetch(sim.url + '/__sim/stats')).json());
  await sim.close();
})();
