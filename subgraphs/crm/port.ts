import type {
  AccountWriteBack,
  CrmAccount,
  CrmContract,
  CrmOpportunity,
  CrmOpportunityLine,
  OpportunityWriteBack,
  Page,
} from '../../core/canonical';

/**
 * What Concord needs from a CRM, in canonical terms. The CRM is the system of record for customer
 * identity. Batch methods take many ids and must make as few vendor calls as the vendor allows
 * (Salesforce: one SOQL `IN` query per chunk); they return only the records found.
 */
export interface CrmPort {
  /** Vendor name for ExternalRef and metrics, for example 'salesforce'. */
  readonly vendor: string;

  /**
   * Whether `id` has the form of this CRM's record ids (Salesforce: 15 or 18 characters, HubSpot: a
   * decimal number). A cheap check before any vendor call; callers (the saga's start) read it
   * instead of knowing any vendor's id format.
   */
  isRecordId(id: string): boolean;

  /** Accounts ordered by id, `first` of them after the cursor. */
  listAccounts(page: { first: number; after?: string | null }): Promise<Page<CrmAccount>>;
  getAccounts(ids: readonly string[]): Promise<Map<string, CrmAccount>>;

  getOpportunities(ids: readonly string[]): Promise<Map<string, CrmOpportunity>>;
  /** Every opportunity of each account, keyed by account id (accounts without any map to []). */
  getOpportunitiesByAccount(accountIds: readonly string[]): Promise<Map<string, CrmOpportunity[]>>;
  /** Line items keyed by opportunity id (opportunities without lines map to []). */
  getOpportunityLines(opportunityIds: readonly string[]): Promise<Map<string, CrmOpportunityLine[]>>;

  /** Write order-to-cash results back to the opportunity. Idempotent: same fields, same result. */
  updateOpportunity(id: string, fields: OpportunityWriteBack): Promise<void>;
  /** Write links and status back to the account. Idempotent. */
  updateAccount(id: string, fields: AccountWriteBack): Promise<void>;

  // ---------------------------------------------------------------- customer master

  /**
   * Accounts that may be the same company: a name containing one of `nameTokens` (case-insensitive)
   * or a website on `domain`. A coarse, cheap filter (one query); the caller decides what is a
   * likely duplicate. At most `limit` (default 200).
   */
  findAccountCandidates(criteria: { nameTokens: readonly string[]; domain: string | null }, limit?: number): Promise<CrmAccount[]>;
  /** The account created under this customer-master key (upsertAccountByKey), or null. */
  findAccountByKey(key: string): Promise<CrmAccount | null>;
  /**
   * Create the account under a customer-master key, or update the one that already holds the key:
   * an external-id upsert, so a retry after a lost answer finds the first attempt's account.
   */
  upsertAccountByKey(
    key: string,
    fields: { name: string; domain: string | null; parentId: string | null; correlationId?: string },
  ): Promise<{ id: string; created: boolean }>;

  // ---------------------------------------------------------------- contracts (reconciliation)

  /** CRM contracts ordered by id, `first` of them after the cursor (keyset paging). */
  listContracts(page: { first: number; after?: string | null }): Promise<Page<CrmContract>>;
  /** Align a contract's status and end date (repairs). Undefined leaves a field; null clears it. */
  updateContract(id: string, fields: { status?: string; endDate?: string | null; correlationId?: string }): Promise<void>;

  /** A cheap call that proves the vendor answers (for /ready). */
  ping(): Promise<void>;
}
