/**
 * Chargebee webhook ingestion (`POST /webhooks/chargebee`). Chargebee authenticates its deliveries
 * with HTTP Basic auth: the user name and password set on the webhook endpoint (Chargebee docs,
 * "Webhooks - Securing webhooks"; chargebee-node's `basicAuthValidator`, used here with a
 * constant-time comparison). The body is the event object (`id`, `occurred_at`, `source`,
 * `event_type`, `api_version`, `content`), normalised to BusinessEvents and appended with the
 * Chargebee event id as dedupe key:
 *
 *   missing or wrong credentials       -> 401, nothing appended (Chargebee shows the delivery failed)
 *   not a v2 event object              -> 400
 *   a type Concord does not follow     -> 200, ignored
 *   a redelivery of an event seen      -> 200, not appended again (dedupe in the log)
 *   the log or Chargebee unreachable   -> 500, and Chargebee retries later
 *
 *   pending_invoice_created  -> INVOICE_CREATED       invoice_generated       -> INVOICE_FINALIZED
 *   payment_succeeded (paid) -> INVOICE_PAID          payment_failed          -> PAYMENT_FAILED
 *   invoice_updated (voided) -> INVOICE_VOIDED        subscription_created /
 *   subscription_changed     -> CONTRACT_AMENDED        subscription_activated -> CONTRACT_ACTIVATED
 *
 * An amendment Concord makes through the API stamps `concord_amendment_id` in the subscription's
 * meta_data; the orchestrator announces it itself, so Chargebee's echo (source 'api') is dropped.
 */
import { timingSafeEqual } from 'node:crypto';
import { basicAuthValidator } from 'chargebee';
import type { EventLog, NewBusinessEvent } from '../../core/events/event-log';
import type { Logger } from '../../core/log';
import { throttledWarn } from '../../core/log-throttle';
import type { WebhookHandler } from '../../core/webhooks';
import type { ChargebeeClient } from './client';
import { LINK_FIELD, META } from './mapping';

/** Canonical customer id of a Chargebee customer id, or null when it carries no link. */
export type ChargebeeCustomerLink = (chargebeeCustomerId: string) => Promise<string | null>;

export interface ChargebeeWebhookOptions {
  /** The endpoint's Basic-auth credentials as `user:password` (CHARGEBEE_WEBHOOK_USERNAME, CHARGEBEE_WEBHOOK_PASSWORD). */
  credentials: string;
  log: EventLog;
  customerLink: ChargebeeCustomerLink;
  logger: Logger;
}

type Json = Record<string, unknown>;

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const objectOf = (value: unknown): Json | null => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null);

function metaOf(subscription: Json | null): Json {
  const meta = subscription?.meta_data;
  if (typeof meta === 'string') {
    try {
      return JSON.parse(meta) as Json;
    } catch {
      return {};
    }
  }
  return objectOf(meta) ?? {};
}

export async function normalizeChargebeeEvent(event: Json, link: ChargebeeCustomerLink): Promise<NewBusinessEvent | null> {
  const type = String(event.event_type);
  const content = objectOf(event.content) ?? {};
  const invoice = objectOf(content.invoice);
  const subscription = objectOf(content.subscription);
  const customer = objectOf(content.customer);
  const meta = metaOf(subscription);
  const customerId = async (chargebeeCustomer: string | null) =>
    str(meta[META.customerId]) ?? str(customer?.[LINK_FIELD]) ?? (chargebeeCustomer ? await link(chargebeeCustomer) : null);
  const base = { occurredAt: new Date(Number(event.occurred_at) * 1000).toISOString(), source: 'BILLING' as const, runId: null };

  const invoiceTypes: Record<string, NewBusinessEvent['type'] | undefined> = {
    pending_invoice_created: 'INVOICE_CREATED',
    invoice_generated: 'INVOICE_FINALIZED',
    payment_succeeded: invoice?.status === 'paid' ? 'INVOICE_PAID' : undefined,
    payment_failed: 'PAYMENT_FAILED',
    invoice_updated: invoice?.status === 'voided' ? 'INVOICE_VOIDED' : undefined,
  };
  const invoiceType = invoice ? invoiceTypes[type] : undefined;
  if (invoice && invoiceType) {
    return {
      ...base,
      type: invoiceType,
      correlationId: str(meta[META.correlationId]),
      customerId: await customerId(str(invoice.customer_id)),
      contractId: str(invoice.subscription_id),
      invoiceId: str(invoice.id),
      data: { chargebeeEvent: String(event.id), number: invoice.status === 'pending' ? null : str(invoice.id), status: str(invoice.status) },
    };
  }
  if (!subscription) return null;
  let contractType: NewBusinessEvent['type'];
  if (type === 'subscription_activated' || (type === 'subscription_created' && subscription.status === 'active')) contractType = 'CONTRACT_ACTIVATED';
  else if (type === 'subscription_changed') {
    if (event.source === 'api' && str(meta[META.amendmentId])) return null;
    contractType = 'CONTRACT_AMENDED';
  } else return null;
  return {
    ...base,
    type: contractType,
    correlationId: str(meta[META.correlationId]),
    customerId: await customerId(str(subscription.customer_id)),
    contractId: str(subscription.id),
    invoiceId: str(invoice?.id),
    data: { chargebeeEvent: String(event.id), status: str(subscription.status) },
  };
}

export function createChargebeeWebhookHandler(options: ChargebeeWebhookOptions): WebhookHandler {
  const { credentials, log, customerLink, logger } = options;
  const separator = credentials.indexOf(':');
  const [user, password] = separator < 0 ? [credentials, ''] : [credentials.slice(0, separator), credentials.slice(separator + 1)];
  const validate = basicAuthValidator((u, p) => same(u, user) && same(p, password));
  const warn = throttledWarn(logger);
  return async ({ body, headers }) => {
    try {
      await validate(headers as Record<string, string | string[] | undefined>);
    } catch {
      warn('refused:auth', {}, 'chargebee webhook refused: authentication failed');
      return { status: 401, body: { error: 'authentication failed' } };
    }
    let event: Json | null;
    try {
      event = objectOf(JSON.parse(body.toString('utf8')));
    } catch {
      event = null;
    }
    if (!event || typeof event.id !== 'string' || typeof event.event_type !== 'string' || !objectOf(event.content)) {
      return { status: 400, body: { error: 'not a Chargebee event' } };
    }
    if (event.api_version !== undefined && event.api_version !== 'v2') return { status: 200, body: { received: true, ignored: `api_version ${String(event.api_version)}` } };
    let normalized: NewBusinessEvent | null;
    try {
      normalized = await normalizeChargebeeEvent(event, customerLink);
    } catch (error) {
      // Chargebee answering 4xx about the event's customer (deleted, another site): retrying the
      // delivery cannot fix it, and a 5xx would have Chargebee retry it for days.
      const status = (error as { http_status_code?: number } | null)?.http_status_code;
      if (status === undefined || status >= 500 || status === 429) throw error;
      warn('unprocessed:lookup', { chargebeeEvent: event.id, status }, 'chargebee webhook acknowledged but not usable');
      return { status: 200, body: { received: true, unprocessed: `chargebee refused a lookup (${status})` } };
    }
    if (!normalized) return { status: 200, body: { received: true, ignored: event.event_type } };
    const appended = await log.append({ ...normalized, dedupeKey: `chargebee:${event.id}` });
    logger.info({ chargebeeEvent: event.id, type: event.event_type, eventId: appended?.id ?? null, duplicate: appended === null }, 'chargebee webhook ingested');
    return { status: 200, body: { received: true, duplicate: appended === null, ...(appended ? { id: appended.id } : {}) } };
  };
}

/** Canonical ids of Chargebee customers, from their custom field, read once each (on the module's client). */
export function chargebeeCustomerLink(options: { client: ChargebeeClient; cacheSize?: number }): ChargebeeCustomerLink {
  const { client, cacheSize = 10_000 } = options;
  const links = new Map<string, string>();
  return async (id) => {
    const known = links.get(id);
    if (known) return known;
    const { customer } = await client.customer.retrieve(id);
    const link = str((customer as unknown as Json)[LINK_FIELD]);
    if (links.size >= cacheSize) links.delete(links.keys().next().value!);
    if (link) links.set(id, link);
    return link;
  };
}
