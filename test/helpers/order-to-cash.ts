/** Client-side helpers for order-to-cash tests: start runs through the gateway and wait for them. */
import { vendorsOf } from './combinations';
import { simCall, type TestSystem } from './system';

export const RUN_FIELDS = `id status correlationId idempotencyKey opportunityId
  steps { name system status attempts externalId lastError { code message retryable } }
  deadLetter { step error { code message } duringCompensation }`;

export const SETTLED = ['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED'];

export async function startRun(system: TestSystem, opportunityId: string, idempotencyKey: string) {
  return system.gql(
    `mutation($input: StartOrderToCashInput!) { startOrderToCash(input: $input) { ${RUN_FIELDS} } }`,
    { input: { opportunityId, idempotencyKey } },
  );
}

export async function getRun(system: TestSystem, id: string): Promise<any> {
  const { body } = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { ${RUN_FIELDS} } }`, { id });
  return body.data?.orderToCashRun;
}

/**
 * Poll until the run is in one of `statuses` (default: settled). The id is one the API accepted,
 * so it is never unknown: an answer of null without an error fails at once (issue 15: a run once
 * read as null for 200 s under load). A failed read must be an error with a retryable code; it is
 * polled through, and the last one is named if the deadline passes.
 */
export async function waitForRun(system: TestSystem, id: string, statuses = SETTLED, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let run: any;
  let lastError: { code?: string; retryable?: boolean; message: string } | null = null;
  while (Date.now() < deadline) {
    const answer = await system.gql(`query($id: ID!) { orderToCashRun(id: $id) { ${RUN_FIELDS} } }`, { id }).catch((error: Error) => {
      lastError = { message: `request failed: ${error.message}` };
      return null;
    });
    if (answer) {
      const error = answer.body.errors?.[0];
      if (error) {
        lastError = { code: error.extensions?.code, retryable: error.extensions?.retryable, message: error.message };
        if (error.extensions?.retryable !== true) throw new Error(`reading run ${id} failed without a retryable code: ${JSON.stringify(lastError)}`);
      } else if (answer.body.data?.orderToCashRun === null) {
        throw new Error(`run ${id} was accepted but the API answers that it does not exist`);
      } else {
        run = answer.body.data?.orderToCashRun;
        if (run && statuses.includes(run.status)) return run;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`run ${id} is ${run?.status ?? 'unread'} after ${timeoutMs} ms, not ${statuses.join('|')}: ${JSON.stringify(run)}; last failed read: ${JSON.stringify(lastError)}`);
}

/** Closed Won opportunities not yet billed, of customers not on credit hold, from the CRM simulator. */
export async function readyOpportunities(salesforceUrl: string): Promise<{ id: string; accountId: string }[]> {
  const state = await simCall(salesforceUrl, 'state');
  const held = new Set(state.Account.filter((a: any) => a.Concord_Status__c === 'Credit Hold').map((a: any) => a.Id));
  return state.Opportunity.filter((o: any) => o.IsWon && !o.Billing_Subscription_Id__c && !held.has(o.AccountId)).map((o: any) => ({
    id: o.Id,
    accountId: o.AccountId,
  }));
}

/** Counts of effects per opportunity in the Salesforce, Stripe and NetSuite simulators, as they hold them, to find duplicates. */
export async function effectsOf(system: TestSystem, opportunityId: string, customerId: string) {
  const [sf, stripe, ns] = await Promise.all([
    simCall(system.simulators.salesforce!.url, 'state'),
    simCall(system.simulators.stripe!.url, 'state'),
    simCall(system.simulators.netsuite!.url, 'state'),
  ]);
  const subscriptions = stripe.subscriptions.filter((s: any) => s.metadata?.concord_opportunity_id === opportunityId);
  const subscriptionIds = new Set(subscriptions.map((s: any) => s.id));
  const invoices = stripe.invoices.filter((i: any) => subscriptionIds.has(i.parent?.subscription_details?.subscription));
  const invoiceIds = new Set(invoices.map((i: any) => i.id));
  return {
    opportunity: sf.Opportunity.find((o: any) => o.Id === opportunityId),
    erpCustomers: ns.customer.filter((c: any) => c.externalId === customerId),
    billingCustomers: stripe.customers.filter((c: any) => c.metadata?.concord_customer_id === customerId),
    subscriptions,
    invoices,
    erpInvoices: ns.invoice.filter((i: any) => invoiceIds.has(i.externalId)),
    events: stripe.events,
  };
}

/**
 * Effects of one opportunity in each chosen vendor's simulator, read through the vendor lenses
 * (test/helpers/combinations.ts), to count them and find duplicates on any combination.
 */
export async function effectsAcross(system: TestSystem, opportunityId: string, customerId: string) {
  const vendors = vendorsOf(system);
  const [crm, billing, erp] = await Promise.all([simCall(vendors.crm.url, 'state'), vendors.billing.read(), vendors.erp.read()]);
  const subscriptions = billing.contractsOfOpportunity(opportunityId);
  const invoices = subscriptions.flatMap((s) => billing.invoicesOfContract(s.id));
  return {
    opportunity: crm.Opportunity.find((o: any) => o.Id === opportunityId),
    erpCustomers: erp.customersLinkedTo(customerId),
    billingCustomers: billing.customersLinkedTo(customerId),
    subscriptions,
    invoices,
    erpInvoices: invoices.flatMap((i) => erp.postingsOf(i.id)),
    /** Compensation events of the (first) subscription and invoice, in the vendor's order. */
    compensationOrder: subscriptions[0] && invoices[0] ? billing.compensationOrder(subscriptions[0].id, invoices[0].id) : [],
  };
}
