/**
 * The account-status reaction, event-driven across systems: a failed payment puts the customer on
 * credit hold in the ERP and marks the CRM account; a paid (or voided) invoice releases the hold
 * when nothing is overdue any more. Each change is announced as ACCOUNT_STATUS_CHANGED.
 *
 * Idempotent under duplicate and out-of-order delivery because it never trusts the event for the
 * decision, only as a trigger: under a per-customer lock it reads billing (the system of record for
 * what is owed) and decides from that, then writes the ERP and CRM only where they differ.
 *
 *   overdue  = an OPEN invoice whose automatic payment failed (remembered from PAYMENT_FAILED, and
 *              dropped as soon as billing no longer shows it open) or whose due date has passed
 *   hold     = anything overdue
 *
 * A PAYMENT_FAILED that arrives after the invoice was paid finds it PAID and holds nothing; an
 * INVOICE_PAID that arrives first finds nothing to release. A hold Concord did not set (finance set
 * it by hand in the ERP) is never released here.
 */
import { withLock, type Coordination } from '../../core/events/coordination';
import type { BusinessEvent, EventLog } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import type { BillingPort } from '../billing/port';
import type { CrmPort } from '../crm/port';
import type { ErpPort } from '../erp/port';

/** The consumer group of this reaction in the event log. */
export const ACCOUNT_STATUS_GROUP = 'reaction:account-status';

/** CRM account status values Concord writes (Salesforce Concord_Status__c). */
export const CREDIT_HOLD_STATUS = 'Credit Hold';
export const ACTIVE_STATUS = 'Active';

const TRIGGERS = new Set(['PAYMENT_FAILED', 'INVOICE_PAID', 'INVOICE_VOIDED']);

export interface AccountStatusOptions {
  log: EventLog;
  coordination: Coordination;
  ports: { crm: CrmPort; billing: BillingPort; erp: ErpPort };
  logger: Logger;
  /** Clock, for tests. Default: the system clock. */
  now?: () => Date;
}

/** What the reaction remembers per customer (Coordination, under the customer's lock). */
interface ReactionState {
  /** Invoices whose last payment attempt failed, while billing shows them open. */
  failed: string[];
  /** Holds this reaction placed (and so may release): the ERP credit hold, the CRM account status. */
  placed: { erp: boolean; crm: boolean };
  /** The hold state last announced with ACCOUNT_STATUS_CHANGED. */
  announced: boolean | null;
}

export function createAccountStatusReaction(options: AccountStatusOptions) {
  const { log, coordination, ports, logger, now = () => new Date() } = options;

  async function load(customerId: string): Promise<ReactionState> {
    const raw = await coordination.getCheckpoint(`account-status:${customerId}`);
    return raw ? (JSON.parse(raw) as ReactionState) : { failed: [], placed: { erp: false, crm: false }, announced: null };
  }

  async function save(customerId: string, state: ReactionState): Promise<void> {
    await coordination.setCheckpoint(`account-status:${customerId}`, JSON.stringify(state));
  }

  async function customerOf(event: BusinessEvent): Promise<string | null> {
    if (event.customerId) return event.customerId;
    if (!event.invoiceId) return null;
    return (await ports.billing.getInvoices([event.invoiceId])).get(event.invoiceId)?.customerId || null;
  }

  async function react(event: BusinessEvent, customerId: string): Promise<void> {
    const state = await load(customerId);
    if (event.invoiceId) {
      const failed = new Set(state.failed);
      if (event.type === 'PAYMENT_FAILED') failed.add(event.invoiceId);
      else failed.delete(event.invoiceId);
      state.failed = [...failed];
    }
    // The decision comes from billing as it is now, not from the event.
    const billingCustomer = (await ports.billing.getCustomersByCustomerId([customerId])).get(customerId);
    const invoices = billingCustomer ? ((await ports.billing.getInvoicesByBillingCustomer([billingCustomer])).get(customerId) ?? []) : [];
    const open = new Map(invoices.filter((i) => i.status === 'OPEN').map((i) => [i.id, i]));
    state.failed = state.failed.filter((id) => open.has(id));
    const at = now().getTime();
    const overdue = [...open.values()].filter((i) => state.failed.includes(i.id) || (i.dueAt !== null && Date.parse(i.dueAt) < at));
    const hold = overdue.length > 0;

    const [profile, account] = await Promise.all([
      ports.erp.getCustomerProfiles([customerId]).then((m) => m.get(customerId) ?? null),
      ports.crm.getAccounts([customerId]).then((m) => m.get(customerId) ?? null),
    ]);
    const erpHeld = profile?.creditHold ?? false;
    const crmHeld = account?.status === CREDIT_HOLD_STATUS;
    // Intent is saved before any vendor write, so that a crash in between is finished by the retry.
    state.announced ??= erpHeld || crmHeld;
    if (hold) {
      if (profile && !erpHeld) state.placed.erp = true;
      if (account && !crmHeld) state.placed.crm = true;
    }
    const release = { erp: !hold && state.placed.erp && erpHeld, crm: !hold && state.placed.crm && crmHeld };
    await save(customerId, state);

    const correlationId = event.correlationId ?? `event:${event.id}`;
    if (hold) {
      if (profile && !erpHeld) await ports.erp.setCreditHold(customerId, true, { correlationId });
      if (account && !crmHeld) await ports.crm.updateAccount(customerId, { status: CREDIT_HOLD_STATUS, correlationId });
    } else {
      // Only what this reaction placed is undone: a hold finance set by hand stays.
      if (release.erp) await ports.erp.setCreditHold(customerId, false, { correlationId });
      if (release.crm) await ports.crm.updateAccount(customerId, { status: ACTIVE_STATUS, correlationId });
      state.placed = { erp: false, crm: false };
    }
    const held = hold || (erpHeld && !release.erp) || (crmHeld && !release.crm);
    const announce = held !== state.announced;
    if (announce) {
      await log.append({
        type: 'ACCOUNT_STATUS_CHANGED',
        occurredAt: now().toISOString(),
        correlationId: event.correlationId,
        source: null,
        customerId,
        contractId: event.contractId,
        invoiceId: event.invoiceId,
        runId: null,
        // A redelivered trigger announces nothing twice, even if the state below was not saved.
        dedupeKey: `account-status:${customerId}:${event.id}:${held}`,
        data: {
          creditHold: held,
          status: held ? CREDIT_HOLD_STATUS : ACTIVE_STATUS,
          reason: event.type,
          overdueInvoices: overdue.length,
          inErp: profile !== null,
        },
      });
      state.announced = held;
    }
    await save(customerId, state);
    logger.info({ customerId, trigger: event.type, eventId: event.id, hold, held, overdue: overdue.length, announced: announce }, 'account status reaction');
  }

  /** Handle one event (a no-op for events that are not triggers). Throws to be retried. */
  async function handle(event: BusinessEvent): Promise<void> {
    if (!TRIGGERS.has(event.type)) return;
    const customerId = await customerOf(event);
    if (!customerId) {
      logger.info({ eventId: event.id, type: event.type }, 'account status reaction: no customer linked; skipped');
      return;
    }
    await withLock(coordination, `account-status:${customerId}`, () => react(event, customerId), { ttlMs: 30_000, waitMs: 15_000 });
  }

  return {
    handle,
    /** Consume the log as the group's member until `signal` aborts. */
    run(signal: AbortSignal, retryAfterMs = 5_000): Promise<void> {
      return log.consume(ACCOUNT_STATUS_GROUP, handle, {
        signal,
        retryAfterMs,
        onGiveUp: (event, error) => logger.error({ err: error, eventId: event.id, type: event.type }, 'account status reaction gave up on an event'),
      });
    },
  };
}
