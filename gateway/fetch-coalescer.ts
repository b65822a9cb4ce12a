/**
 * Batching of subgraph fetches across concurrent subscription deliveries. When one event reaches
 * many subscribers whose operations differ, each delivery runs its own plan; their entity fetches
 * to one subgraph are usually the same operation with different (or the same) representations.
 * This data source wrapper collects the fetches issued in one turn of the event loop that share
 * operation text, other variables and authorization, sends one `_entities` request with the
 * distinct representations, and hands each caller its own slice (and errors re-pathed to it).
 *
 * Only used for subscription deliveries: a query's fetches are already batched by its own plan.
 */
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { GraphQLFormattedError } from 'graphql';
import { authorizationKey, stableJson, type DeliveryContext } from './subscription-executor';

interface Waiter {
  /** Positions of this caller's representations in the merged list, in its order. */
  indices: number[];
  resolve(response: GatewayGraphQLResponse): void;
  reject(error: unknown): void;
}

interface Batch {
  options: GraphQLDataSourceProcessOptions<Record<string, unknown>>;
  others: Record<string, unknown>;
  representations: unknown[];
  byKey: Map<string, number>;
  waiters: Waiter[];
}

export interface CoalescingOptions {
  /** Most representations in one merged request. Default 500. */
  maxRepresentations?: number;
}

export function coalescingDataSource(inner: GraphQLDataSource, options: CoalescingOptions = {}): GraphQLDataSource {
  const { maxRepresentations = 500 } = options;
  const open = new Map<string, Batch>();

  async function flush(key: string, batch: Batch): Promise<void> {
    if (open.get(key) === batch) open.delete(key);
    let response: GatewayGraphQLResponse;
    try {
      response = await inner.process({
        ...batch.options,
        request: { ...batch.options.request, variables: { ...batch.others, representations: batch.representations } },
      } as GraphQLDataSourceProcessOptions<Record<string, unknown>>);
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
      return;
    }
    const entities = (response.data?._entities as unknown[] | undefined) ?? null;
    for (const waiter of batch.waiters) {
      const position = new Map(waiter.indices.map((merged, own) => [merged, own]));
      const errors: GraphQLFormattedError[] = [];
      for (const error of response.errors ?? []) {
        const path = error.path;
        if (path && path[0] === '_entities' && typeof path[1] === 'number') {
          const own = position.get(path[1]);
          if (own !== undefined) errors.push({ ...error, path: ['_entities', own, ...path.slice(2)] });
        } else {
          errors.push(error);
        }
      }
      waiter.resolve({
        ...response,
        // Each caller merges the entities into its own result: give it its own copies.
        data: entities ? { ...response.data, _entities: waiter.indices.map((i) => structuredClone(entities[i] ?? null)) } : response.data,
        errors: errors.length ? errors : undefined,
      });
    }
  }

  return {
    process(options: GraphQLDataSourceProcessOptions<Record<string, unknown>>): Promise<GatewayGraphQLResponse> {
      const variables = options.request.variables;
      const representations = variables?.representations;
      if (!('incomingRequestContext' in options) || !Array.isArray(representations)) {
        return inner.process(options);
      }
      const { representations: _own, ...others } = variables as Record<string, unknown>;
      const principal = (options.context as unknown as DeliveryContext).principal;
      const key = `${options.request.query}\u0000${stableJson(others)}\u0000${principal ? authorizationKey(principal) : ''}`;
      let batch = open.get(key);
      if (!batch || batch.representations.length + representations.length > maxRepresentations) {
        batch = { options, others, representations: [], byKey: new Map(), waiters: [] };
        open.set(key, batch);
        const scheduled = batch;
        setImmediate(() => void flush(key, scheduled));
      }
      const current = batch;
      const indices = representations.map((representation) => {
        const repKey = stableJson(representation);
        let index = current.byKey.get(repKey);
        if (index === undefined) {
          index = current.representations.push(representation) - 1;
          current.byKey.set(repKey, index);
        }
        return index;
      });
      return new Promise((resolve, reject) => current.waiters.push({ indices, resolve, reject }));
    },
  };
}
