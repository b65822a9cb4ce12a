/**
 * The Salesforce adapter behind CrmPort, on jsforce (the official Node client). Batch reads are one
 * SOQL `IN` query per chunk of ids, following nextRecordsUrl pages; reads are retried by policy
 * while the org's daily API budget allows; write-backs are sObject PATCHes of Concord's fields.
 */
import type {
  AccountWriteBack,
  CrmAccount,
  CrmContract,
  CrmOpportunity,
  CrmOpportunityLine,
  OpportunityWriteBack,
  Page,
} from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { withRetries } from '../../core/retry';
import { salesforceRetry } from './retry';
import type { VendorCallListener } from '../../core/vendor-call';
import type { CrmPort } from '../../subgraphs/crm/port';
import { errorFromSalesforce } from './errors';
import {
  ACCOUNT_FIELDS,
  CONTRACT_FIELDS,
  CUSTOMER_KEY_FIELD,
  LINE_FIELDS,
  OPPORTUNITY_FIELDS,
  accountWriteBody,
  opportunityWriteBody,
  parseSalesforceId,
  soqlContains,
  soqlString,
  toAccount,
  toContract,
  toOpportunity,
  toOpportunityLine,
  type SalesforceRow,
} from './mapping';
import { createSalesforceClient, type SalesforceClient } from './client';
import { callContext, type CallContext } from './transport';

export interface SalesforceAdapterOptions {
  /** Org base URL, for example https://acme.my.salesforce.com (or the simulator's URL). Required. */
  instanceUrl: string;
  /** OAuth access token (session id). Required; never logged or put in an error message. */
  accessToken: string;
  /** REST API version. Default '62.0'. */
  apiVersion?: string;
  /** Retries after the first attempt of a read (writes: none here, the engine retries them). Default salesforceRetry.readRetries (2). */
  retries?: number;
  /** First backoff between retries, in ms. Default 100. */
  baseDelayMs?: number;
  /** Longest backoff between retries, in ms. Default 5000. */
  maxDelayMs?: number;
  /** Abort a request without a response after this many ms. Default 10000. */
  requestTimeoutMs?: number;
  /** The org's currency for Amount and prices (single-currency orgs). Default 'USD'. */
  currency?: string;
  /** Fraction of the daily API budget above which failed calls are not retried. Default 0.95. */
  budgetReserve?: number;
  /** Told of every HTTP call made to Salesforce (operation, status, duration, API usage). */
  onCall?: VendorCallListener;
  /** The process's Salesforce client (client.ts), shared with the change feed. Default: one of its own from the options above. */
  client?: SalesforceClient;
}

/** Ids per SOQL `IN` query: 200 quoted 18-character ids keep the URL near 6k characters, well under Salesforce's 16k. */
const IDS_PER_QUERY = 200;
/** Largest page listAccounts serves (one Salesforce query batch). */
const MAX_PAGE = 2000;

/** Carries a final error out of withRetries, which would otherwise retry a retryable one. */
class StopRetrying extends Error {
  constructor(readonly error: ConcordError) {
    super(error.message);
  }
}

export function createSalesforceAdapter(options: SalesforceAdapterOptions): CrmPort {
  const {
    instanceUrl,
    accessToken,
    apiVersion = '62.0',
    retries = salesforceRetry.readRetries,
    baseDelayMs = salesforceRetry.baseDelayMs,
    maxDelayMs = salesforceRetry.maxDelayMs,
    requestTimeoutMs = 10_000,
    currency = 'USD',
    budgetReserve = 0.95,
    onCall,
  } = options;

  const client = options.client ?? createSalesforceClient({ instanceUrl, accessToken, apiVersion, requestTimeoutMs, onCall });
  const { conn } = client;
  const budgetLow = () => {
    const usage = client.usage();
    return usage !== undefined && usage.used >= budgetReserve * usage.max;
  };

  /** One attempt, its failure mapped by errorFromSalesforce (the only place that maps them). */
  async function attempt<T>(operation: string, write: boolean, call: () => Promise<T>): Promise<T> {
    const context: CallContext = { operation };
    try {
      // Awaited inside run() so every HTTP call jsforce makes for it sees this context.
      return await client.gate.run(() => callContext.run(context, async () => await call()));
    } catch (error) {
      throw errorFromSalesforce(error, { operation, write, status: context.status });
    }
  }

  /**
   * Attempts with retries by policy. With the daily budget nearly used, retries stop: the rest
   * is kept for work that matters (order-to-cash write-backs), and a failed read fails fast as
   * VENDOR_RATE_LIMITED. A failed write keeps its own error, so an uncertain outcome stays one.
   */
  async function withPolicy<T>(operation: string, write: boolean, call: () => Promise<T>): Promise<T> {
    try {
      return await withRetries(
        async () => {
          try {
            return await attempt(operation, write, call);
          } catch (error) {
            if (!(error instanceof ConcordError) || !error.retryable || !budgetLow()) throw error;
            if (write) throw new StopRetrying(error);
            throw new StopRetrying(
              new ConcordError('VENDOR_RATE_LIMITED', `Salesforce API budget nearly used (${client.usage()!.used}/${client.usage()!.max}); ${operation} not retried`, {
                system: 'CRM',
                retryable: true,
                vendorCode: error.vendorCode,
                status: error.status,
                cause: error,
              }),
            );
          }
        },
        // Writes are not retried here: the saga engine retries them, one call per attempt (retry.ts).
        { retries: write ? 0 : retries, baseDelayMs, maxDelayMs, retryAfterMaxMs: salesforceRetry.retryAfterMaxMs },
      );
    } catch (error) {
      throw error instanceof StopRetrying ? error.error : error;
    }
  }

  /** Every record of a SOQL query, page by page; each page is retried on its own. */
  async function queryAll(operation: string, soql: string): Promise<SalesforceRow[]> {
    let page = await withPolicy(operation, false, async () => await conn.query<SalesforceRow>(soql, { autoFetch: false }));
    const records = [...page.records];
    while (!page.done && page.nextRecordsUrl) {
      const locator = page.nextRecordsUrl;
      page = await withPolicy(`${operation}.more`, false, async () => await conn.queryMore<SalesforceRow>(locator));
      records.push(...page.records);
    }
    return records;
  }

  /** Rows of `object` whose `field` is one of `ids`: one query per chunk of ids, never one per id. */
  async function byIds(object: string, fields: string, field: string, ids: readonly string[]): Promise<SalesforceRow[]> {
    const unique = [...new Set(ids.map(parseSalesforceId))];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += IDS_PER_QUERY) chunks.push(unique.slice(i, i + IDS_PER_QUERY));
    const pages = await Promise.all(
      chunks.map((chunk) =>
        queryAll(`query.${object}`, `SELECT ${fields} FROM ${object} WHERE ${field} IN (${chunk.map(soqlString).join(', ')}) ORDER BY Id`),
      ),
    );
    return pages.flat();
  }

  /** Results keyed by the ids as the caller gave them (a 15-character id finds its 18-character record). */
  function keyed<T>(ids: readonly string[], found: Map<string, T>, missing?: () => T): Map<string, T> {
    const out = new Map<string, T>();
    for (const id of ids) {
      const value = found.get(parseSalesforceId(id)) ?? missing?.();
      if (value !== undefined) out.set(id, value);
    }
    return out;
  }

  function grouped<T>(rows: SalesforceRow[], key: string, map: (row: SalesforceRow) => T): Map<string, T[]> {
    const groups = new Map<string, T[]>();
    for (const row of rows) {
      const id = String(row[key]);
      groups.set(id, [...(groups.get(id) ?? []), map(row)]);
    }
    return groups;
  }

  /**
   * A PATCH of the same field values is idempotent, so retrying an update after a timeout or a
   * 5xx is safe and needs no read-back. (Creates are never retried: they are not idempotent.)
   */
  async function update(object: string, id: string, body: Record<string, string>): Promise<void> {
    const recordId = parseSalesforceId(id);
    if (Object.keys(body).length === 0) return;
    await withPolicy(`update.${object}`, true, async () => {
      await conn.sobject(object).update({ Id: recordId, ...body });
    });
  }

  return {
    vendor: 'salesforce',

    // The form the saga has always accepted; a bad checksum is found by the read that follows.
    isRecordId: (id: string) => /^[A-Za-z0-9]{15,18}$/.test(id),

    async listAccounts({ first, after }): Promise<Page<CrmAccount>> {
      if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) {
        throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 0 and ${MAX_PAGE}`);
      }
      // Keyset paging on Id (the cursor is the last id): stable under inserts, unlike OFFSET.
      const where = after ? ` WHERE Id > ${soqlString(parseSalesforceId(after))}` : '';
      const rows = await queryAll('query.Account', `SELECT ${ACCOUNT_FIELDS} FROM Account${where} ORDER BY Id LIMIT ${first + 1}`);
      const items = rows.slice(0, first).map(toAccount);
      return { items, hasNextPage: rows.length > first, endCursor: items.at(-1)?.id ?? null };
    },

    async getAccounts(ids): Promise<Map<string, CrmAccount>> {
      const rows = await byIds('Account', ACCOUNT_FIELDS, 'Id', ids);
      return keyed(ids, new Map(rows.map((row) => [String(row.Id), toAccount(row)])));
    },

    async getOpportunities(ids): Promise<Map<string, CrmOpportunity>> {
      const rows = await byIds('Opportunity', OPPORTUNITY_FIELDS, 'Id', ids);
      return keyed(ids, new Map(rows.map((row) => [String(row.Id), toOpportunity(row, currency)])));
    },

    async getOpportunitiesByAccount(accountIds): Promise<Map<string, CrmOpportunity[]>> {
      const rows = await byIds('Opportunity', OPPORTUNITY_FIELDS, 'AccountId', accountIds);
      return keyed(accountIds, grouped(rows, 'AccountId', (row) => toOpportunity(row, currency)), () => []);
    },

    async getOpportunityLines(opportunityIds): Promise<Map<string, CrmOpportunityLine[]>> {
      const rows = await byIds('OpportunityLineItem', LINE_FIELDS, 'OpportunityId', opportunityIds);
      return keyed(opportunityIds, grouped(rows, 'OpportunityId', (row) => toOpportunityLine(row, currency)), () => []);
    },

    async updateOpportunity(id: string, fields: OpportunityWriteBack): Promise<void> {
      await update('Opportunity', id, opportunityWriteBody(fields));
    },

    async updateAccount(id: string, fields: AccountWriteBack): Promise<void> {
      await update('Account', id, accountWriteBody(fields));
    },

    async findAccountCandidates({ nameTokens, domain }, limit = 200): Promise<CrmAccount[]> {
      const clauses = [
        ...nameTokens.filter((t) => t.length > 0).slice(0, 5).map((t) => `Name LIKE ${soqlContains(t)}`),
        ...(domain ? [`Website LIKE ${soqlContains(domain)}`] : []),
      ];
      if (clauses.length === 0) return [];
      const max = Math.max(1, Math.min(limit, MAX_PAGE));
      const rows = await queryAll('query.Account', `SELECT ${ACCOUNT_FIELDS} FROM Account WHERE ${clauses.join(' OR ')} ORDER BY Id LIMIT ${max}`);
      return rows.map(toAccount);
    },

    async findAccountByKey(key): Promise<CrmAccount | null> {
      const rows = await queryAll('query.Account', `SELECT ${ACCOUNT_FIELDS} FROM Account WHERE ${CUSTOMER_KEY_FIELD} = ${soqlString(key)} LIMIT 1`);
      return rows[0] ? toAccount(rows[0]) : null;
    },

    async upsertAccountByKey(key, fields): Promise<{ id: string; created: boolean }> {
      const body: Record<string, string | null> = {
        Name: fields.name,
        Website: fields.domain,
        ...(fields.parentId ? { ParentId: parseSalesforceId(fields.parentId) } : {}),
        ...(fields.correlationId ? { Concord_Correlation_Id__c: fields.correlationId } : {}),
        [CUSTOMER_KEY_FIELD]: key,
      };
      // An upsert on the key names its record, so retrying it after a lost answer is safe: the
      // retry updates the account the first attempt created instead of creating another.
      const result = await withPolicy('upsert.Account', true, async () => await conn.sobject('Account').upsert(body, CUSTOMER_KEY_FIELD));
      if (!result.success) {
        throw new ConcordError('VENDOR_REJECTED', 'Salesforce refused the account', { system: 'CRM', retryable: false });
      }
      return { id: result.id, created: result.created };
    },

    async listContracts({ first, after }): Promise<Page<CrmContract>> {
      if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) {
        throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 0 and ${MAX_PAGE}`);
      }
      const where = after ? ` WHERE Id > ${soqlString(parseSalesforceId(after))}` : '';
      const rows = await queryAll('query.Contract', `SELECT ${CONTRACT_FIELDS} FROM Contract${where} ORDER BY Id LIMIT ${first + 1}`);
      const items = rows.slice(0, first).map(toContract);
      return { items, hasNextPage: rows.length > first, endCursor: items.at(-1)?.id ?? null };
    },

    async updateContract(id, fields): Promise<void> {
      const body: Record<string, string> = {};
      if (fields.status !== undefined) body.Status = fields.status;
      if (fields.correlationId) body.Concord_Correlation_Id__c = fields.correlationId;
      const recordId = parseSalesforceId(id);
      const payload: Record<string, string | null> = { ...body };
      if (fields.endDate !== undefined) payload.EndDate = fields.endDate === null ? null : fields.endDate.slice(0, 10);
      if (Object.keys(payload).length === 0) return;
      await withPolicy('update.Contract', true, async () => {
        await conn.sobject('Contract').update({ Id: recordId, ...payload });
      });
    },

    async ping(): Promise<void> {
      // One attempt: readiness must report the vendor as it is now. /limits is cheap and needs no data access.
      await attempt('limits', false, async () => await conn.limits());
    },
  };
}
