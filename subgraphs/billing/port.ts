import type {
  BillingContract,
  BillingCustomer,
  BillingInvoice,
  InvoiceStatus,
} from '../../core/canonical';

/** One item of a new contract. */
export interface NewContractItem {
  /** Catalog product code (Stripe price `lookup_key`). */
  productCode: string;
  quantity: number;
}

/** Every write carries the caller's idempotency key; the adapter passes it to the vendor. */
export interface WriteOptions {
  idempotencyKey: string;
  correlationId: string;
}

/**
 * What Concord needs from a subscription billing system, in canonical terms. Billing is the
 * system of record for contracts and invoices. Batch reads take many canonical customer ids and use
 * the vendor's bulk reads (Stripe: search with OR clauses, at most 10 per query).
 */
export interface BillingPort {
  readonly vendor: string;

  /** Billing customers by canonical customer id (the link stored in the vendor record). */
  getCustomersByCustomerId(customerIds: readonly string[]): Promise<Map<string, BillingCustomer>>;
  /** Contracts keyed by canonical customer id ([] for customers without any). */
  getContractsByCustomerId(customerIds: readonly string[]): Promise<Map<string, BillingContract[]>>;
  /**
   * Invoices keyed by canonical customer id, newest first ([] for none). Needs the billing customers,
   * which the caller passes so that they are read once per request.
   */
  getInvoicesByBillingCustomer(
    customers: readonly BillingCustomer[],
    filter?: { status?: InvoiceStatus },
  ): Promise<Map<string, BillingInvoice[]>>;
  getContracts(ids: readonly string[]): Promise<Map<string, BillingContract>>;
  getInvoices(ids: readonly string[]): Promise<Map<string, BillingInvoice>>;
  /** Invoices of one contract, newest first (a read-after-write safe list, not search). */
  listInvoicesForContract(contractId: string): Promise<BillingInvoice[]>;

  /** Find the customer by canonical id with a read-after-write safe read, or create it. */
  upsertCustomer(
    input: { customerId: string; name: string; email?: string | null },
    options: WriteOptions,
  ): Promise<BillingCustomer>;
  createContract(
    input: { customerId: string; billingCustomerId: string; items: NewContractItem[]; opportunityId?: string },
    options: WriteOptions,
  ): Promise<BillingContract>;
  /**
   * The contract created for a CRM opportunity (subscription metadata `concord_opportunity_id`),
   * found with a read-after-write safe list of the customer's subscriptions. Order-to-cash reads
   * this before retrying a create whose outcome was uncertain.
   */
  findContractForOpportunity(billingCustomerId: string, opportunityId: string): Promise<BillingContract | null>;
  finalizeInvoice(invoiceId: string, options: WriteOptions): Promise<BillingInvoice>;
  voidInvoice(invoiceId: string, options: WriteOptions): Promise<BillingInvoice>;
  cancelContract(contractId: string, options: WriteOptions): Promise<BillingContract>;

  ping(): Promise<void>;
}
