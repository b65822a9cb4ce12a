/**
 * One AuditTrail contract, every implementation: memory (embedded mode) and the Redis stream,
 * against the real Redis at 127.0.0.1:6379 under a unique key prefix. Entries come back newest
 * first, page without gaps or repeats, filter by operator, and survive a new client (durable).
 */
import { Redis } from 'ioredis';
import { createMemoryAuditTrail } from '../../subgraphs/orchestration/audit/memory';
import { createRedisAuditTrail } from '../../subgraphs/orchestration/audit/redis';
import type { AuditTrail, NewOperatorAction, OperatorAction } from '../../subgraphs/orchestration/audit/trail';
import { REDIS_URL, testPrefix } from '../helpers/redis';

const keys = testPrefix('audit-trail');
const clients: Redis[] = [];
const IMPLEMENTATIONS: { name: string; open: () => AuditTrail; reopen: ((first: AuditTrail) => AuditTrail) | null }[] = [
  { name: 'memory', open: () => createMemoryAuditTrail(), reopen: null },
  {
    name: 'redis',
    open: () => {
      const redis = new Redis(REDIS_URL);
      clients.push(redis);
      return createRedisAuditTrail({ redis, prefix: keys.prefix });
    },
    reopen: () => createRedisAuditTrail({ url: REDIS_URL, prefix: keys.prefix }),
  },
];

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await keys.cleanup();
});

const entry = (i: number, subject: string): NewOperatorAction => ({
  action: i % 2 ? 'RETRY_RUN' : 'REPAIR_DRIFT',
  subject,
  target: `target-${i}`,
  correlationId: `corr-${i}`,
  at: new Date(Date.UTC(2026, 11, 1, 0, 0, i)).toISOString(),
  outcome: i % 3 ? { status: 'SUCCEEDED', detail: `run COMPLETED ${i}` } : { status: 'FAILED', code: 'CONFLICT', detail: `refused ${i}` },
});

describe.each(IMPLEMENTATIONS)('AuditTrail ($name)', ({ open, reopen }) => {
  let trail: AuditTrail;
  const appended: OperatorAction[] = [];

  beforeAll(async () => {
    trail = open();
    for (let i = 0; i < 130; i++) appended.push(await trail.append(entry(i, i % 4 === 0 ? 'alice' : 'bob')));
  });
  afterAll(() => trail.close());

  it('returns what was appended, with ordered ids', () => {
    expect(appended[5]).toMatchObject(entry(5, 'bob'));
    for (let i = 1; i < appended.length; i++) expect(appended[i].id > appended[i - 1].id || appended[i].id.length > appended[i - 1].id.length).toBe(true);
  });

  it('lists newest first and pages through everything once', async () => {
    const seen: OperatorAction[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const page = await trail.list({}, { first: 25, after });
      seen.push(...page.items);
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(seen.map((e) => e.target)).toEqual([...appended].reverse().map((e) => e.target));
    expect(seen[0]).toEqual(appended[appended.length - 1]);
  });

  it('keeps one operator\'s entries with the subject filter, across pages', async () => {
    const first = await trail.list({ subject: 'alice' }, { first: 10 });
    expect(first.items).toHaveLength(10);
    expect(first.hasNextPage).toBe(true);
    const rest = await trail.list({ subject: 'alice' }, { first: 100, after: first.endCursor });
    expect(rest.hasNextPage).toBe(false);
    const all = [...first.items, ...rest.items];
    expect(all.every((e) => e.subject === 'alice')).toBe(true);
    expect(all.map((e) => e.target)).toEqual(appended.filter((e) => e.subject === 'alice').reverse().map((e) => e.target));
    expect((await trail.list({ subject: 'nobody' }, { first: 10 })).items).toEqual([]);
  });

  it('keeps failed actions with their code', async () => {
    const page = await trail.list({}, { first: 200 });
    expect(page.items.find((e) => e.target === 'target-3')!.outcome).toEqual({ status: 'FAILED', code: 'CONFLICT', detail: 'refused 3' });
  });

  (reopen ? it : it.skip)('is durable: a new client reads the same trail', async () => {
    const again = reopen!(trail);
    try {
      expect((await again.list({}, { first: 1 })).items[0]).toEqual(appended[appended.length - 1]);
    } finally {
      await again.close();
    }
  });
});
