/**
 * Salesforce changes as events, by polling (change feed for subgraphs/events/poller.ts): accounts
 * whose SystemModstamp moved since the high-water mark, with SOQL through jsforce:
 *
 *   SELECT ... FROM Account WHERE SystemModstamp >= <mark - overlap> ORDER BY SystemModstamp, Id
 *
 * Through the process's one Salesforce client (client.ts), so polls are metered with every other call.
 * SystemModstamp (not LastModifiedDate) because system changes move it too, and it is indexed.
 * The window re-reads `overlapMs` before the mark: a transaction that committed late with an earlier
 * stamp is still seen; what was already appended is dropped by its dedupe key (record, stamp, and a
 * hash of the fields Concord reports, so two changes in the same second are both reported).
 * A new account (CreatedDate = SystemModstamp) is CUSTOMER_CREATED, any other change CUSTOMER_UPDATED.
 */
import { createHash } from 'node:crypto';
import type { NewBusinessEvent } from '../../core/events/event-log';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import type { SalesforceClient } from './client';
import { callContext } from './transport';

export interface SalesforceChangesOptions {
  /** The process's Salesforce client (client.ts): the poller's calls are observed and counted like the adapter's. Required. */
  client: SalesforceClient;
  /** How far before the mark each poll re-reads, in ms. Default 5000. */
  overlapMs?: number;
  /** Records per poll; the next poll continues from the last one's stamp. Default 500. */
  batchSize?: number;
  /** Clock, for the first mark. Default Date.now. */
  now?: () => number;
}

interface AccountRow {
  Id: string;
  Name: string | null;
  CreatedDate: string;
  SystemModstamp: string;
  Concord_Status__c: string | null;
  ParentId: string | null;
}

/** A SOQL datetime literal (UTC, seconds precision; SOQL literals are not quoted). */
function soqlDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Salesforce's `2026-05-01T10:00:00.000+0000` as ISO-8601. */
const isoOf = (stamp: string) => new Date(Date.parse(stamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'))).toISOString();

export function createSalesforceChangeFeed(options: SalesforceChangesOptions): ChangeFeed {
  const { client, overlapMs = 5000, batchSize = 500, now = Date.now } = options;

  return {
    name: 'salesforce',
    async poll(since) {
      if (since === null) return { events: [], next: new Date(now()).toISOString() };
      const from = soqlDateTime(Date.parse(since) - overlapMs);
      const soql =
        'SELECT Id, Name, CreatedDate, SystemModstamp, Concord_Status__c, ParentId FROM Account ' +
        `WHERE SystemModstamp >= ${from} ORDER BY SystemModstamp ASC, Id ASC LIMIT ${batchSize}`;
      const result = await client.gate.run(() => callContext.run({ operation: 'changes.Account' }, async () => await client.conn.query<AccountRow>(soql)));
      let next = since;
      const events: NewBusinessEvent[] = result.records.map((row) => {
        const stamp = isoOf(row.SystemModstamp);
        if (stamp > next) next = stamp;
        const fields = { name: row.Name, status: row.Concord_Status__c, parentId: row.ParentId };
        const digest = createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
        const created = row.CreatedDate === row.SystemModstamp;
        return {
          type: created ? 'CUSTOMER_CREATED' : 'CUSTOMER_UPDATED',
          occurredAt: stamp,
          correlationId: null,
          source: 'CRM',
          customerId: row.Id,
          contractId: null,
          invoiceId: null,
          runId: null,
          // A customer is created once: the customer master (upsertCustomer) appends the same key,
          // so whichever sees the creation first reports it, and only once.
          dedupeKey: created ? `customer-created:${row.Id}` : `crm:Account:${row.Id}:${row.SystemModstamp}:${digest}`,
          data: { name: row.Name, status: row.Concord_Status__c },
        } satisfies NewBusinessEvent;
      });
      return { events, next };
    },
  };
}
