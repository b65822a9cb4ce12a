/**
 * HubSpot changes as events, by polling (change feed for subgraphs/events/poller.ts): companies
 * whose hs_lastmodifieddate moved since the high-water mark, with a CRM search sorted on it
 * (HubSpot CRM search guide: date properties are filtered with epoch milliseconds; search results
 * are eventually consistent, hence the overlap). Through the process's one HubSpot client, so
 * polls pass the account's and the search gates like every other call, at bulk priority.
 *
 * The events are the Salesforce feed's: a new company (createdate = hs_lastmodifieddate) is
 * CUSTOMER_CREATED with the customer master's dedupe key, any other change CUSTOMER_UPDATED keyed
 * by record, stamp and a hash of the fields Concord reports.
 */
import { createHash } from 'node:crypto';
import { withCapacityPriority } from '../../core/capacity';
import type { NewBusinessEvent } from '../../core/events/event-log';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import type { HubSpotClient } from './client';

export interface HubSpotChangesOptions {
  client: HubSpotClient;
  /** How far before the mark each poll re-reads, in ms. Default 5000. */
  overlapMs?: number;
  /** Records per poll (a search page holds at most 200). Default 200. */
  batchSize?: number;
  now?: () => number;
}

const PROPERTIES = ['name', 'concord_status', 'hs_parent_company_id', 'createdate', 'hs_lastmodifieddate'];

const iso = (value: string | null | undefined): string | null => {
  if (!value) return null;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
};

export function createHubSpotChangeFeed(options: HubSpotChangesOptions): ChangeFeed {
  const { client, overlapMs = 5000, batchSize = 200, now = Date.now } = options;
  return {
    name: 'hubspot',
    async poll(since) {
      if (since === null) return { events: [], next: new Date(now()).toISOString() };
      const from = String(Date.parse(since) - overlapMs);
      const page = await withCapacityPriority('bulk', () =>
        client.call(
          'changes.companies',
          async () =>
            await client.sdk.crm.companies.searchApi.doSearch({
              filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE' as never, value: from }] }],
              sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }] as unknown as string[],
              properties: PROPERTIES,
              limit: Math.min(200, batchSize),
            }, client.callOptions),
          { search: true },
        ),
      );
      let next = since;
      const events: NewBusinessEvent[] = [];
      for (const row of page.results) {
        const p = row.properties ?? {};
        const stamp = iso(p.hs_lastmodifieddate);
        if (!stamp) continue;
        if (stamp > next) next = stamp;
        const fields = { name: p.name ?? null, status: p.concord_status ?? null, parentId: p.hs_parent_company_id ?? null };
        const digest = createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
        const created = iso(p.createdate) === stamp;
        events.push({
          type: created ? 'CUSTOMER_CREATED' : 'CUSTOMER_UPDATED',
          occurredAt: stamp,
          correlationId: null,
          source: 'CRM',
          customerId: row.id,
          contractId: null,
          invoiceId: null,
          runId: null,
          dedupeKey: created ? `customer-created:${row.id}` : `crm:company:${row.id}:${stamp}:${digest}`,
          data: { name: fields.name, status: fields.status },
        });
      }
      return { events, next };
    },
  };
}
