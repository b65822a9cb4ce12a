/**
 * The contract between the gateway's webhook ingress (gateway/webhooks.ts, `POST /webhooks/<vendor>`)
 * and a vendor module's handler (vendors/stripe/webhooks.ts): raw bytes in, a status out. Here, in
 * core/, so that neither side imports the other.
 */
import type http from 'node:http';

export interface WebhookRequest {
  /** The body exactly as received. */
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

export type WebhookHandler = (request: WebhookRequest) => Promise<WebhookResponse>;
