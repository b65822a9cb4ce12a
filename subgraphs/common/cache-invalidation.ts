/**
 * What drops entries of the entity cache (core/entity-cache.ts, subgraphs/common/cached-reads.ts):
 *
 *   - Concord's own writes: every write through the ports (saga steps, upsertCustomer, amendments,
 *     repairs, the account-status reaction) invalidates the entities it touched as soon as the
 *     vendor answered, before the step or mutation reports success, so Concord's own change is in
 *     the next view at once. An uncertain write (a timeout) invalidates too.
 *   - The vendors' own change events, which Concord already ingests into the event log: Stripe and
 *     Chargebee webhooks, the CRM and ERP change pollers (subgraphs/events/poller.ts), reactions.
 *     Each process that serves subgraphs follows the log and drops the units an event names (its
 *     customer, contract, invoice). With Redis the drop is one INCR on the shared store, so it
 *     reaches every replica whichever process followed it; in embedded mode the log and the cache
 *     are in the one process.
 *   - The TTL (CONCORD_ENTITY_CACHE_TTL_S) for what no event announces (a change made behind
 *     Concord's back to a field no feed reports).
 */
import { EventCursorError, type BusinessEvent, type EventLog, type EventType } from '../../core/events/event-log';
import { cacheUnits, type CacheSystem, type EntityCacheStore } from '../../core/entity-cache';
import type { Logger } from '../../core/log';
import type { Ports } from '../orchestration/steps';

/** Events that say nothing changed in a vendor (Concord's own bookkeeping). */
const NOT_VENDOR_CHANGES: ReadonlySet<EventType> = new Set<EventType>(['RUN_STATUS_CHANGED', 'DRIFT_DETECTED', 'OPERATOR_ACTION']);

const ALL_SYSTEMS: readonly CacheSystem[] = ['crm', 'billing', 'erp'];

/**
 * The cache units a business event says may have changed: the records of the system that reported
 * it (a NetSuite credit hold drops the ERP profile, not the Stripe contracts), or of every system
 * when the event names no source.
 */
export function unitsOfEvent(event: Pick<BusinessEvent, 'type' | 'source' | 'customerId' | 'contractId' | 'invoiceId'>): string[] {
  if (NOT_VENDOR_CHANGES.has(event.type)) return [];
  const systems = event.source === 'CRM' ? ['crm' as const] : event.source === 'BILLING' ? ['billing' as const] : event.source === 'ERP' ? ['erp' as const] : ALL_SYSTEMS;
  const units: string[] = [];
  for (const system of systems) {
    if (event.customerId) units.push(cacheUnits.customer(system, event.customerId));
    if (event.contractId) units.push(cacheUnits.contract(system, event.contractId));
    if (event.invoiceId) units.push(cacheUnits.invoice(system, event.invoiceId));
  }
  return units;
}

/**
 * Invalidate, never failing the caller: a write that succeeded at the vendor must not be reported
 * as failed because the cache could not be told (the TTL bounds what is left; logged).
 */
export function safeInvalidator(store: EntityCacheStore, logger: Logger): (units: (string | null | undefined | false)[]) => Promise<void> {
  return async (units) => {
    const named = units.filter((u): u is string => typeof u === 'string' && u.length > 0);
    if (named.length === 0) return;
    await store.invalidate(named).catch((error: unknown) => logger.warn({ err: error, units: named }, 'entity cache invalidation failed; the TTL bounds staleness'));
  };
}

type Invalidate = (units: (string | null | undefined | false)[]) => Promise<void>;

/**
 * Wrap `write` so that, once it has settled (answered or failed), `unitsOf` its arguments and
 * result are invalidated before the caller hears of it.
 */
function after<A extends unknown[], R>(invalidate: Invalidate, write: (...args: A) => Promise<R>, unitsOf: (args: A, result: R | undefined) => (string | null | undefined | false)[]) {
  return async (...args: A): Promise<R> => {
    let result: R | undefined;
    try {
      result = await write(...args);
      return result;
    } finally {
      await invalidate(unitsOf(args, result));
    }
  };
}

const maybe = (f: (id: string) => string, id: string | null | undefined) => (id ? f(id) : null);
const crmCustomer = (id: string) => cacheUnits.customer('crm', id);
const customer = (id: string) => cacheUnits.customer('billing', id);
const contract = (id: string) => cacheUnits.contract('billing', id);
const invoice = (id: string) => cacheUnits.invoice('billing', id);
const erpCustomer = (id: string) => cacheUnits.customer('erp', id);
const posting = (id: string) => cacheUnits.invoice('erp', id);

/** The ports, with every write invalidating what it changed (reads pass through untouched). */
export function invalidatingWrites(ports: Ports, invalidate: Invalidate): Ports {
  const c = ports.crm;
  const crm = Object.create(c) as Ports['crm'];
  crm.updateAccount = after(invalidate, c.updateAccount.bind(c), ([id]) => [crmCustomer(id)]);
  crm.upsertAccountByKey = after(invalidate, c.upsertAccountByKey.bind(c), (_, r) => [maybe(crmCustomer, r?.id)]);

  const b = ports.billing;
  const billing = Object.create(b) as Ports['billing'];
  billing.upsertCustomer = after(invalidate, b.upsertCustomer.bind(b), ([input]) => [customer(input.customerId)]);
  billing.createContract = after(invalidate, b.createContract.bind(b), ([input], r) => [customer(input.customerId), maybe(contract, r?.id)]);
  billing.cancelContract = after(invalidate, b.cancelContract.bind(b), ([id], r) => [contract(id), maybe(customer, r?.customerId)]);
  billing.amendContract = after(invalidate, b.amendContract.bind(b), ([input], r) => [
    contract(input.contractId),
    maybe(customer, r?.contract.customerId),
    maybe(invoice, r?.invoice?.id),
  ]);
  const invoiceWrite = (name: 'finalizeInvoice' | 'voidInvoice' | 'withdrawInvoice') =>
    after(invalidate, b[name].bind(b), ([id], r) => [invoice(id), maybe(customer, r?.customerId), maybe(contract, r?.contractId)]);
  billing.finalizeInvoice = invoiceWrite('finalizeInvoice');
  billing.voidInvoice = invoiceWrite('voidInvoice');
  billing.withdrawInvoice = invoiceWrite('withdrawInvoice');

  const e = ports.erp;
  const erp = Object.create(e) as Ports['erp'];
  erp.upsertCustomer = after(invalidate, e.upsertCustomer.bind(e), ([input]) => [erpCustomer(input.customerId)]);
  erp.setCreditHold = after(invalidate, e.setCreditHold.bind(e), ([id]) => [erpCustomer(id)]);
  erp.postInvoice = after(invalidate, e.postInvoice.bind(e), ([input]) => [posting(input.invoiceId), erpCustomer(input.customerId)]);
  erp.postCreditMemo = after(invalidate, e.postCreditMemo.bind(e), ([input]) => [posting(input.invoiceId), erpCustomer(input.customerId)]);
  // The customer is not named: the posting (by invoice) is what changes; the AR balance follows the TTL or the poller.
  erp.reverseInvoice = after(invalidate, e.reverseInvoice.bind(e), ([id]) => [posting(id)]);
  erp.reverseCreditMemo = after(invalidate, e.reverseCreditMemo.bind(e), ([id]) => [posting(id)]);

  return { ...ports, crm, billing, erp };
}

export interface FollowOptions {
  log: EventLog;
  invalidate: Invalidate;
  signal: AbortSignal;
  logger: Logger;
  /** Told after each event's units were dropped (tests, metrics). Default: nothing. */
  onInvalidated?: (event: BusinessEvent, units: string[]) => void;
}

/**
 * Follow the event log from now on and drop what each event names. Events appended while no
 * process followed are covered by the TTL. Resolves when `signal` aborts; a broken follow (the log
 * unreachable) is started again after a pause.
 */
export async function followInvalidations(options: FollowOptions): Promise<void> {
  const { log, invalidate, signal, logger, onInvalidated } = options;
  const accept = (event: BusinessEvent) => unitsOfEvent(event).length > 0;
  // After a broken follow, go on from the last event handled (no gap), or from now when that
  // cursor is no longer retained.
  let last: string | null = null;
  while (!signal.aborted) {
    try {
      for await (const event of log.follow(last, signal, accept)) {
        const units = unitsOfEvent(event);
        await invalidate(units);
        last = event.id;
        onInvalidated?.(event, units);
      }
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof EventCursorError) last = null;
      logger.warn({ err: error }, 'entity cache: following the event log failed; following again');
      await new Promise((resolve) => setTimeout(resolve, 1000).unref());
    }
  }
}
