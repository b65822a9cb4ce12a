/**
 * opsRuns' listing (subgraphs/orchestration/ops-runs.ts) over both implementations of the run
 * stores (memory, and Redis under a unique prefix): order-to-cash and workflow runs merged newest
 * first, paged without gaps or repeats, filtered by kind, status and customer, and searched by
 * customer name, deal, run or correlation id, with customer and amount read from each kind.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { fromMinorUnits } from '../../core/money';
import { STEP_NAMES, emptyContext, newStep, type Run } from '../../subgraphs/orchestration/model';
import { amountOf, createOpsRunList, customerOf, kindOf } from '../../subgraphs/orchestration/ops-runs';
import type { RunStore } from '../../subgraphs/orchestration/store';
import { createMemoryRunStore } from '../../subgraphs/orchestration/store-memory';
import { createRedisRunStore } from '../../subgraphs/orchestration/store-redis';
import type { WorkflowState } from '../../subgraphs/orchestration/workflow-model';
import { REDIS_URL, testPrefix } from '../helpers/redis';

let clock = Date.parse('2026-11-01T00:00:00.000Z');
const at = () => new Date((clock += 1000)).toISOString();

function o2c(i: number, customer: string): Run {
  const created = at();
  return {
    id: `run_${String(i).padStart(4, '0')}`, correlationId: `corr-o2c-${i}`, idempotencyKey: `k-${randomUUID()}`, inputHash: 'h', opportunityId: `006deal${i}`,
    status: i % 5 === 0 ? 'DEAD_LETTERED' : 'COMPLETED', version: 0, steps: STEP_NAMES.map(newStep),
    context: { ...emptyContext(), customerId: `001${customer}`, customerName: customer, amount: fromMinorUnits(1000 * i, 'USD') },
    cancelRequested: false, deadLetter: null, createdAt: created, updatedAt: created,
  };
}

function workflow(i: number, customer: string, state: WorkflowState): Run {
  const created = at();
  return {
    id: `wf_${String(i).padStart(4, '0')}`, correlationId: `corr-wf-${i}`, idempotencyKey: `${state.kind}:k-${randomUUID()}`, inputHash: 'h', opportunityId: `${state.kind}:wf_${i}`,
    status: i % 4 === 0 ? 'DEAD_LETTERED' : 'COMPLETED', version: 0, steps: [newStep('amendSubscription')],
    context: { ...emptyContext(), customerId: `001${customer}` }, cancelRequested: false, deadLetter: null, workflow: state, createdAt: created, updatedAt: created,
  };
}

const amendment = (customer: string): WorkflowState => ({
  kind: 'CONTRACT_AMENDMENT', contractId: 'sub_1', customerId: `001${customer}`, items: [], prorationDate: 0, before: { items: [], endDate: null },
  invoice: { id: 'in_1', figures: { lines: [], tax: fromMinorUnits(0, 'USD'), total: fromMinorUnits(5230, 'USD') } }, erpDocument: null,
});
const sync = (customer: string): WorkflowState => ({
  kind: 'CUSTOMER_SYNC', customer: { customerId: `001${customer}`, name: customer, email: null, taxRegistration: null }, created: false,
  links: { erpCustomerId: null, billingCustomerId: null, creditHold: null },
});

const keys = testPrefix('ops-runs');
const clients: Redis[] = [];
const IMPLEMENTATIONS = [
  { name: 'memory', open: () => [createMemoryRunStore(), createMemoryRunStore()] as const },
  {
    name: 'redis',
    open: () => {
      const redis = new Redis(REDIS_URL);
      clients.push(redis);
      const id = randomUUID().slice(0, 6);
      return [createRedisRunStore({ redis, prefix: `${keys.prefix}:${id}` }), createRedisRunStore({ redis, prefix: `${keys.prefix}:${id}:wf` })] as const;
    },
  },
];

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await keys.cleanup();
});

describe.each(IMPLEMENTATIONS)('opsRuns over the run stores ($name)', ({ open }) => {
  let orderToCash: RunStore;
  let workflows: RunStore;
  const all: Run[] = [];
  let list: ReturnType<typeof createOpsRunList>;

  beforeAll(async () => {
    [orderToCash, workflows] = open();
    // Interleaved creation times across the two stores.
    for (let i = 1; i <= 45; i++) {
      const customer = i % 3 === 0 ? 'Contoso' : 'Fabrikam';
      const run = i % 3 === 1 ? o2c(i, customer) : workflow(i, customer, i % 3 === 2 ? amendment(customer) : sync(customer));
      await (run.workflow ? workflows : orderToCash).create(run);
      all.push(run);
    }
    list = createOpsRunList({ orderToCash: (f, p) => orderToCash.list(f, p), workflows: (f, p) => workflows.list(f, p), maxScanned: 12 });
  });

  async function everything(filter: Parameters<typeof list>[0], first: number): Promise<Run[]> {
    const seen: Run[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page = await list(filter, { first, after });
      seen.push(...page.items);
      if (!page.hasNextPage) return seen;
      after = page.endCursor;
    }
    throw new Error('paging did not end');
  }
  const newestFirst = (runs: Run[]) => [...runs].reverse().map((r) => r.id);

  it('merges both stores newest first and pages through all runs once', async () => {
    for (const first of [1, 7, 20, 100]) expect((await everything({}, first)).map((r) => r.id)).toEqual(newestFirst(all));
  });

  it('filters by kind, status and customer, and searches', async () => {
    expect((await everything({ kind: 'CONTRACT_AMENDMENT' }, 4)).map((r) => r.id)).toEqual(newestFirst(all.filter((r) => r.workflow?.kind === 'CONTRACT_AMENDMENT')));
    expect((await everything({ kind: 'ORDER_TO_CASH', status: 'DEAD_LETTERED' }, 3)).map((r) => r.id)).toEqual(newestFirst(all.filter((r) => !r.workflow && r.status === 'DEAD_LETTERED')));
    expect((await everything({ status: 'DEAD_LETTERED' }, 5)).map((r) => r.id)).toEqual(newestFirst(all.filter((r) => r.status === 'DEAD_LETTERED')));
    expect((await everything({ customerId: '001Contoso' }, 5)).map((r) => r.id)).toEqual(newestFirst(all.filter((r) => customerOf(r).id === '001Contoso')));
    // By name (any case, part of it) only where the run knows it; by deal, run and correlation id.
    expect((await everything({ search: 'contos' }, 5)).map((r) => r.id)).toEqual(newestFirst(all.filter((r) => customerOf(r).name === 'Contoso' || customerOf(r).id === '001Contoso')));
    expect((await everything({ search: '006deal10' }, 5)).map((r) => r.id)).toEqual(['run_0010']);
    expect((await everything({ search: 'wf_0011' }, 5)).map((r) => r.id)).toEqual(['wf_0011']);
    expect((await everything({ search: 'corr-wf-12' }, 5)).map((r) => r.id)).toEqual(['wf_0012']);
    expect(await everything({ search: 'nothing-like-this' }, 5)).toEqual([]);
  });

  it('reads each kind\'s customer and amount', () => {
    const [first, second, third] = all;
    expect([kindOf(first), customerOf(first), amountOf(first)]).toEqual(['ORDER_TO_CASH', { id: '001Fabrikam', name: 'Fabrikam' }, { amount: '10.00', currency: 'USD' }]);
    expect([kindOf(second), customerOf(second).id, amountOf(second)]).toEqual(['CONTRACT_AMENDMENT', '001Fabrikam', { amount: '52.30', currency: 'USD' }]);
    expect([kindOf(third), customerOf(third), amountOf(third)]).toEqual(['CUSTOMER_SYNC', { id: '001Contoso', name: 'Contoso' }, null]);
  });

  it('refuses a cursor it did not make', async () => {
    await expect(list({}, { first: 5, after: 'not-a-cursor' })).rejects.toThrow(/opsRuns cursor/);
  });
});
