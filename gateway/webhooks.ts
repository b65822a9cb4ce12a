/**
 * Webhook ingress: `POST /webhooks/<vendor>`. The route only reads the raw body (signatures are
 * computed over the exact bytes, so it is never parsed or re-encoded here) and hands it to the
 * vendor's handler (vendors/stripe/webhooks.ts), which verifies, de-duplicates, normalises
 * and appends. The handler's status goes back as is: 2xx = acknowledged, 4xx = refused for good,
 * 5xx = "try again later" (vendors retry).
 */
import type http from 'node:http';
import type { Logger } from '../core/log';
import type { WebhookHandler } from '../core/webhooks';
import { throttledWarn } from '../core/log-throttle';
import { sendJson } from './http';

export type { WebhookHandler, WebhookRequest, WebhookResponse } from '../core/webhooks';

export interface WebhookRouteOptions {
  /** Vendor name (the path segment) -> handler. */
  handlers: Record<string, WebhookHandler>;
  /** Largest body accepted, in bytes (Stripe's events are well under). Default 1 MiB. */
  maxBodyBytes?: number;
  logger: Logger;
}

function readRaw(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The route; resolves true when it answered (the path was under /webhooks/). */
export function createWebhookRoute(options: WebhookRouteOptions) {
  const { handlers, maxBodyBytes = 1024 * 1024, logger } = options;
  // A failing dependency fails every delivery: one line per interval says so, with the count.
  const warn = throttledWarn(logger);
  return async function webhooks(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<boolean> {
    const match = /^\/webhooks\/([a-z0-9-]+)\/?$/.exec(pathname);
    if (!pathname.startsWith('/webhooks/')) return false;
    const handler = match ? handlers[match[1]] : undefined;
    if (!handler) {
      sendJson(res, 404, { error: `no webhook endpoint ${pathname}` });
      return true;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return true;
    }
    const body = await readRaw(req, maxBodyBytes);
    if (body === null) {
      sendJson(res, 413, { error: `body larger than ${maxBodyBytes} bytes` }, { connection: 'close' });
      return true;
    }
    try {
      const response = await handler({ body, headers: req.headers });
      sendJson(res, response.status, response.body);
    } catch (error) {
      warn(`failed:${match![1]}`, { err: error, vendor: match![1] }, 'webhook handling failed; the vendor will retry');
      sendJson(res, 500, { error: 'could not process the event now; retry later' });
    }
    return true;
  };
}
