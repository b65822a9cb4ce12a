import type { ErpCustomerProfile, ErpCustomerRecord, ErpPosting, ErpTransaction, Money, Page } from '../../core/canonical';

/** A document posted to the ERP for a billing invoice (its lines, tax and total as billing computed them). */
export interface ErpDocumentInput {
  /** The billing invoice id: the document's external id. */
  invoiceId: string;
  customerId: string;
  documentDate: string;
  lines: { description: string; quantity: number; amount: Money }[];
  tax: Money;
  total: Money;
}

export interface ErpWriteOptions {
  correlationId: string;
}

/**
 * What Concord needs from an ERP, in canonical terms. The ERP is the system of record for credit,
 * AR balance and postings. Records are keyed by the ERP's externalId (canonical customer id, billing
 * invoice id), so every write is an external-id upsert and replays are harmless.
 */
export interface ErpPort {
  readonly vendor: string;

  /** Profiles keyed by canonical customer id (one SuiteQL `IN` query per chunk). */
  getCustomerProfiles(customerIds: readonly string[]): Promise<Map<string, ErpCustomerProfile>>;
  /**
   * Postings keyed by billing invoice id. Every id asked for is in the result; an invoice with no
   * ERP record maps to status NOT_POSTED.
   */
  getPostings(invoiceIds: readonly string[]): Promise<Map<string, ErpPosting>>;

  /** Create or update the customer master record whose externalId is the canonical id. */
  upsertCustomer(
    input: { customerId: string; companyName: string; email?: string | null; taxRegistration?: string | null },
    options: ErpWriteOptions,
  ): Promise<ErpCustomerProfile>;
  /**
   * Create or update the ERP invoice whose externalId is the billing invoice id, and return the
   * posting as read back from the ERP after the write. Rejected with PERIOD_CLOSED when the date
   * falls in a closed accounting period.
   */
  postInvoice(
    input: {
      invoiceId: string;
      customerId: string;
      documentDate: string;
      lines: { description: string; quantity: number; amount: Money }[];
      tax: Money;
      total: Money;
    },
    options: ErpWriteOptions,
  ): Promise<ErpPosting>;
  /**
   * Undo a posting: remove the ERP invoice whose externalId is the billing invoice id. Already
   * absent counts as done; PERIOD_CLOSED when its period is closed (a human must credit it).
   */
  reverseInvoice(invoiceId: string, options: ErpWriteOptions): Promise<void>;
  /** Set or release credit hold. */
  setCreditHold(customerId: string, hold: boolean, options: ErpWriteOptions): Promise<ErpCustomerProfile>;

  // ---------------------------------------------------------------- credit memos (amendments)

  /**
   * Create or update the credit memo whose externalId is the billing invoice id (an invoice that
   * credits the customer: a downgrade's proration). Lines, tax and total are given as positive
   * amounts credited. PERIOD_CLOSED when the date falls in a closed period.
   */
  postCreditMemo(input: ErpDocumentInput, options: ErpWriteOptions): Promise<ErpPosting>;
  /** Remove that credit memo; already absent counts as done; PERIOD_CLOSED in a closed period. */
  reverseCreditMemo(invoiceId: string, options: ErpWriteOptions): Promise<void>;

  // ---------------------------------------------------------------- bulk reads (reconciliation) and search

  /** Every customer record, ordered by internal id, `first` (at most 1000) after the cursor. */
  listCustomers(page: { first: number; after?: string | null }): Promise<Page<ErpCustomerRecord>>;
  /** Every AR invoice and credit memo, ordered by internal id, `first` (at most 1000) after the cursor. */
  listTransactions(page: { first: number; after?: string | null }): Promise<Page<ErpTransaction>>;
  /** Accounting periods closed to posting, as YYYY-MM. */
  closedPeriods(): Promise<string[]>;
  /**
   * Customers that may be the same company: a name containing one of `nameTokens`
   * (case-insensitive), the same tax registration, or an email on `emailDomain`. At most `limit`
   * (default 200).
   */
  findCustomerCandidates(
    criteria: { nameTokens: readonly string[]; taxRegistration: string | null; emailDomain: string | null },
    limit?: number,
  ): Promise<ErpCustomerRecord[]>;

  ping(): Promise<void>;
}
