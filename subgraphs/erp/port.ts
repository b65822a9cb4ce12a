import type { ErpCustomerProfile, ErpPosting, Money } from '../../core/canonical';

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
    input: { customerId: string; companyName: string; email?: string | null },
    options: ErpWriteOptions,
  ): Promise<ErpCustomerProfile>;
  /**
   * Create or update the ERP invoice whose externalId is the billing invoice id. Rejected with
   * PERIOD_CLOSED when the date falls in a closed accounting period.
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

  ping(): Promise<void>;
}
