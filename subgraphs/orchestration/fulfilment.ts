/**
 * A deal's fulfilment as the systems of record show it, whether or not Concord made it: the CRM
 * opportunity's links (Billing_Subscription_Id__c, Concord_Order_Status__c) and the billing
 * contract tagged with the opportunity (Stripe subscription metadata `concord_opportunity_id`).
 *
 * Order-to-cash reads this before any effect: a run store only knows Concord's own runs, and a deal
 * fulfilled before Concord (the seed's 50 billed deals), by an earlier deployment or by hand must
 * not be billed a second time.
 */
import type { BillingContract, SystemName } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { Ports } from './steps';

export interface Fulfilment {
  /** The contract the deal produced (the CRM's link first, else billing's tagged contract). */
  contractId: string;
  /** The contract as billing holds it; null when the CRM links a contract billing does not have. */
  contract: BillingContract | null;
  /** Concord_Order_Status__c as the CRM holds it (null when never written). */
  orderStatus: string | null;
  /** Where the link was found first: the CRM opportunity, or only the billing contract. */
  foundIn: Extract<SystemName, 'CRM' | 'BILLING'>;
}

const ENDED = new Set(['CANCELED', 'ENDED']);

/**
 * True when the fulfilment still bills (or the CRM says it completed): a new run would double it.
 * A cancelled contract whose CRM status is not Completed is history, not a live fulfilment.
 */
export function isLive(f: Fulfilment): boolean {
  if (f.orderStatus === 'Completed') return true;
  return f.contract !== null && !ENDED.has(f.contract.status);
}

/** Read the deal's fulfilment; null when neither the CRM nor billing shows one. */
export async function readFulfilment(
  ports: Pick<Ports, 'crm' | 'billing'>,
  opportunityId: string,
  customerId?: string | null,
): Promise<Fulfilment | null> {
  const opportunity = (await ports.crm.getOpportunities([opportunityId])).get(opportunityId);
  if (!opportunity) return null;
  const accountId = customerId ?? opportunity.accountId;
  const orderStatus = opportunity.orderStatus ?? null;
  if (opportunity.billingSubscriptionId) {
    const contractId = opportunity.billingSubscriptionId;
    const contract = (await ports.billing.getContracts([contractId])).get(contractId) ?? null;
    return { contractId, contract, orderStatus, foundIn: 'CRM' };
  }
  // No CRM link: billing may still hold a contract for the deal (made behind Concord's back, or a
  // run that stopped before its CRM write-back). The customer is found by search; the contract by
  // list, which is read-after-write safe.
  const billingCustomer = (await ports.billing.getCustomersByCustomerId([accountId])).get(accountId);
  if (!billingCustomer) return null;
  const contract = await ports.billing.findContractForOpportunity(billingCustomer.id, opportunityId);
  return contract ? { contractId: contract.id, contract, orderStatus, foundIn: 'BILLING' } : null;
}

/** The refusal of a deal that is already fulfilled: CONFLICT naming its contract, not retryable. */
export function alreadyFulfilled(opportunityId: string, f: Fulfilment): ConcordError {
  return new ConcordError(
    'CONFLICT',
    `opportunity ${opportunityId} is already fulfilled by contract ${f.contractId} (${f.contract?.status ?? 'unknown to billing'}, CRM order status ${f.orderStatus ?? 'none'}); no new run was started`,
    { system: f.foundIn, retryable: false },
  );
}

/** Throws alreadyFulfilled when the CRM or billing shows the deal fulfilled and still live. */
export async function assertNotFulfilled(ports: Pick<Ports, 'crm' | 'billing'>, opportunityId: string, customerId?: string | null): Promise<void> {
  const fulfilled = await readFulfilment(ports, opportunityId, customerId);
  if (fulfilled && isLive(fulfilled)) throw alreadyFulfilled(opportunityId, fulfilled);
}

/**
 * A vendor that cannot answer now (throttled, unavailable): the start accepts the run and leaves the
 * authoritative check to its first step, which retries with the engine's backoff (Retry-After honoured).
 */
export function isVendorBusy(error: unknown): boolean {
  return error instanceof ConcordError && error.retryable && (error.code === 'VENDOR_RATE_LIMITED' || error.code === 'VENDOR_UNAVAILABLE');
}
