/**
 * Deduplication of identical subgraph fetches in flight: when a fetch is about to go to a subgraph
 * while the same one is already on its way, the second waits for the first one's answer instead of
 * asking again. Identical means everything the subgraph sees that can change its answer: the same
 * subgraph, operation text, operation name and variables (byte for byte, as they would be sent),
 * and the same caller as the subgraph sees it (the principal header: subject, scopes, portal
 * customer; anonymous callers are one caller). Two callers whose visibility differs never share.
 *
 * Only reads: a fetch is shared only when both the client's operation and the subgraph operation
 * are queries. Nothing of a mutation is ever shared, its follow-up entity reads included (they must
 * see the mutation's own effect, not an answer that was on its way before it).
 *
 * Hive Gateway and Grafbase Gateway do the same ("deduplication" of in-flight subgraph requests,
 * on by default in both); Concord's callers care most because every fetch is vendor API budget.
 * A follower's fetch carries nothing of its own to the subgraph (its correlation id is not sent;
 * the subgraph logs the leader's).
 *
 * A follower shares the leader's fate: the leader's answer, or its failure (a subgraph timeout
 * counted from the leader's start), which is what the follower's own identical fetch would have met.
 *
 * Each caller gets its own copy of the answer: @apollo/gateway merges a fetch's data into the
 * caller's result in place (executeQueryPlan's deepMerge), so one shared object would mix results.
 */
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';

export interface FetchDedupOptions {
  /** The subgraph's name (part of the key, and the label of `onShared`). */
  subgraph: string;
  /** What the subgraph is told of the caller, from the request's context: the same value means the same visibility. Required. */
  callerKey: (context: Record<string, unknown>) => string;
  /** Told each time a fetch was answered by one already in flight (a fetch saved). Default: nothing. */
  onShared?: (subgraph: string) => void;
}

interface InFlight {
  followers: { resolve(response: GatewayGraphQLResponse): void; reject(error: unknown): void }[];
}

/**
 * The kind of a subgraph operation. @apollo/gateway hands the data source the operation's document
 * only when the planner's `exposeDocumentNodeInFetchNode` is on (it is not by default), so the text
 * is read: the planner prints every fetch with its keyword (`query Name__crm__0(...)`), and `{`
 * alone is the query shorthand. Anything else is treated as not a query, and never shared.
 */
function operationKind(document: DocumentNode | undefined, text: string | undefined): string | null {
  if (document) return document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)?.operation ?? null;
  const head = /^\s*(query|mutation|subscription)\b|^\s*\{/.exec(text ?? '');
  if (!head) return null;
  return head[1] ?? 'query';
}

/** A copy of an answer that the caller may merge into its result without touching anyone else's. */
function copyOf(response: GatewayGraphQLResponse): GatewayGraphQLResponse {
  return {
    ...response,
    data: response.data == null ? response.data : structuredClone(response.data),
    errors: response.errors ? structuredClone(response.errors) : response.errors,
    extensions: response.extensions ? structuredClone(response.extensions) : response.extensions,
  };
}

export function dedupingDataSource<TContext extends Record<string, any>>(inner: GraphQLDataSource<TContext>, options: FetchDedupOptions): GraphQLDataSource<TContext> {
  const { subgraph, callerKey, onShared } = options;
  const inFlight = new Map<string, InFlight>();

  return {
    process(processOptions: GraphQLDataSourceProcessOptions<TContext>): Promise<GatewayGraphQLResponse> {
      if (!('incomingRequestContext' in processOptions)) return inner.process(processOptions);
      const incoming = processOptions.incomingRequestContext.operation?.operation;
      if (incoming !== 'query' || operationKind(processOptions.document, processOptions.request.query) !== 'query') return inner.process(processOptions);
      const { query, operationName, variables } = processOptions.request;
      const key = `${query}\u0000${operationName ?? ''}\u0000${variables ? JSON.stringify(variables) : ''}\u0000${callerKey(processOptions.context)}`;

      const running = inFlight.get(key);
      if (running) {
        onShared?.(subgraph);
        return new Promise((resolve, reject) => running.followers.push({ resolve, reject }));
      }
      const entry: InFlight = { followers: [] };
      inFlight.set(key, entry);
      const leader = inner.process(processOptions);
      // Settled in one step, before any caller's code runs: the copies are taken from an answer
      // nobody has merged yet, and a fetch starting after this one ends is a new fetch.
      return leader.then(
        (response) => {
          inFlight.delete(key);
          for (const follower of entry.followers) follower.resolve(copyOf(response));
          return response;
        },
        (error: unknown) => {
          inFlight.delete(key);
          for (const follower of entry.followers) follower.reject(error);
          throw error;
        },
      );
    },
  };
}
