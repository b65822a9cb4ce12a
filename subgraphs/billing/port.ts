import type {
  BillingContract,
  BillingCustomer,
  BillingInvoice,
  InvoiceStatus,
  Page,
} from '../../core/canonical';

/** One item of a new contract. */
export interface NewContractItem {
  /** Catalog product code (Stripe price `lookup_key`). */
  productCode: string;
  quantity: number;
}

/** One item change of an amendment, by product code. */
export interface AmendedItem {
  productCode: string;
  /** The item's quantity after the amendment; 0 removes the item. */
  quantity: number;
  /** Swap this product's item for `productCode` (a plan or price change), keeping its place. */
  replacesProductCode?: string | null;
}

/** A change to a live contract (amendContract), applied by the billing system with its prorations. */
export interface ContractAmendment {
  contractId: string;
  /** Items to change; items not named stay as they are. A code the contract lacks adds an item. */
  items: AmendedItem[];
  /** Scheduled end: an ISO date-time, null to remove one, undefined to leave it. */
  endDate?: string | null;
  /**
   * 'invoice': the billing system prorates the change and invoices it at once, on an invoice of
   * its own (left a draft, so that it is finalized only once the ERP has the adjustment);
   * 'none': no proration (used to put a contract back as it was).
   */
  proration: 'invoice' | 'none';
  /** Unix seconds the proration is computed for. Pinned by the caller so that a resend prorates the same. */
  prorationDate?: number;
  /** Stamped on the contract, and so on the invoice the change makes, to find that invoice again. */
  amendmentId: string;
}

/** Every write carries the caller's idempotency key; the adapter passes it to the vendor. */
export interface WriteOptions {
  idempotencyKey: string;
  correlationId: string;
}

/**
 * Where billing systems differ in something the sagas rely on, stated by the adapter so that the
 * sagas read the capability, never the vendor's name.
 */
export interface BillingCapabilities {
  /**
   * The proration of an amendment is computed for a caller-pinned instant (ContractAmendment
   * prorationDate; Stripe `proration_date`). false: the vendor prorates for the moment it applies
   * the change (Chargebee), and a resend is made safe by the vendor's idempotency key alone.
   */
  pinnedProrationDate: boolean;
  /**
   * A prorated decrease is credited on the held proration invoice (a negative draft the amendment
   * saga posts to the ERP as a credit memo). false: the vendor credits decreases on a credit note
   * of its own (Chargebee), so amendments that lower the bill are refused before anything changes.
   */
  prorationCredits: boolean;
  /**
   * Subscription and customer reads by link are consistent right after a write (Chargebee list
   * filters). false: the vendor's bulk reads lag writes (Stripe search) and the adapter makes up for it.
   */
  consistentBulkReads: boolean;
}

/**
 * What Concord needs from a subscription billing system, in canonical terms. Billing is the
 * system of record for contracts and invoices. Batch reads take many canonical customer ids and use
 * the vendor's bulk reads (Stripe: search with OR clauses, at most 10 per query).
 */
export interface BillingPort {
  readonly vendor: string;
  readonly capabilities: BillingCapabilities;

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

  // ---------------------------------------------------------------- amendments

  /**
   * Change a live contract's items, prices, quantities or scheduled end (ContractAmendment). With
   * proration 'invoice', returns the invoice the billing system made for the prorations (a draft),
   * or null when nothing was prorated.
   */
  amendContract(input: ContractAmendment, options: WriteOptions): Promise<{ contract: BillingContract; invoice: BillingInvoice | null }>;
  /** The invoice an amendment made (stamped with its amendmentId), read-after-write safe; null if none. */
  findAmendmentInvoice(contractId: string, amendmentId: string): Promise<BillingInvoice | null>;
  /**
   * Take back an invoice that must not stand (an amendment undone): void it, or, for a draft that
   * only credits, zero it out and finalize it. Already void counts as done. VALIDATION_FAILED for a
   * paid invoice that still asked for money (it needs a credit note).
   */
  withdrawInvoice(invoiceId: string, options: WriteOptions): Promise<BillingInvoice>;

  // ---------------------------------------------------------------- bulk reads (reconciliation) and search

  /** Every billing customer, linked or not (customerId '' when no canonical link), in pages. */
  listCustomers(page: { first: number; after?: string | null }): Promise<Page<BillingCustomer>>;
  /** Every contract, in every status, in pages. customerId may be '' when the contract carries no link. */
  listContracts(page: { first: number; after?: string | null }): Promise<Page<BillingContract>>;
  /** Every invoice, in every status, in pages. customerId may be '' when the invoice carries no link. */
  listInvoices(page: { first: number; after?: string | null }): Promise<Page<BillingInvoice>>;
  /**
   * Customers that may be the same company: a name containing one of `nameTokens` or an email on
   * `emailDomain`. Coarse and cheap (one search); the caller decides. At most `limit` (default 100).
   */
  findCustomerCandidates(criteria: { nameTokens: readonly string[]; emailDomain: string | null }, limit?: number): Promise<BillingCustomer[]>;

  ping(): Promise<void>;
}
