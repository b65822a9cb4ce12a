/**
 * The gateway's half of the error contract: every error leaves with an API.md code and the
 * request's correlation id, and with nothing else a client should not see (no stack, no raw
 * subgraph or vendor response).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { ERROR_CODES, type ErrorCode } from '../core/errors';

/**
 * Extension keys a client may see; everything else (stacks, raw responses) is dropped. `duplicates`:
 * the likely duplicate customers an upsertCustomer CONFLICT lists (names and record ids only).
 */
const VISIBLE_EXTENSIONS = ['code', 'system', 'retryable', 'retryAfterSeconds', 'vendorCode', 'subgraph', 'correlationId', 'duplicates'];

/** Apollo's and graphql-js's own codes, mapped onto API.md's. */
const CODE_MAP: Record<string, ErrorCode> = {
  GRAPHQL_PARSE_FAILED: 'BAD_USER_INPUT',
  GRAPHQL_VALIDATION_FAILED: 'BAD_USER_INPUT',
  BAD_REQUEST: 'BAD_USER_INPUT',
  OPERATION_RESOLUTION_FAILURE: 'BAD_USER_INPUT',
  PERSISTED_QUERY_NOT_FOUND: 'BAD_USER_INPUT',
  PERSISTED_QUERY_NOT_SUPPORTED: 'BAD_USER_INPUT',
  INTERNAL_SERVER_ERROR: 'INTERNAL',
};

/**
 * graphql-js's suggestions ("Did you mean the enum value ...?", "Did you mean the field ...?"),
 * wherever they are in a message: validation, variable coercion and argument coercion all add
 * them, and in production they hand out the schema piece by piece.
 */
export function withoutHints(message: string): string {
  return message.replace(/ ?Did you mean [^?]*\?/g, '');
}

export interface GatewayErrorOptions {
  /**
   * Hide the message of a subgraph error whose code is not one of Concord's ("Internal error", code
   * INTERNAL). Default false: it is passed on with code DOWNSTREAM_SERVICE_ERROR and the subgraph's
   * name, as a plain federation gateway passes it (CONCORD_MASK_SUBGRAPH_ERRORS).
   */
  maskSubgraphErrors?: boolean;
  /** Production: no schema hints ("Did you mean ...") in any message. Default false. */
  production?: boolean;
}

/** Codes a subgraph answers that are not Concord's: the message is the subgraph's own, not the gateway's internals. */
function isForeignSubgraphCode(incoming: Record<string, unknown>, rawCode: string): boolean {
  return typeof incoming.serviceName === 'string' && !(ERROR_CODES as readonly string[]).includes(rawCode);
}

export function formatGatewayError(formatted: GraphQLFormattedError, options: GatewayErrorOptions = {}): GraphQLFormattedError {
  const { maskSubgraphErrors = false } = options;
  const incoming = formatted.extensions ?? {};
  const rawCode = typeof incoming.code === 'string' ? incoming.code : 'INTERNAL';
  // @apollo/gateway sets serviceName on every error a subgraph returned (DOWNSTREAM_SERVICE_ERROR
  // when the subgraph gave no code of its own): see downstreamServiceError in gateway-js executeQueryPlan.
  if (isForeignSubgraphCode(incoming, rawCode) && !maskSubgraphErrors) {
    return {
      message: formatted.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', subgraph: incoming.serviceName, ...(rawCode !== 'DOWNSTREAM_SERVICE_ERROR' ? { subgraphCode: rawCode } : {}) },
    };
  }
  const code: ErrorCode = (ERROR_CODES as readonly string[]).includes(rawCode)
    ? (rawCode as ErrorCode)
    : (CODE_MAP[rawCode] ?? 'INTERNAL');
  const extensions: Record<string, unknown> = { code };
  for (const key of VISIBLE_EXTENSIONS) {
    if (key !== 'code' && incoming[key] !== undefined) extensions[key] = incoming[key];
  }
  // The gateway names the subgraph a downstream error came from.
  if (typeof incoming.serviceName === 'string') extensions.subgraph = incoming.serviceName;
  const masked = code === 'DOWNSTREAM_SERVICE_ERROR' && maskSubgraphErrors;
  if (masked) extensions.code = 'INTERNAL';
  const shown = (code === 'INTERNAL' && rawCode !== 'INTERNAL') || masked ? 'Internal error' : formatted.message;
  const message = options.production ? withoutHints(shown) : shown;
  return { message, locations: formatted.locations, path: formatted.path, extensions };
}

export interface CorrelatedContext {
  correlationId: string;
}

/** Stamps the request's correlation id on every error of the response. */
export function correlationPlugin<C extends CorrelatedContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          response.body.singleResult.errors = response.body.singleResult.errors.map((error) => ({
            ...error,
            extensions: { ...error.extensions, correlationId: contextValue.correlationId },
          }));
        },
      };
    },
  };
}
