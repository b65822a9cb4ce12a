/**
 * An operation the gateway cannot plan or execute (a query-planner failure on a supergraph that
 * validates but is not satisfiable, an executor bug) becomes a GraphQL error in a 200 response,
 * with the planner's message and code INTERNAL, as a plain federation gateway passes it on. Apollo
 * Server would otherwise turn the thrown error into an HTTP 500 whose message the error contract
 * then hides ("Internal error"), leaving the operator nothing to act on.
 */
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import type { Logger } from '../core/log';

/** `gateway`, with an executor that answers a thrown error as a GraphQL error. */
export function withExecutionErrorsAsGraphQL(gateway: GatewayInterface, logger: Logger): GatewayInterface {
  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
    load: async (options) => {
      const { executor } = await gateway.load(options);
      if (!executor) return { executor };
      return {
        executor: async (requestContext) => {
          try {
            return await executor(requestContext);
          } catch (error) {
            const message = (error as Error).message ?? String(error);
            logger.error({ err: error, operation: requestContext.request.operationName ?? null }, 'the gateway could not plan or execute an operation');
            return { data: null, errors: [new GraphQLError(`the gateway could not plan this operation: ${message}`, { extensions: { code: 'INTERNAL' } })] };
          }
        },
      };
    },
  };
}
