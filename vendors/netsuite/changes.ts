/**
 * NetSuite changes as events, by polling SuiteQL on `lastmodifieddate` (change feed for
 * subgraphs/events/poller.ts), through the same signed REST client as the ERP adapter:
 *
 *   customers modified since the mark          -> CUSTOMER_UPDATED (source ERP, with creditHold)
 *   customer invoices created or modified      -> INVOICE_POSTED (the billing invoice id is the
 *                                                 ERP invoice's externalid), once per ERP document:
 *                                                 the same dedupe key the orchestrator uses
 *
 * The mark has seconds precision (TO_CHAR of lastmodifieddate); the WHERE clause compares on the
 * day (`lastmodifieddate >= 'YYYY-MM-DD'`, which SuiteQL accepts everywhere) and the rows are then
 * cut at the mark minus `overlapMs` here. Already reported changes are dropped by their dedupe keys.
 * The NetSuite account's concurrency limit is shared with the ERP adapter: the feed sends its
 * requests through the process's one NetSuite client (client.ts), inside the same gate.
 */
import { createHash } from 'node:crypto';
import type { NewBusinessEvent } from '../../core/events/event-log';
import type { NetSuiteClient } from './client';
import type { ChangeFeed } from '../../subgraphs/events/poller';

const SUITEQL = '/services/rest/query/v1/suiteql';
const PAGE = 1000;

export interface NetSuiteChangesOptions {
  /** The process's NetSuite client (client.ts). Required. */
  client: NetSuiteClient;
  /** How far before the mark each poll re-reads, in ms. Default 5000. */
  overlapMs?: number;
  /** Clock, for the first mark. Default Date.now. */
  now?: () => number;
}

type Row = Record<string, string | undefined>;

/** 'YYYY-MM-DD HH24:MI:SS' (UTC) -> ISO-8601. */
const isoOf = (modified: string) => `${modified.replace(' ', 'T')}.000Z`;
const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;

export function createNetSuiteChangeFeed(options: NetSuiteChangesOptions): ChangeFeed {
  const { client, overlapMs = 5000, now = Date.now } = options;

  async function suiteql(q: string): Promise<Row[]> {
    const rows: Row[] = [];
    for (let offset = 0; ; ) {
      const response = await client.request({
        method: 'POST',
        path: SUITEQL,
        query: { limit: PAGE, offset },
        headers: { prefer: 'transient' },
        body: { q },
        operation: 'suiteql.changes',
      });
      if (response.status < 200 || response.status >= 300) throw new Error(`NetSuite SuiteQL answered ${response.status}`);
      const page = response.body as { items?: Row[]; hasMore?: boolean };
      rows.push(...(page.items ?? []));
      if (!page.hasMore || !page.items?.length) return rows;
      offset += page.items.length;
    }
  }

  return {
    name: 'netsuite',
    async poll(since) {
      if (since === null) return { events: [], next: new Date(now()).toISOString() };
      const fromMs = Date.parse(since) - overlapMs;
      const day = new Date(fromMs).toISOString().slice(0, 10);
      const modified = "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified";
      const [customers, invoices] = await Promise.all([
        suiteql(`SELECT id, externalid, companyname, creditholdoverride, ${modified} FROM customer WHERE lastmodifieddate >= ${sqlString(day)}`),
        suiteql(`SELECT id, tranid, externalid, entity, status, ${modified} FROM transaction WHERE type = 'CustInvc' AND lastmodifieddate >= ${sqlString(day)}`),
      ]);
      const recent = (row: Row) => row.modified !== undefined && Date.parse(isoOf(row.modified)) >= fromMs;
      const changedCustomers = customers.filter(recent);
      const changedInvoices = invoices.filter(recent);

      // The canonical customer of each invoice: its ERP customer's externalid.
      const entityIds = [...new Set(changedInvoices.map((i) => i.entity).filter((e): e is string => !!e))];
      const known = new Map(customers.map((c) => [c.id, c.externalid]));
      const missing = entityIds.filter((id) => !known.has(id) && /^\d+$/.test(id));
      if (missing.length) {
        for (const row of await suiteql(`SELECT id, externalid FROM customer WHERE id IN (${missing.join(', ')})`)) known.set(row.id, row.externalid);
      }

      let next = since;
      const advance = (row: Row) => {
        const at = isoOf(row.modified!);
        if (at > next) next = at;
        return at;
      };
      const events: NewBusinessEvent[] = [];
      for (const row of changedCustomers) {
        const at = advance(row);
        const fields = { name: row.companyname ?? null, creditHold: row.creditholdoverride === 'ON' };
        const digest = createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
        events.push({
          type: 'CUSTOMER_UPDATED',
          occurredAt: at,
          correlationId: null,
          source: 'ERP',
          customerId: row.externalid ?? null,
          contractId: null,
          invoiceId: null,
          runId: null,
          dedupeKey: `erp:customer:${row.id}:${row.modified}:${digest}`,
          data: { erpId: row.id ?? null, creditHold: fields.creditHold },
        });
      }
      for (const row of changedInvoices) {
        const at = advance(row);
        events.push({
          type: 'INVOICE_POSTED',
          occurredAt: at,
          correlationId: null,
          source: 'ERP',
          customerId: (row.entity && known.get(row.entity)) || null,
          contractId: null,
          invoiceId: row.externalid ?? null,
          runId: null,
          dedupeKey: `erp:invoice-posted:${row.id}`,
          data: { documentId: row.id ?? null, documentNumber: row.tranid ?? null },
        });
      }
      return { events, next };
    },
  };
}
