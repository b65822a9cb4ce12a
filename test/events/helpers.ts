/** Client-side helpers for live-event tests: graphql-ws subscriptions and signed Stripe webhooks. */
import { createClient, type Client } from 'graphql-ws';
import { testPrefix } from '../helpers/redis';
import WebSocket from 'ws';
import { stripeSignatureHeader } from '../../simulators/stripe/webhooks';

export interface Collected<T = any> {
  /** Every `next` payload so far. */
  payloads: { data?: T; errors?: any[] }[];
  /** Errors that ended the subscription (graphql-ws `error` message), if any. */
  failure: unknown;
  completed: boolean;
  /** Resolves with the payloads once `predicate` holds for them (or rejects after `timeoutMs`). */
  until(predicate: (payloads: { data?: T; errors?: any[] }[]) => boolean, timeoutMs?: number): Promise<{ data?: T; errors?: any[] }[]>;
  stop(): void;
}

export function wsClient(gatewayUrl: string, token: string | null, options: { connectionParams?: Record<string, unknown> } = {}): Client {
  return createClient({
    url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: options.connectionParams ?? (token ? { authorization: `Bearer ${token}` } : {}),
    retryAttempts: 0,
    lazy: true,
  });
}

export function subscribe<T = any>(client: Client, query: string, variables?: Record<string, unknown>): Collected<T> {
  const payloads: { data?: T; errors?: any[] }[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const collected: Collected<T> = {
    payloads,
    failure: undefined,
    completed: false,
    async until(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(payloads)) {
        if (collected.failure !== undefined) throw new Error(`subscription failed: ${JSON.stringify(collected.failure)}`);
        if (collected.completed) throw new Error(`subscription completed early after ${payloads.length} payloads`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${payloads.length} payloads: ${JSON.stringify(payloads.slice(-3))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 250));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return payloads;
    },
    stop: () => undefined,
  };
  collected.stop = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        payloads.push(value as { data?: T; errors?: any[] });
        wake();
      },
      error: (error) => {
        const close = error as { code?: unknown; reason?: unknown };
        // A socket close (CloseEvent) keeps its code; GraphQL errors come as an array.
        collected.failure = error instanceof Error ? error.message : typeof close?.code === 'number' ? { code: close.code, reason: close.reason } : error;
        wake();
      },
      complete: () => {
        collected.completed = true;
        wake();
      },
    },
  );
  return collected;
}

/** A Stripe-signed webhook POST, as Stripe (or a forger) would send it. */
export async function postStripeWebhook(gatewayUrl: string, event: unknown, secret: string, options: { timestamp?: number; tamper?: boolean } = {}) {
  const body = JSON.stringify(event);
  const header = stripeSignatureHeader(body, secret, options.timestamp);
  const sent = options.tamper ? body.replace(/"livemode":false/, '"livemode":true') : body;
  const response = await fetch(`${gatewayUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    body: sent,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A key prefix of the test's own; cleanup() removes its keys (test/helpers/redis.ts). */
export const eventsPrefix = testPrefix;

/** A Stripe API call to the simulator, form-encoded as the SDK sends it. */
export async function stripeApi(baseUrl: string, method: 'GET' | 'POST', path: string, params: Record<string, string> = {}) {
  const body = new URLSearchParams(params).toString();
  const response = await fetch(`${baseUrl}${path}${method === 'GET' && body ? `?${body}` : ''}`, {
    method,
    headers: { authorization: 'Bearer sk_test_concord_simulator', 'content-type': 'application/x-www-form-urlencoded' },
    body: method === 'POST' ? body : undefined,
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** A Stripe event envelope around `object`, as Stripe would send it. */
export function stripeEvent(type: string, object: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return {
    id: `evt_test_${Math.random().toString(36).slice(2, 16)}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    type,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    ...overrides,
  };
}
