/**
 * Layers that read one way (test/architecture/import-rules.ts): the tree as it is has no import
 * crossing them, and each rule does catch a crossing planted in a copy of a real file.
 */
import path from 'node:path';
import { checkImports, repositorySources } from './import-rules';

const ROOT = path.resolve(__dirname, '../..');

describe('import layers', () => {
  const sources = repositorySources(ROOT);

  it('reads the whole tree', () => {
    expect(sources.has('gateway/server.ts')).toBe(true);
    expect(sources.has('vendors/stripe/adapter.ts')).toBe(true);
    expect(sources.size).toBeGreaterThan(200);
  });

  it('has no import that crosses a layer', () => {
    expect(checkImports(sources)).toEqual([]);
  });

  // Each planted import is added to a copy of a real file of that layer, so the check is shown to
  // see through the same parsing as above (static, type-only, dynamic and require forms).
  it.each([
    ['vendors/stripe/adapter.ts', "import { STRIPE_TAX_RATE_ID } from '../../simulators/common/seed';", 'simulators/common/seed'],
    ['core/config.ts', "const sim = require('../simulators/stripe/server');", 'simulators/stripe/server'],
    ['gateway/server.ts', "import type { RunStore } from '../subgraphs/orchestration/store';", 'subgraphs/orchestration/store'],
    ['gateway/live-events.ts', "const local = import('../subgraphs/events/local-subgraph');", 'subgraphs/events/local-subgraph'],
    ['gateway/server.ts', "import { createStripeAdapter } from '../vendors/stripe/adapter';", 'vendors/stripe/adapter'],
    ['subgraphs/orchestration/worker-main.ts', "import { createVendorPorts } from '../../system';", 'system'],
    ['subgraphs/events/runtime.ts', "import type { WebhookHandler } from '../../gateway/webhooks';", 'gateway/webhooks'],
    ['observability/metrics.ts', "import { sendJson } from '../gateway/http';", 'gateway/http'],
    ['vendors/netsuite/client.ts', "import type { Metrics } from '../../observability/metrics';", 'observability/metrics'],
    ['core/log.ts', "import type { Run } from '../subgraphs/orchestration/model';", 'subgraphs/orchestration/model'],
  ])('fails on %s importing %s', (file, line, target) => {
    const planted = new Map(sources);
    planted.set(file, `${line}\n${sources.get(file)!}`);
    expect(checkImports(planted)).toEqual([expect.objectContaining({ from: file, to: target })]);
  });
});
