/**
 * Events subgraph resolvers: GraphQL <-> one BusinessEvent. The subgraph runs inside the gateway:
 * for each event a subscriber receives, the gateway executes this subgraph's part of the query plan
 * with the event as the root value (subgraphs/events/local-subgraph.ts); the customer, contract,
 * invoice and run references it returns are then resolved by the subgraphs that own them.
 */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { ConcordError } from '../core/errors';
import type { BusinessEvent, EventType } from '../core/events/event-log';
import { callerScope, isPortal, type Principal } from '../core/principal';

/** What the events subgraph is executed with: the subscriber's principal (local-subgraph.ts). */
export interface EventsContext {
  principal?: Principal;
}

const ref = (id: string | null | undefined) => (id ? { id } : null);

/** Fields of a run snapshot (subgraphs/events/run-events.ts writes them into RUN_STATUS_CHANGED). */
interface RunState {
  status?: string;
  updatedAt?: string;
  steps?: unknown[];
  customerId?: string | null;
  contractId?: string | null;
  invoiceId?: string | null;
}

/** The run as the orchestrator saved it at this event: what `@provides` promises the planner. */
export function runAtEvent(event: BusinessEvent) {
  const state = (event.state ?? {}) as RunState;
  return {
    __typename: 'OrderToCashRun',
    id: event.runId,
    status: state.status,
    updatedAt: state.updatedAt ?? event.occurredAt,
    steps: state.steps ?? [],
    customer: ref(state.customerId ?? event.customerId),
    contract: ref(state.contractId ?? event.contractId),
    invoice: ref(state.invoiceId ?? event.invoiceId),
  };
}

const identity = (event: BusinessEvent) => event;

/**
 * The same authorization for an event's own fields as for the fields they repeat in a query. An
 * event's `detail` repeats fields of its record (an invoice's number and status, an ERP document's
 * id and number, a run's status and step), and its `correlationId` is the run's or request's
 * correlation id, which orderToCashRun shows only to operators and to the caller the run belongs
 * to. So each needs the scope its record's fields need; `operator` stands for a run's detail,
 * readable with ops:read and by a portal (which receives its own customer's events only, and
 * reads its own customer's runs through orderToCashRun too).
 */
type DetailScope = 'customers:read' | 'billing:read' | 'erp:read' | 'ops:read' | 'operator';

function detailScope(type: EventType, source: BusinessEvent['source']): DetailScope {
  switch (type) {
    case 'CUSTOMER_CREATED':
    case 'CUSTOMER_UPDATED':
      return source === 'ERP' ? 'erp:read' : 'customers:read';
    case 'CONTRACT_ACTIVATED':
    case 'CONTRACT_AMENDED':
    case 'INVOICE_CREATED':
    case 'INVOICE_FINALIZED':
    case 'INVOICE_PAID':
    case 'PAYMENT_FAILED':
    case 'INVOICE_VOIDED':
      return 'billing:read';
    case 'INVOICE_POSTED':
    case 'POSTING_FAILED':
    case 'ACCOUNT_STATUS_CHANGED':
      return 'erp:read';
    case 'RUN_STATUS_CHANGED':
      return 'operator';
    case 'DRIFT_DETECTED':
    case 'OPERATOR_ACTION':
      return 'ops:read';
  }
}

const operator = (principal: Principal) => principal.scopes.has('ops:read') || isPortal(principal);

function may(principal: Principal, scope: DetailScope): boolean {
  return scope === 'operator' ? operator(principal) : principal.scopes.has(scope);
}

/** FORBIDDEN at the field's path, in the words the gateway uses for a missing scope. */
function forbidden(field: string, scope: string): ConcordError {
  return new ConcordError('FORBIDDEN', `this token may not read BusinessEvent.${field}: it needs scope ${scope}`);
}

// A fetch outside a delivery has no principal: nothing guarded is served then.
const NOBODY: Principal = { subject: '', scopes: new Set(), customerId: null };
const principalOf = (ctx: EventsContext | undefined) => ctx?.principal ?? NOBODY;

export const eventsResolvers: GraphQLResolverMap<EventsContext> = {
  Subscription: {
    // The gateway filters events per subscription before executing; here the root value is the event.
    orderToCashRunUpdated: { subscribe: () => { throw new Error('executed by the gateway'); }, resolve: runAtEvent },
    customerEvents: { subscribe: () => { throw new Error('executed by the gateway'); }, resolve: identity },
    businessEvents: { subscribe: () => { throw new Error('executed by the gateway'); }, resolve: identity },
  },
  BusinessEvent: {
    customer: (event: BusinessEvent) => ref(event.customerId),
    contract: (event: BusinessEvent) => ref(event.contractId),
    invoice: (event: BusinessEvent) => ref(event.invoiceId),
    run: (event: BusinessEvent, _: unknown, ctx: EventsContext) => {
      if (!event.runId) return null;
      // The run's own fields are checked by the orchestration subgraph (ownership); its id is
      // checked here, as orderToCashRun checks it: ops:read sees every run, a portal its own
      // customer's (the only events it receives), orders:write alone only the runs it started.
      const principal = principalOf(ctx);
      if (operator(principal)) return ref(event.runId);
      if (!principal.scopes.has('orders:write')) throw forbidden('run', 'ops:read or orders:write');
      const owner = (event.state as { owner?: unknown } | null | undefined)?.owner;
      // An event without an owner (written before owners were recorded) is nobody's but operators'.
      if (typeof owner !== 'string' || owner !== callerScope(principal)) {
        throw new ConcordError('FORBIDDEN', 'this token may read BusinessEvent.run only for runs it started: other runs need scope ops:read');
      }
      return ref(event.runId);
    },
    correlationId: (event: BusinessEvent, _: unknown, ctx: EventsContext) => {
      if (event.correlationId === null) return null;
      if (!operator(principalOf(ctx))) throw forbidden('correlationId', 'ops:read');
      return event.correlationId;
    },
    detail: (event: BusinessEvent, _: unknown, ctx: EventsContext) => {
      if (!event.data || !Object.keys(event.data).length) return null;
      const scope = detailScope(event.type, event.source);
      if (!may(principalOf(ctx), scope)) throw forbidden(`detail of a ${event.type} event`, scope === 'operator' ? 'ops:read' : scope);
      return JSON.stringify(event.data);
    },
  },
};
