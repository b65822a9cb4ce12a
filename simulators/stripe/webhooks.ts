/**
 * Webhook delivery as Stripe does it (https://docs.stripe.com/webhooks): every event the simulator
 * records is POSTed as JSON to the configured endpoint with a `Stripe-Signature: t=<unix>,v1=<hex>`
 * header, v1 = HMAC-SHA256(secret, "<t>.<body>"), signed afresh on each attempt. Anything but a
 * 2xx answer (or no answer) is retried with exponential backoff until `maxAttempts`; Stripe retries
 * for up to three days, the simulator in seconds so that tests can watch it. Events are delivered
 * independently of each other, so they may arrive out of order, as on Stripe.
 *
 * Control: POST /__sim/webhooks { url, secret, enabledEvents?, maxAttempts?, baseDelayMs?, maxDelayMs? },
 * GET /__sim/webhooks (endpoint and delivery counts), DELETE /__sim/webhooks.
 */
import { createHmac } from 'node:crypto';
import type { SimRoute } from '../common/sim-server';
import type { EventObject } from './store';

export interface WebhookEndpoint {
  url: string;
  /** Signing secret (`whsec_...`). */
  secret: string;
  /** Event types sent; '*' = all. Default ['*']. */
  enabledEvents: string[];
  /** Attempts per event before it is given up. Default 12. */
  maxAttempts: number;
  /** First retry delay in ms, doubled each time. Default 200. */
  baseDelayMs: number;
  /** Longest retry delay in ms. Default 5000. */
  maxDelayMs: number;
}

export interface WebhookStats {
  endpoint: { url: string; enabledEvents: string[] } | null;
  /** Events handed to the sender. */
  queued: number;
  /** Events the endpoint acknowledged (2xx). */
  delivered: number;
  /** Attempts that failed (non-2xx or no answer). */
  failedAttempts: number;
  /** Events given up after maxAttempts. */
  abandoned: number;
  /** Events still being tried. */
  pending: number;
}

/** The Stripe-Signature header for `payload` at unix time `t`. */
export function stripeSignatureHeader(payload: string, secret: string, t = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${payload}`, 'utf8').digest('hex');
  return `t=${t},v1=${v1}`;
}

export function createWebhookSender() {
  let endpoint: WebhookEndpoint | null = null;
  let generation = 0;
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<AbortController>();
  let stats = { queued: 0, delivered: 0, failedAttempts: 0, abandoned: 0, pending: 0 };

  const wanted = (target: WebhookEndpoint, type: string) => target.enabledEvents.some((pattern) => pattern === '*' || pattern === type);

  async function attempt(target: WebhookEndpoint, event: EventObject, body: string, number: number, gen: number): Promise<void> {
    if (gen !== generation) return; // endpoint changed or removed meanwhile
    const controller = new AbortController();
    inFlight.add(controller);
    const timeout = setTimeout(() => controller.abort(), 10_000);
    let ok = false;
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'stripe-signature': stripeSignatureHeader(body, target.secret),
        },
        body,
        signal: controller.signal,
      });
      ok = response.ok;
      await response.arrayBuffer().catch(() => undefined);
    } catch {
      ok = false;
    } finally {
      clearTimeout(timeout);
      inFlight.delete(controller);
    }
    if (gen !== generation) return;
    if (ok) {
      stats.delivered += 1;
      stats.pending -= 1;
      return;
    }
    stats.failedAttempts += 1;
    if (number >= target.maxAttempts) {
      stats.abandoned += 1;
      stats.pending -= 1;
      return;
    }
    const delay = Math.min(target.maxDelayMs, target.baseDelayMs * 2 ** (number - 1));
    const timer = setTimeout(() => {
      timers.delete(timer);
      void attempt(target, event, body, number + 1, gen);
    }, delay);
    timer.unref();
    timers.add(timer);
  }

  function cancelAll(): void {
    generation += 1;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const controller of inFlight) controller.abort();
    stats.pending = 0;
  }

  return {
    /** Hand an event over for delivery (no-op without an endpoint or when its type is not enabled). */
    send(event: EventObject): void {
      const target = endpoint;
      if (!target || !wanted(target, event.type)) return;
      stats.queued += 1;
      stats.pending += 1;
      const body = JSON.stringify(event, null, 2);
      // Asynchronously, as Stripe: the API call that caused the event has answered first.
      setImmediate(() => void attempt(target, event, body, 1, generation));
    },
    /** Set (or remove) the endpoint; deliveries to the previous one stop, counts start over. */
    configure(next: WebhookEndpoint | null): void {
      cancelAll();
      endpoint = next;
      stats = { queued: 0, delivered: 0, failedAttempts: 0, abandoned: 0, pending: 0 };
    },
    stats(): WebhookStats {
      return { endpoint: endpoint ? { url: endpoint.url, enabledEvents: endpoint.enabledEvents } : null, ...stats };
    },
    resetStats(): void {
      stats = { ...stats, queued: 0, delivered: 0, failedAttempts: 0, abandoned: 0 };
    },
    close(): void {
      cancelAll();
      endpoint = null;
    },
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;

/** The `/__sim/webhooks` control routes. */
export function webhookControlRoutes(sender: WebhookSender): SimRoute[] {
  return [
    {
      method: 'POST',
      pattern: '/__sim/webhooks',
      handler: (req) => {
        let body: Partial<WebhookEndpoint>;
        try {
          body = req.body ? (JSON.parse(req.body) as Partial<WebhookEndpoint>) : {};
        } catch {
          return { status: 400, body: { error: 'body must be JSON' } };
        }
        if (typeof body.url !== 'string' || !/^https?:\/\//.test(body.url)) return { status: 400, body: { error: 'url must be an http(s) URL' } };
        if (typeof body.secret !== 'string' || body.secret.length < 8) return { status: 400, body: { error: 'secret is required' } };
        const positive = (value: unknown, fallback: number) => (typeof value === 'number' && value > 0 ? value : fallback);
        sender.configure({
          url: body.url,
          secret: body.secret,
          enabledEvents: Array.isArray(body.enabledEvents) && body.enabledEvents.length ? body.enabledEvents.map(String) : ['*'],
          maxAttempts: positive(body.maxAttempts, 12),
          baseDelayMs: positive(body.baseDelayMs, 200),
          maxDelayMs: positive(body.maxDelayMs, 5000),
        });
        return { status: 200, body: sender.stats() };
      },
    },
    { method: 'GET', pattern: '/__sim/webhooks', handler: () => ({ status: 200, body: sender.stats() }) },
    {
      method: 'DELETE',
      pattern: '/__sim/webhooks',
      handler: () => {
        sender.configure(null);
        return { status: 200, body: sender.stats() };
      },
    },
  ];
}
