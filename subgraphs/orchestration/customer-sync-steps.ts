/**
 * Steps of the customer master's sync: the CRM (system of record for identity) already holds the
 * customer; these push it to the ERP and billing, then write the other systems' ids back to the
 * CRM account. The repair of a customer missing in one system runs the same steps (after
 * readCustomerMaster). Every write is idempotent: ERP external-id upsert, Stripe search-or-create
 * under the step's key, CRM PATCH of fixed values.
 */
import { ConcordError } from '../../core/errors';
import type { Run } from './model';
import { BusinessRuleError, type StepDefinition, type StepInput } from './steps';
import type { CustomerFields, CustomerLinks, WorkflowStepName } from './workflow-model';

/** The customer being synced: a sync's input, or what a repair read from the CRM. */
function customerOf(run: Run): CustomerFields {
  const w = run.workflow;
  if (w?.kind === 'CUSTOMER_SYNC') return w.customer;
  if (w?.kind === 'DRIFT_REPAIR' && w.customer) return w.customer;
  throw new ConcordError('INTERNAL', `run ${run.id} has no customer to sync`);
}

function linksOf(run: Run): CustomerLinks {
  const w = run.workflow;
  if (w?.kind === 'CUSTOMER_SYNC' || w?.kind === 'DRIFT_REPAIR') return w.links;
  throw new ConcordError('INTERNAL', `run ${run.id} has no customer links`);
}

/** Links learned so far plus `patch` (a step's result replaces the whole `links` field). */
const links = (run: Run, patch: Partial<CustomerLinks>): { links: CustomerLinks } => ({ links: { ...linksOf(run), ...patch } });

/** Status the CRM account shows for the ERP's credit hold (what reconciliation compares). */
export const crmStatusFor = (creditHold: boolean): string => (creditHold ? 'Credit Hold' : 'Active');

/**
 * CUSTOMER_CREATED once the customer is in all three systems. Keyed by the customer (a customer is
 * created once): the CRM change poller reports the account's creation under the same key, so the
 * log holds one event whichever sees it first. Updates are reported by that poller alone (it
 * observes every change of the system of record, the customer master's included).
 */
async function announceCreated(input: StepInput): Promise<void> {
  const { run, ports, correlationId } = input;
  if (!ports.events) return;
  const customer = customerOf(run);
  await ports.events.append({
    type: 'CUSTOMER_CREATED',
    occurredAt: new Date().toISOString(),
    correlationId,
    source: 'CRM',
    customerId: customer.customerId,
    contractId: null,
    invoiceId: null,
    runId: run.id,
    dedupeKey: `customer-created:${customer.customerId}`,
    data: { name: customer.name },
  });
}

export const CUSTOMER_SYNC_STEPS: Pick<Record<WorkflowStepName, StepDefinition>, 'readCustomerMaster' | 'syncErpCustomer' | 'syncBillingCustomer' | 'linkCrmAccount'> = {
  readCustomerMaster: {
    name: 'readCustomerMaster',
    // A repair recreates a customer from the CRM's record: no record there, nothing to copy.
    async run({ run, ports }) {
      const w = run.workflow;
      if (w?.kind !== 'DRIFT_REPAIR' || !w.customerId) throw new ConcordError('INTERNAL', `run ${run.id} is not a customer repair`);
      const account = (await ports.crm.getAccounts([w.customerId])).get(w.customerId);
      if (!account) throw new BusinessRuleError(`CRM account ${w.customerId} does not exist; a human must decide which record is right`, 'CRM');
      // The ERP may already know the customer's email and tax registration; billing would too.
      const erp = (await ports.erp.getCustomerProfiles([account.id])).get(account.id);
      const customer: CustomerFields = { customerId: account.id, name: account.name, email: null, taxRegistration: erp?.taxRegistration ?? null };
      return { externalId: account.id, workflow: { customer, ...links(run, { erpCustomerId: erp?.internalId ?? null, creditHold: erp?.creditHold ?? null }) } };
    },
  },

  syncErpCustomer: {
    name: 'syncErpCustomer',
    // External-id upsert: repeating it converges on one customer record.
    async run({ run, ports, correlationId }) {
      const customer = customerOf(run);
      const profile = await ports.erp.upsertCustomer(
        {
          customerId: customer.customerId,
          companyName: customer.name,
          // Unknown values are left out, so a sync never clears what the ERP holds.
          ...(customer.email ? { email: customer.email } : {}),
          ...(customer.taxRegistration ? { taxRegistration: customer.taxRegistration } : {}),
        },
        { correlationId },
      );
      return { externalId: profile.internalId, workflow: links(run, { erpCustomerId: profile.internalId, creditHold: profile.creditHold }) };
    },
  },

  syncBillingCustomer: {
    name: 'syncBillingCustomer',
    async run({ run, ports, key, correlationId }) {
      const customer = customerOf(run);
      const billing = await ports.billing.upsertCustomer(
        { customerId: customer.customerId, name: customer.name, email: customer.email },
        { idempotencyKey: key, correlationId },
      );
      return { externalId: billing.id, workflow: links(run, { billingCustomerId: billing.id }) };
    },
  },

  linkCrmAccount: {
    name: 'linkCrmAccount',
    // PATCHes of the same values: repeating them is harmless.
    async run(input) {
      const { run, ports, correlationId } = input;
      const customer = customerOf(run);
      const known = linksOf(run);
      await ports.crm.updateAccount(customer.customerId, {
        ...(known.billingCustomerId ? { billingCustomerId: known.billingCustomerId } : {}),
        ...(known.erpCustomerId ? { erpCustomerId: known.erpCustomerId } : {}),
        ...(known.creditHold !== null ? { status: crmStatusFor(known.creditHold) } : {}),
        correlationId,
      });
      if (run.workflow?.kind === 'CUSTOMER_SYNC' && run.workflow.created) await announceCreated(input);
      return { externalId: customer.customerId };
    },
  },
};
