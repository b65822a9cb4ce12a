/**
 * ErpPort over NetSuite REST web services. Reads are SuiteQL `IN` queries, one per chunk of ids;
 * writes are external-id upserts (`PUT /record/v1/{type}/eid:{id}`) keyed by the canonical id, so a
 * replay updates the record it created instead of adding another. The one delete (reverseInvoice)
 * is keyed the same way and treats "already gone" as done. Every failure goes through
 * errorFromNetSuite.
 */
import type { ErpCustomerProfile, ErpPosting, Money } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import { withRetries } from '../../core/retry';
import { netsuiteRetry } from './retry';
import type { VendorCallListener } from '../../core/vendor-call';
import { createNetSuiteClient, type NetSuiteClient, type NetSuiteRequest, type NetSuiteResponse } from './client';
import { netsuiteBulk } from './bulk';
import { errorFromNetSuite } from './errors';
import {
  POSTING_QUERY,
  PROFILE_QUERY,
  isExternalId,
  notPosted,
  postingFromRecord,
  postingFromRow,
  profileFromRecord,
  profileFromRow,
} from './mapping';
import type { ErpPort, ErpWriteOptions, ErpDocumentInput } from '../../subgraphs/erp/port';

export interface NetSuiteAdapterOptions {
  /** REST root: `https://{accountId}.suitetalk.api.netsuite.com` for the real account, e.g. http://127.0.0.1:4103 for the simulator. */
  baseUrl: string;
  /** Account id, the OAuth realm (for example '1234567' or '1234567_SB1'). */
  accountId: string;
  /** Integration record's consumer key and secret (TBA). */
  consumerKey: string;
  consumerSecret: string;
  /** Access token id and secret of the integration user (TBA). */
  tokenId: string;
  tokenSecret: string;
  /** Per-request timeout in ms. Default 10000. */
  timeoutMs?: number;
  /** Retries of a failed read (SuiteQL, GET) when the failure is retryable. Default netsuiteRetry.readRetries (2). */
  readRetries?: number;
  /**
   * Retries of a failed write inside the call. Default 0: the saga engine retries writes, one call
   * per attempt (retry.ts), so retries never multiply. Safe either way, as every write is an
   * external-id upsert or a delete by external id.
   */
  writeRetries?: number;
  /** Most requests in flight; keep at or below what the account grants this integration. Default 5. */
  concurrency?: number;
  /** The account's (single) currency, for Money values. Default 'USD'. */
  currency?: string;
  /** Item internal id used for every invoice line (a service item for subscription revenue). Default '500'. */
  itemId?: string;
  /** Subsidiary internal id of customers created by Concord. Default '1'. */
  subsidiaryId?: string;
  /** Told of every NetSuite call, for metrics. */
  onCall?: VendorCallListener;
  /** The process's NetSuite client (client.ts), shared with the change feed. Default: one of its own from the options above. */
  client?: NetSuiteClient;
}

const RECORD = '/services/rest/record/v1';
const SUITEQL = '/services/rest/query/v1/suiteql';
/** Ids per SuiteQL `IN` list: keeps the query text well under NetSuite's limits. */
const CHUNK = 500;
/** SuiteQL's largest page. */
const PAGE = 1000;

interface SuiteQLPage {
  items: Record<string, string | undefined>[];
  hasMore: boolean;
}

const unique = (ids: readonly string[]) => [...new Set(ids)];
const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

export function createNetSuiteAdapter(options: NetSuiteAdapterOptions): ErpPort {
  const {
    readRetries = netsuiteRetry.readRetries,
    writeRetries = 0,
    currency = 'USD',
    itemId = '500',
    subsidiaryId = '1',
  } = options;
  const client = options.client ?? createNetSuiteClient(options);

  /** One request; anything but 2xx becomes a ConcordError. */
  async function call(request: NetSuiteRequest, write: boolean): Promise<NetSuiteResponse> {
    let response: NetSuiteResponse;
    try {
      response = await client.request(request);
    } catch (error) {
      throw errorFromNetSuite({ error }, { operation: request.operation, write });
    }
    if (response.status >= 200 && response.status < 300) return response;
    throw errorFromNetSuite({ response }, { operation: request.operation, write });
  }

  const policy = { baseDelayMs: netsuiteRetry.baseDelayMs, maxDelayMs: netsuiteRetry.maxDelayMs, retryAfterMaxMs: netsuiteRetry.retryAfterMaxMs };
  const read = (request: NetSuiteRequest) => withRetries(() => call(request, false), { ...policy, retries: readRetries });
  // An external-id upsert names its record, so sending it again after an uncertain outcome (timeout,
  // 5xx) cannot create a second one: it updates the record the first attempt may have made.
  const write = (request: NetSuiteRequest) => withRetries(() => call(request, true), { ...policy, retries: writeRetries });

  function expectObject(response: NetSuiteResponse, operation: string): Record<string, unknown> {
    if (typeof response.body !== 'object' || response.body === null) {
      throw new ConcordError('VENDOR_UNAVAILABLE', `NetSuite ${operation} returned an unreadable response`, { system: 'ERP', status: response.status });
    }
    return response.body as Record<string, unknown>;
  }

  /** All rows of a SuiteQL query, following hasMore page by page. */
  async function suiteql(q: string): Promise<SuiteQLPage['items']> {
    const rows: SuiteQLPage['items'] = [];
    for (let offset = 0; ; ) {
      const response = await read({
        method: 'POST',
        path: SUITEQL,
        query: { limit: PAGE, offset },
        headers: { prefer: 'transient' },
        body: { q },
        operation: 'suiteql',
      });
      const page = expectObject(response, 'suiteql') as Partial<SuiteQLPage>;
      if (!Array.isArray(page.items)) throw new ConcordError('VENDOR_UNAVAILABLE', 'NetSuite suiteql returned no items', { system: 'ERP' });
      rows.push(...page.items);
      if (!page.hasMore || page.items.length === 0) return rows;
      offset += page.items.length;
    }
  }

  function requireExternalId(id: string, what: string): void {
    if (!isExternalId(id)) {
      throw new ConcordError('BAD_USER_INPUT', `${what} must contain only letters, digits, '_' and '-' to be an ERP external id`);
    }
  }

  const recordPath = (type: string, externalId: string) => `${RECORD}/${type}/eid:${externalId}`;

  async function readCustomer(customerId: string): Promise<ErpCustomerProfile> {
    const response = await read({ method: 'GET', path: recordPath('customer', customerId), operation: 'customer.get' });
    return profileFromRecord(expectObject(response, 'customer.get'), currency);
  }

  async function readInvoice(invoiceId: string): Promise<ErpPosting> {
    const response = await read({ method: 'GET', path: recordPath('invoice', invoiceId), operation: 'invoice.get' });
    return postingFromRecord(expectObject(response, 'invoice.get'), currency);
  }

  const decimal = (money: Money, field: string): number => {
    if (money.currency.toUpperCase() !== currency) {
      throw new ConcordError('VALIDATION_FAILED', `${field} is in ${money.currency}; the ERP account books in ${currency}`);
    }
    return Number(money.amount);
  };

  /**
   * The body of an invoice or credit memo upsert (sent with `?replace=item`: without it NetSuite
   * merges lines, and a replay would add them again).
   */
  const documentBody = (input: ErpDocumentInput, correlationId: string): Record<string, unknown> => {
    const tranDate = input.documentDate.slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(tranDate) || Number.isNaN(Date.parse(tranDate))) {
      throw new ConcordError('BAD_USER_INPUT', 'documentDate must be an ISO date');
    }
    return {
      // The customer is referenced by its external id, the canonical id: no lookup call needed.
      entity: { externalId: input.customerId },
      tranDate,
      memo: correlationId,
      custbody_concord_correlation_id: correlationId,
      taxTotal: decimal(input.tax, 'tax'),
      item: {
        items: input.lines.map((line) => ({
          item: { id: itemId },
          description: line.description,
          quantity: line.quantity,
          amount: decimal(line.amount, 'line amount'),
        })),
      },
    };
  };

  return {
    vendor: 'netsuite',

    async getCustomerProfiles(customerIds) {
      // An id that cannot be an external id cannot match a record: leave it out of the query.
      const wanted = unique(customerIds).filter(isExternalId);
      const profiles = new Map<string, ErpCustomerProfile>();
      await Promise.all(
        chunks(wanted, CHUNK).map(async (chunk) => {
          for (const row of await suiteql(PROFILE_QUERY(chunk))) {
            const profile = profileFromRow(row, currency);
            profiles.set(profile.customerId, profile);
          }
        }),
      );
      return profiles;
    },

    async getPostings(invoiceIds) {
      const postings = new Map<string, ErpPosting>(unique(invoiceIds).map((id) => [id, notPosted(id)]));
      const wanted = [...postings.keys()].filter(isExternalId);
      await Promise.all(
        chunks(wanted, CHUNK).map(async (chunk) => {
          for (const row of await suiteql(POSTING_QUERY(chunk))) {
            const posting = postingFromRow(row, currency);
            if (postings.has(posting.invoiceId)) postings.set(posting.invoiceId, posting);
          }
        }),
      );
      return postings;
    },

    async upsertCustomer(input, { correlationId }: ErpWriteOptions) {
      requireExternalId(input.customerId, 'customerId');
      await write({
        method: 'PUT',
        path: recordPath('customer', input.customerId),
        body: {
          companyName: input.companyName,
          ...(input.email !== undefined ? { email: input.email } : {}),
          ...(input.taxRegistration !== undefined ? { vatRegNumber: input.taxRegistration } : {}),
          subsidiary: { id: subsidiaryId },
          custentity_concord_correlation_id: correlationId,
        },
        operation: 'customer.upsert',
      });
      return readCustomer(input.customerId);
    },

    async postInvoice(input, { correlationId }: ErpWriteOptions) {
      requireExternalId(input.invoiceId, 'invoiceId');
      requireExternalId(input.customerId, 'customerId');
      const request: NetSuiteRequest = {
        method: 'PUT',
        path: recordPath('invoice', input.invoiceId),
        query: { replace: 'item' },
        body: documentBody(input, correlationId),
        operation: 'invoice.upsert',
      };
      try {
        await write(request);
      } catch (error) {
        if (!(error instanceof ConcordError) || error.code !== 'PERIOD_CLOSED') throw error;
        // A replay of a posting made before the period closed: the invoice is already in the
        // ledger as asked, which is success, not a failure to report.
        const existing = await readInvoice(input.invoiceId).catch(() => null);
        if (existing?.status === 'POSTED' && existing.total?.amount === input.total.amount) return existing;
        throw error;
      }
      return readInvoice(input.invoiceId);
    },

    async reverseInvoice(invoiceId) {
      // The correlation id has nowhere to go: a DELETE carries no body, and the record it would be
      // written on is the one being removed. NetSuite's deleted-records list keeps who deleted it.
      requireExternalId(invoiceId, 'invoiceId');
      try {
        // Under the write-retry policy although a DELETE is no upsert: deleting is idempotent in
        // effect. After an uncertain outcome (timeout, reset, 5xx) the record is either still there,
        // and the retry deletes it, or already gone, and the retry's 404 below counts as done; either
        // way the end state is the one a single delete would leave.
        await write({ method: 'DELETE', path: recordPath('invoice', invoiceId), operation: 'invoice.delete' });
      } catch (error) {
        // No such invoice: reversed before (by us or an earlier attempt whose answer was lost), or
        // never posted. The port's promise, "not in the ledger", holds either way.
        if (error instanceof ConcordError && error.code === 'NOT_FOUND') return;
        // PERIOD_CLOSED (NetSuite refuses to delete a posted transaction in a closed period) and
        // everything else leave as errorFromNetSuite made them.
        throw error;
      }
    },

    async setCreditHold(customerId, hold, { correlationId }: ErpWriteOptions) {
      requireExternalId(customerId, 'customerId');
      await write({
        method: 'PATCH',
        path: recordPath('customer', customerId),
        // Release returns to AUTO (NetSuite decides from the credit limit), not to a forced OFF.
        body: { creditHoldOverride: { id: hold ? 'ON' : 'AUTO' }, custentity_concord_correlation_id: correlationId },
        operation: 'customer.setCreditHold',
      });
      return readCustomer(customerId);
    },

    // Credit memos, bulk reads and duplicate search (netsuite/bulk.ts).
    ...netsuiteBulk({ read, write, suiteql, currency, requireExternalId, documentBody }),

    async ping() {
      await read({
        method: 'POST',
        path: SUITEQL,
        query: { limit: 1 },
        headers: { prefer: 'transient' },
        body: { q: 'SELECT id FROM accountingperiod' },
        operation: 'ping',
      });
    },
  };
}
