import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from './core/config';
import { createLogger } from './core/log';
import { SCOPES, mintToken } from './gateway/token';
import { buildSeed } from './simulators/common/seed';
import { startSystem } from './system';
const SECRET = 'concord-bench-secret-0123456789abcdef';
(async () => {
  const config = loadConfig({ CONCORD_JWT_SECRET: SECRET, NODE_ENV: 'test' });
  const seed = buildSeed();
  const system = await startSystem({ config, logger: createLogger({ level: 'silent' }), ports: 'ephemeral', seed });
  const c = seed.customers[1].crmId;
  const token = await mintToken({ secret: SECRET, subject: 'a', scopes: SCOPES });
  const nest = (k: number, levels: number): string => (levels === 0 ? 'id' : `parent { ${nest(k, levels - 1)} } `.repeat(k));
  const docs: Record<string, string> = {
    benign: `{ customer(id: "${c}") { id name } }`,
    flat31: `{ customer(id: "${c}") { ${nest(31, 1)} } }`,
    n3x3: `{ customer(id: "${c}") { ${nest(3, 3)} } }`,
    n2x4: `{ customer(id: "${c}") { ${nest(2, 4)} } }`,
    alias20: `{ customer(id: "${c}") { ${Array.from({ length: 20 }, (_, i) => `a${i}: parent { id name domain parent { id name domain parent { id name domain parent { id name domain parent { id name } } } } }`).join(' ')} } }`,
    alias20flat: `{ customer(id: "${c}") { ${Array.from({ length: 20 }, (_, i) => `a${i}: parent { id name }`).join(' ')} } }`,
  };
  for (const [name, q] of Object.entries(docs)) {
    const h = monitorEventLoopDelay({ resolution: 5 }); h.enable();
    const times: number[] = []; let status = 0;
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      const r = await fetch(`${system.gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: `# ${i} ${Math.random()}\n${q}` }) });
      status = r.status; await r.text();
      times.push(performance.now() - t);
    }
    h.disable();
    console.log(name, status, times.map((x) => x.toFixed(0)).join(','), 'stall', (h.max / 1e6).toFixed(0));
  }
  await system.close();
})();
