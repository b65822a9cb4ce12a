/**
 * The simulator's clock, and what Stripe does on its own as time passes. Stripe finalizes a draft
 * invoice with `auto_advance=true` about an hour after it was created (`automatically_finalizes_at`,
 * https://docs.stripe.com/invoicing/integration/automatic-advancement-collection): a subscription's
 * first invoice is such a draft, so an order cancelled without taking that draft back would still
 * bill the customer an hour later. The simulator honours it, on the wall clock plus an offset that
 * tests and operators move forward with `POST /__sim/clock/advance {"seconds": 3600}`.
 *
 * Due drafts are finalized lazily: before every API request and on every clock advance, so any
 * read after the due time sees what Stripe would show.
 */
import type { SimRoute } from '../common/sim-server';
import { finalizeInvoice } from './billing';
import type { Store } from './store';

export interface SimClock {
  /** Unix seconds, the wall clock plus the offset. */
  now(): number;
  /** Move the clock forward and let Stripe's automatic actions happen. */
  advance(seconds: number): void;
  /** Finalize every auto-advancing draft whose time has come (called before each request). */
  tick(): void;
}

export function createSimClock(store: Store): SimClock {
  let offset = 0;
  const now = () => Math.floor(Date.now() / 1000) + offset;
  function tick(): void {
    const at = now();
    for (const invoice of store.invoices.values()) {
      if (invoice.status !== 'draft' || !invoice.auto_advance) continue;
      const due = invoice.automatically_finalizes_at;
      if (due === null || due === undefined || due > at) continue;
      // Stripe finalizes it itself: no request or idempotency key caused the change.
      finalizeInvoice({ store, now: at, cause: { requestId: null, idempotencyKey: null } }, invoice);
    }
  }
  return {
    now,
    tick,
    advance(seconds) {
      offset += seconds;
      tick();
    },
  };
}

/** `POST /__sim/clock/advance {"seconds": n}` moves the clock; `GET /__sim/clock` shows it. */
export function clockControlRoutes(clock: SimClock): SimRoute[] {
  return [
    {
      method: 'POST',
      pattern: '/__sim/clock/advance',
      handler: (req) => {
        let body: { seconds?: unknown };
        try {
          body = req.body ? (JSON.parse(req.body) as { seconds?: unknown }) : {};
        } catch {
          return { status: 400, body: { error: 'body must be JSON' } };
        }
        const seconds = body.seconds;
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
          return { status: 400, body: { error: 'seconds must be a positive number' } };
        }
        clock.advance(Math.floor(seconds));
        return { status: 200, body: { now: clock.now() } };
      },
    },
    { method: 'GET', pattern: '/__sim/clock', handler: () => ({ status: 200, body: { now: clock.now() } }) },
  ];
}
