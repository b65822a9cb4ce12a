/**
 * Every kind of run in one list for operators (`opsRuns`): order-to-cash runs from their store and
 * the workflow runs (customer sync, amendment, repair) from theirs, merged newest first, read from
 * the stores (Redis in production, so history is the system's, not this process's memory).
 *
 * Paging over two stores: the cursor holds the last run consumed from each store, so a page takes
 * up to `first + 1` from each after its own cursor, merges them by creation time, and the next page
 * resumes each store where the merge stopped. A status filter uses the stores' per-status index;
 * kind, customer and text search are applied while reading, bounded by `maxScanned` runs per page
 * (the page then ends early with hasNextPage and a cursor, so a caller keeps paging).
 */
import type { Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { Run, RunStatus } from './model';
import { WORKFLOW_KINDS, type WorkflowKind } from './workflow-model';

export const OPS_RUN_KINDS = ['ORDER_TO_CASH', ...WORKFLOW_KINDS] as const;
export type OpsRunKind = (typeof OPS_RUN_KINDS)[number];

export interface OpsRunFilter {
  kind?: OpsRunKind | null;
  status?: RunStatus | null;
  /** A canonical customer id. */
  customerId?: string | null;
  /** Case-insensitive text: a run id, correlation id, deal id, customer id or customer name (part of it). */
  search?: string | null;
}

type Lister = (filter: { status?: RunStatus | null }, page: { first: number; after?: string | null }) => Promise<Page<Run>>;

export interface OpsRunListOptions {
  orderToCash: Lister;
  workflows: Lister;
  /** Runs read per page at most while filtering by kind, customer or search. Default 2000. */
  maxScanned?: number;
}

/** The kind of a run. */
export const kindOf = (run: Run): OpsRunKind => run.workflow?.kind ?? 'ORDER_TO_CASH';

/** The customer a run is about, and its name where the run learned it. */
export function customerOf(run: Run): { id: string | null; name: string | null } {
  const w = run.workflow;
  if (!w) return { id: run.context.customerId, name: run.context.customerName };
  switch (w.kind) {
    case 'CUSTOMER_SYNC':
      return { id: w.customer.customerId, name: w.customer.name };
    case 'CONTRACT_AMENDMENT':
      return { id: w.customerId, name: null };
    case 'DRIFT_REPAIR':
      return { id: w.customerId ?? w.invoice?.customerId ?? null, name: w.customer?.name ?? w.invoice?.customerName ?? null };
  }
}

/** What the run is worth: the deal's amount, the amendment's proration, the repaired invoice's total. */
export function amountOf(run: Run): { amount: string; currency: string } | null {
  const w = run.workflow;
  if (!w) return run.context.invoice?.total ?? run.context.amount;
  switch (w.kind) {
    case 'CUSTOMER_SYNC':
      return null;
    case 'CONTRACT_AMENDMENT':
      return w.invoice?.figures.total ?? null;
    case 'DRIFT_REPAIR':
      return w.invoice?.figures.total ?? null;
  }
}

/** The deal of an order-to-cash run (workflow runs keep `<kind>:<id>` there, which is no deal). */
export const dealOf = (run: Run): string | null => (run.workflow ? null : run.opportunityId);

function matches(run: Run, filter: OpsRunFilter): boolean {
  if (filter.kind && kindOf(run) !== filter.kind) return false;
  const customer = customerOf(run);
  if (filter.customerId && customer.id !== filter.customerId) return false;
  const text = filter.search?.trim().toLowerCase();
  if (!text) return true;
  return [run.id, run.correlationId, dealOf(run), customer.id, customer.name].some((value) => value?.toLowerCase().includes(text));
}

interface Cursor {
  /** Last run consumed from each store; absent: not started; null: that store is exhausted. */
  o?: string | null;
  w?: string | null;
}

function decode(after: string | null | undefined): Cursor {
  if (!after) return {};
  try {
    const parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as Cursor;
    if (typeof parsed === 'object' && parsed !== null) return parsed;
  } catch {
    /* refused below */
  }
  throw new ConcordError('BAD_USER_INPUT', 'after is not an opsRuns cursor');
}

const encode = (cursor: Cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

/** One side of the merge: a store read in pages after a cursor, one run at a time. */
function reader(list: Lister, status: RunStatus | null, start: string | null | undefined, chunk: number) {
  let buffer: Run[] = [];
  let after = start ?? null;
  let done = start === null;
  let last: string | null | undefined = start;
  return {
    async peek(): Promise<Run | null> {
      if (!buffer.length && !done) {
        const page = await list({ status }, { first: chunk, after });
        buffer = page.items;
        after = page.endCursor;
        done = !page.hasNextPage || !page.endCursor;
      }
      return buffer[0] ?? null;
    },
    take(): Run {
      const run = buffer.shift()!;
      last = run.id;
      return run;
    },
    /** The cursor to resume after what was taken (null: nothing is left). */
    async position(): Promise<string | null | undefined> {
      return (await this.peek()) === null ? null : last;
    },
  };
}

export function createOpsRunList(options: OpsRunListOptions) {
  const { orderToCash, workflows, maxScanned = 2000 } = options;

  return async function list(filter: OpsRunFilter, page: { first: number; after?: string | null }): Promise<Page<Run> & { cursor: string | null }> {
    const cursor = decode(page.after);
    const status = filter.status ?? null;
    const chunk = Math.min(200, Math.max(page.first + 1, 20));
    const wantO2c = !filter.kind || filter.kind === 'ORDER_TO_CASH';
    const wantWf = !filter.kind || filter.kind !== 'ORDER_TO_CASH';
    const o = reader(orderToCash, status, wantO2c ? cursor.o : null, chunk);
    const w = reader(workflows, status, wantWf ? cursor.w : null, chunk);
    const items: Run[] = [];
    let scanned = 0;
    let more = false;
    for (;;) {
      const [a, b] = [await o.peek(), await w.peek()];
      if (!a && !b) break;
      if (items.length >= page.first || scanned >= maxScanned) {
        more = true;
        break;
      }
      // Newest first; equal times: the order-to-cash run first (any fixed rule keeps paging stable).
      const run = !b || (a && Date.parse(a.createdAt) >= Date.parse(b.createdAt)) ? o.take() : w.take();
      scanned += 1;
      if (matches(run, filter)) items.push(run);
    }
    const next: Cursor = { o: await o.position(), w: await w.position() };
    const endCursor = more ? encode(next) : null;
    return { items, hasNextPage: more, endCursor, cursor: endCursor };
  };
}

export type OpsRunList = ReturnType<typeof createOpsRunList>;
export type { WorkflowKind };
