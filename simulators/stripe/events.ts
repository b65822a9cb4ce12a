/**
 * Events (https://docs.stripe.com/api/events): every state change appends one, with a snapshot of the
 * object in `data.object` (and `previous_attributes` for updates). Webhook delivery is not simulated
 * yet; callers poll `GET /v1/events`. Stripe keeps events for 30 days; the simulator keeps all.
 */
import { StripeApiError } from './errors';
import { endpoint, list, listFields } from './http';
import { p } from './params';

/** `invoice.*` matches every invoice event, as Stripe's `type` filter does. */
function typeMatches(pattern: string, type: string): boolean {
  if (!pattern.includes('*')) return pattern === type;
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(type);
}

export const eventEndpoints = [
  endpoint({
    method: 'GET',
    pattern: '/v1/events/:id',
    fields: {},
    handler: (_params, ctx) => {
      const event = ctx.store.events.find((e) => e.id === ctx.path.id);
      if (!event) throw StripeApiError.missing('event', ctx.path.id);
      return event;
    },
  }),
  endpoint({
    method: 'GET',
    pattern: '/v1/events',
    fields: { ...listFields, type: p.string(), types: p.array(p.string()), delivery_success: p.bool() },
    handler: (params, ctx) => {
      if (params.type && params.types) throw StripeApiError.invalid('You may only specify one of these parameters: type, types.', 'types');
      const patterns = params.types ?? (params.type ? [params.type] : null);
      const events = ctx.store.events.filter((event) => !patterns || patterns.some((pattern) => typeMatches(pattern, event.type)));
      return list(ctx.store, events, params, '/v1/events', 'event');
    },
  }),
];
