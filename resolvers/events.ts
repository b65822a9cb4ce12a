/**
 * Events subgraph resolvers: GraphQL <-> one BusinessEvent. The subgraph runs inside the gateway:
 * for each event a subscriber receives, the gateway executes this subgraph's part of the query plan
 * with the event as the root value (subgraphs/events/local-subgraph.ts); the customer, contract,
 * invoice and run references it returns are then resolved by the subgraphs that own them.
 */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { BusinessEvent } from '../core/events/event-log';

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

export const eventsResolvers: GraphQLResolverMap<unknown> = {
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
    run: (event: BusinessEvent) => ref(event.runId),
    detail: (event: BusinessEvent) => (event.data && Object.keys(event.data).length ? JSON.stringify(event.data) : null),
  },
};
