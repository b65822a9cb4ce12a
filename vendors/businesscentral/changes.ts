/**
 * Business Central changes as events, by polling `lastModifiedDateTime` (change feed for
 * subgraphs/events/poller.ts), through the process's one BC client:
 *
 *   customers modified since the mark         -> CUSTOMER_UPDATED (source ERP, with creditHold)
 *   sales invoices posted or modified since   -> INVOICE_POSTED (invoiceId = the billing invoice id in
 *                                                externalDocumentNumber), once per BC document
 *
 * Both reads go in one JSON $batch per poll. Polling rather than BC's webhook subscriptions:
 * a subscription needs a public HTTPS notificationUrl answering BC's validation handshake, expires
 * after three days and must be renewed, and its notifications only name the changed resource (a
 * read per change follows anyway) and are coalesced, sometimes as a bare "collection" notice that
 * asks the client to read everything since its last sync. One batched read per interval is fewer
 * requests and needs nothing reachable from the internet. The mark is the newest
 * lastModifiedDateTime seen; each poll re-reads `overlapMs` before it and drops what was reported
 * by dedupe key.
 */
import { createHash } from 'node:crypto';
import type { NewBusinessEvent } from '../../core/events/event-log';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import type { BusinessCentralClient } from './client';
import { fromCode } from './mapping';

export interface BusinessCentralChangesOptions {
  client: BusinessCentralClient;
  /** `companies({id})`, resolved as the adapter does. */
  companyPath: () => Promise<string>;
  /** Re-read window before the mark, ms. Default 5000. */
  overlapMs?: number;
  now?: () => number;
}

type Wire = Record<string, unknown>;

export function createBusinessCentralChangeFeed(options: BusinessCentralChangesOptions): ChangeFeed {
  const { client, companyPath, overlapMs = 5000, now = Date.now } = options;
  return {
    name: 'businesscentral',
    async poll(since) {
      if (since === null) return { events: [], next: new Date(now()).toISOString() };
      const from = new Date(Date.parse(since) - overlapMs).toISOString();
      const root = await companyPath();
      const filter = (extra = '') => encodeURIComponent(`lastModifiedDateTime gt ${from}${extra}`);
      const [customers, invoices] = await client.batch(
        [
          { id: 'customers', method: 'GET', url: `${root}/customers?$filter=${filter()}&$orderby=lastModifiedDateTime` },
          { id: 'invoices', method: 'GET', url: `${root}/salesInvoices?$filter=${filter(" and status ne 'Draft'")}&$orderby=lastModifiedDateTime` },
        ],
        'changes.batch',
      );
      for (const answer of [customers, invoices]) {
        if (answer.status !== 200) throw new Error(`Business Central change poll answered ${answer.status}`);
      }
      const rows = (answer: { body: unknown }) => ((answer.body as { value?: Wire[] } | null)?.value ?? []);
      let next = since;
      const advance = (row: Wire) => {
        const at = new Date(String(row.lastModifiedDateTime)).toISOString();
        if (at > next) next = at;
        return at;
      };
      const events: NewBusinessEvent[] = [];
      for (const row of rows(customers)) {
        const at = advance(row);
        const creditHold = row.blocked === 'Ship' || row.blocked === 'Invoice' || row.blocked === 'All';
        const digest = createHash('sha256').update(JSON.stringify({ name: row.displayName ?? null, creditHold })).digest('hex').slice(0, 16);
        events.push({
          type: 'CUSTOMER_UPDATED',
          occurredAt: at,
          correlationId: null,
          source: 'ERP',
          customerId: row.number ? fromCode(String(row.number)) : null,
          contractId: null,
          invoiceId: null,
          runId: null,
          dedupeKey: `erp:customer:${String(row.id)}:${at}:${digest}`,
          data: { erpId: String(row.id ?? '') || null, creditHold },
        });
      }
      for (const row of rows(invoices)) {
        const at = advance(row);
        if (row.status !== 'Open' && row.status !== 'Paid') continue;
        events.push({
          type: 'INVOICE_POSTED',
          occurredAt: at,
          correlationId: null,
          source: 'ERP',
          customerId: row.customerNumber ? fromCode(String(row.customerNumber)) : null,
          contractId: null,
          invoiceId: row.externalDocumentNumber ? fromCode(String(row.externalDocumentNumber)) : null,
          runId: null,
          dedupeKey: `erp:invoice-posted:${String(row.id)}`,
          data: { documentId: String(row.id ?? '') || null, documentNumber: typeof row.number === 'string' ? row.number : null },
        });
      }
      return { events, next };
    },
  };
}
