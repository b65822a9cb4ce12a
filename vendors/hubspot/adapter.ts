/**
 * The HubSpot adapter behind CrmPort, on @hubspot/api-client. Batched throughout: accounts and
 * deals are batch reads (up to 100 ids a request), a deal's company and line items come from the
 * v4 associations batch read (up to 1000 ids a request), lists and candidate searches are CRM
 * searches keyset-paged on hs_object_id (search pages hold at most 200 records). Reads are retried
 * by policy (retry.ts) while the daily allocation allows; writes are left to the saga engine.
 * Concord's own fields are concord_* custom properties; the customer-master upsert is HubSpot's
 * batch upsert on the unique-value property concord_customer_key (idProperty), so a retry after a
 * lost answer finds the first attempt's company.
 */
import type { AccountWriteBack, CrmAccount, CrmContract, CrmOpportunity, CrmOpportunityLine, OpportunityWriteBack, Page } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { withRetries } from '../../core/retry';
import type { VendorCallListener } from '../../core/vendor-call';
import type { CrmPort } from '../../subgraphs/crm/port';
import { createHubSpotClient, type HubSpotClient } from './client';
import { errorFromHubSpot } from './errors';
import {
  COMPANY_PROPERTIES,
  CONTRACT_PROPERTIES,
  CUSTOMER_KEY_PROPERTY,
  DEAL_PROPERTIES,
  LINE_ITEM_PROPERTIES,
  companyWriteBody,
  dealWriteBody,
  isHubSpotId,
  parseHubSpotId,
  toAccount,
  toContract,
  toOpportunity,
  toOpportunityLine,
  type HubSpotRecord,
} from './mapping';
import { hubspotRetry } from './retry';

export interface HubSpotAdapterOptions {
  /** The process's HubSpot client (client.ts). Default: one of its own from baseUrl and accessToken. */
  client?: HubSpotClient;
  baseUrl?: string;
  accessToken?: string;
  /** Retries after the first attempt of a read. Default hubspotRetry.readRetries (2). */
  retries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  requestTimeoutMs?: number;
  /** The account's currency for amounts without deal_currency_code. Default 'USD'. */
  currency?: string;
  /** Fraction of the daily allocation above which failed calls are not retried. Default 0.95. */
  budgetReserve?: number;
  onCall?: VendorCallListener;
}

/** HubSpot batch read/update: at most 100 inputs (CRM API v3 "Batch" endpoints). */
const BATCH = 100;
/** Associations v4 batch read: at most 1000 inputs. */
const ASSOCIATION_BATCH = 1000;
/** CRM search: at most 200 records a page. */
const SEARCH_PAGE = 200;
/** Largest page listAccounts / listContracts serve. */
const MAX_PAGE = 2000;
/** HubSpot-defined association type "child company to parent company" (associations v4 type ids). */
const CHILD_TO_PARENT_COMPANY = 14;

class StopRetrying extends Error {
  constructor(readonly error: ConcordError) {
    super(error.message);
  }
}

type Filter = { propertyName: string; operator: string; value?: string; values?: string[] };
type SearchBody = { filterGroups: { filters: Filter[] }[]; sorts?: unknown[]; properties: string[]; limit: number; after?: string };

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const record = (r: { id: string; properties: Record<string, string | null> }): HubSpotRecord => ({ id: r.id, properties: r.properties ?? {} });

export function createHubSpotAdapter(options: HubSpotAdapterOptions): CrmPort {
  const {
    retries = hubspotRetry.readRetries,
    baseDelayMs = hubspotRetry.baseDelayMs,
    maxDelayMs = hubspotRetry.maxDelayMs,
    currency = 'USD',
    budgetReserve = 0.95,
  } = options;
  const client =
    options.client ??
    createHubSpotClient({ accessToken: options.accessToken ?? '', baseUrl: options.baseUrl, requestTimeoutMs: options.requestTimeoutMs, onCall: options.onCall });
  const { sdk, callOptions: opts } = client;
  const contracts = client.settings.contractObjectType;
  const budgetLow = () => {
    const usage = client.usage();
    return usage !== undefined && usage.used >= budgetReserve * usage.max;
  };

  async function attempt<T>(operation: string, write: boolean, call: () => Promise<T>, search: boolean): Promise<T> {
    try {
      return await client.call(operation, call, { search });
    } catch (error) {
      throw errorFromHubSpot(error, { operation, write });
    }
  }

  /** As the Salesforce adapter: retries by policy, none into a nearly spent daily allocation. */
  async function withPolicy<T>(operation: string, write: boolean, call: () => Promise<T>, search = false): Promise<T> {
    try {
      return await withRetries(
        async () => {
          try {
            return await attempt(operation, write, call, search);
          } catch (error) {
            if (!(error instanceof ConcordError) || !error.retryable || !budgetLow()) throw error;
            if (write) throw new StopRetrying(error);
            const usage = client.usage()!;
            throw new StopRetrying(
              new ConcordError('VENDOR_RATE_LIMITED', `HubSpot daily API allocation nearly used (${usage.used}/${usage.max}); ${operation} not retried`, {
                system: 'CRM',
                retryable: true,
                vendorCode: error.vendorCode,
                status: error.status,
                cause: error,
              }),
            );
          }
        },
        { retries: write ? 0 : retries, baseDelayMs, maxDelayMs, retryAfterMaxMs: hubspotRetry.retryAfterMaxMs },
      );
    } catch (error) {
      throw error instanceof StopRetrying ? error.error : error;
    }
  }

  /** Records of `objectType` by id: one batch read per 100 ids; unknown ids are left out. */
  async function batchRead(objectType: string, ids: readonly string[], properties: string[]): Promise<Map<string, HubSpotRecord>> {
    const unique = [...new Set(ids.map(parseHubSpotId))];
    const pages = await Promise.all(
      chunks(unique, BATCH).map((chunk) =>
        withPolicy(`${objectType}.batch.read`, false, async () => await sdk.crm.objects.batchApi.read(objectType, { inputs: chunk.map((id) => ({ id })), properties, propertiesWithHistory: [] }, undefined, opts)),
      ),
    );
    return new Map(pages.flatMap((page) => page.results.map((r) => [r.id, record(r)] as const)));
  }

  /** Ids associated from each of `ids` to `toType` (v4 batch read, one request per 1000 ids). */
  async function associated(fromType: string, toType: string, ids: readonly string[]): Promise<Map<string, string[]>> {
    const unique = [...new Set(ids.map(parseHubSpotId))];
    const pages = await Promise.all(
      chunks(unique, ASSOCIATION_BATCH).map((chunk) =>
        withPolicy(`associations.${fromType}.${toType}`, false, async () => await sdk.crm.associations.v4.batchApi.getPage(fromType, toType, { inputs: chunk.map((id) => ({ id })) }, opts)),
      ),
    );
    const out = new Map<string, string[]>();
    for (const page of pages) for (const row of page.results) out.set(String(row._from.id), row.to.map((t) => String(t.toObjectId)));
    return out;
  }

  async function search(objectType: string, body: SearchBody): Promise<{ results: HubSpotRecord[]; after?: string }> {
    const page = await withPolicy(`${objectType}.search`, false, async () => await sdk.crm.objects.searchApi.doSearch(objectType, body as never, opts), true);
    return { results: page.results.map(record), after: page.paging?.next?.after };
  }

  /** `first` records of `objectType` with ids above `after`, ordered by id, and whether more follow. */
  async function keysetPage(objectType: string, properties: string[], first: number, after: string | null | undefined): Promise<{ items: HubSpotRecord[]; more: boolean }> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new ConcordError('BAD_USER_INPUT', `first must be an integer between 0 and ${MAX_PAGE}`);
    let cursor = after ? parseHubSpotId(after) : null;
    const items: HubSpotRecord[] = [];
    // One search per 200 records; each continues above the last id (the cursor), never by offset.
    while (items.length < first + 1) {
      const limit = Math.min(SEARCH_PAGE, first + 1 - items.length);
      const filters: Filter[] = cursor ? [{ propertyName: 'hs_object_id', operator: 'GT', value: cursor }] : [];
      const page = await search(objectType, {
        filterGroups: filters.length ? [{ filters }] : [],
        sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
        properties,
        limit,
      });
      items.push(...page.results);
      if (page.results.length < limit) break;
      cursor = page.results.at(-1)!.id;
    }
    return { items: items.slice(0, first), more: items.length > first };
  }

  function keyed<T>(ids: readonly string[], found: Map<string, T>, missing?: () => T): Map<string, T> {
    const out = new Map<string, T>();
    for (const id of ids) {
      const value = found.get(id) ?? missing?.();
      if (value !== undefined) out.set(id, value);
    }
    return out;
  }

  /** Deals with their company (the first associated one, HubSpot's primary in practice). */
  async function deals(ids: readonly string[]): Promise<CrmOpportunity[]> {
    const [records, companies] = await Promise.all([batchRead('deals', ids, DEAL_PROPERTIES), associated('deals', 'companies', ids)]);
    return [...records.values()].map((r) => toOpportunity(r, companies.get(r.id)?.[0] ?? null, currency));
  }

  async function update(objectType: string, id: string, properties: Record<string, string>): Promise<void> {
    const recordId = parseHubSpotId(id);
    if (Object.keys(properties).length === 0) return;
    // A PATCH of the same values is idempotent: the engine may retry it after an uncertain outcome.
    await withPolicy(`${objectType}.update`, true, async () => await sdk.crm.objects.basicApi.update(objectType, recordId, { properties }, undefined, opts));
  }

  async function setParent(id: string, parentId: string): Promise<void> {
    const parent = parseHubSpotId(parentId);
    await withPolicy('associations.companies.parent', true, async () =>
      await sdk.crm.associations.v4.basicApi.create('companies', id, 'companies', parent, [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: CHILD_TO_PARENT_COMPANY }], opts),
    );
  }

  return {
    vendor: 'hubspot',

    isRecordId: isHubSpotId,

    async listAccounts({ first, after }): Promise<Page<CrmAccount>> {
      const { items, more } = await keysetPage('companies', COMPANY_PROPERTIES, first, after);
      const accounts = items.map(toAccount);
      return { items: accounts, hasNextPage: more, endCursor: accounts.at(-1)?.id ?? null };
    },

    async getAccounts(ids): Promise<Map<string, CrmAccount>> {
      const records = await batchRead('companies', ids, COMPANY_PROPERTIES);
      return keyed(ids, new Map([...records].map(([id, r]) => [id, toAccount(r)])));
    },

    async getOpportunities(ids): Promise<Map<string, CrmOpportunity>> {
      const found = await deals(ids);
      return keyed(ids, new Map(found.map((o) => [o.id, o])));
    },

    async getOpportunitiesByAccount(accountIds): Promise<Map<string, CrmOpportunity[]>> {
      const byCompany = await associated('companies', 'deals', accountIds);
      const dealIds = [...new Set([...byCompany.values()].flat())];
      const records = dealIds.length ? await batchRead('deals', dealIds, DEAL_PROPERTIES) : new Map<string, HubSpotRecord>();
      const grouped = new Map<string, CrmOpportunity[]>();
      for (const [companyId, ids] of byCompany) {
        grouped.set(companyId, ids.flatMap((id) => (records.has(id) ? [toOpportunity(records.get(id)!, companyId, currency)] : [])));
      }
      return keyed(accountIds, grouped, () => []);
    },

    async getOpportunityLines(opportunityIds): Promise<Map<string, CrmOpportunityLine[]>> {
      const byDeal = await associated('deals', 'line_items', opportunityIds);
      const lineIds = [...new Set([...byDeal.values()].flat())];
      const records = lineIds.length ? await batchRead('line_items', lineIds, LINE_ITEM_PROPERTIES) : new Map<string, HubSpotRecord>();
      const grouped = new Map<string, CrmOpportunityLine[]>();
      for (const [dealId, ids] of byDeal) grouped.set(dealId, ids.flatMap((id) => (records.has(id) ? [toOpportunityLine(records.get(id)!, dealId, currency)] : [])));
      return keyed(opportunityIds, grouped, () => []);
    },

    async updateOpportunity(id: string, fields: OpportunityWriteBack): Promise<void> {
      await update('deals', id, dealWriteBody(fields));
    },

    async updateAccount(id: string, fields: AccountWriteBack): Promise<void> {
      parseHubSpotId(id);
      await update('companies', id, companyWriteBody(fields));
      if (fields.parentId) await setParent(id, fields.parentId);
    },

    async findAccountCandidates({ nameTokens, domain }, limit = 200): Promise<CrmAccount[]> {
      // Filter groups are ORed (at most 5 groups, HubSpot search "Filter search results").
      const groups = [
        ...nameTokens.filter((t) => t.length > 0).slice(0, domain ? 4 : 5).map((t) => ({ filters: [{ propertyName: 'name', operator: 'CONTAINS_TOKEN', value: `*${t}*` }] })),
        ...(domain ? [{ filters: [{ propertyName: 'domain', operator: 'CONTAINS_TOKEN', value: `*${domain}*` }] }] : []),
      ];
      if (groups.length === 0) return [];
      const max = Math.max(1, Math.min(limit, SEARCH_PAGE));
      const page = await search('companies', { filterGroups: groups, sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }], properties: COMPANY_PROPERTIES, limit: max });
      return page.results.map(toAccount);
    },

    async findAccountByKey(key): Promise<CrmAccount | null> {
      const page = await search('companies', { filterGroups: [{ filters: [{ propertyName: CUSTOMER_KEY_PROPERTY, operator: 'EQ', value: key }] }], properties: COMPANY_PROPERTIES, limit: 1 });
      return page.results[0] ? toAccount(page.results[0]) : null;
    },

    async upsertAccountByKey(key, fields): Promise<{ id: string; created: boolean }> {
      const properties: Record<string, string> = {
        name: fields.name,
        ...(fields.domain ? { domain: fields.domain } : {}),
        ...(fields.correlationId ? { concord_correlation_id: fields.correlationId } : {}),
      };
      // Upsert by a unique-value property names its record, so a retry after a lost answer updates
      // the company the first attempt created (CRM API v3 batch/upsert with idProperty).
      const answer = await withPolicy('companies.batch.upsert', true, async () =>
        await sdk.crm.companies.batchApi.upsert({ inputs: [{ id: key, idProperty: CUSTOMER_KEY_PROPERTY, properties }] }, opts),
      );
      const result = answer.results[0];
      if (!result) throw new ConcordError('VENDOR_REJECTED', 'HubSpot refused the company', { system: 'CRM', retryable: false });
      if (fields.parentId) await setParent(result.id, fields.parentId);
      return { id: result.id, created: result._new === true };
    },

    async listContracts({ first, after }): Promise<Page<CrmContract>> {
      const { items, more } = await keysetPage(contracts, CONTRACT_PROPERTIES, first, after);
      const rows = items.map(toContract);
      return { items: rows, hasNextPage: more, endCursor: rows.at(-1)?.id ?? null };
    },

    async updateContract(id, fields): Promise<void> {
      const properties: Record<string, string> = {};
      if (fields.status !== undefined) properties.concord_contract_status = fields.status;
      // An empty string clears a HubSpot property.
      if (fields.endDate !== undefined) properties.concord_end_date = fields.endDate === null ? '' : fields.endDate.slice(0, 10);
      if (fields.correlationId) properties.concord_correlation_id = fields.correlationId;
      await update(contracts, id, properties);
    },

    async ping(): Promise<void> {
      // One attempt: readiness reports HubSpot as it is now. A one-company page is the cheapest read.
      await attempt('companies.list', false, async () => await sdk.crm.companies.basicApi.getPage(1, undefined, undefined, undefined, undefined, undefined, opts), false);
    },
  };
}
