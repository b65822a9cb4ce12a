import type {
  AccountWriteBack,
  CrmAccount,
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

  /** A cheap call that proves the vendor answers (for /ready). */
  ping(): Promise<void>;
}
