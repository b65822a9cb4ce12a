/**
 * Admission of one GraphQL operation at the gateway, after authentication and before Apollo plans
 * or executes anything. In order:
 *
 *   1. request shape (query / variables / operationName / extensions)       -> 400 BAD_USER_INPUT
 *   2. persisted queries: APQ hash lookup, safelist hashes                  -> 200 PersistedQueryNotFound
 *   3. parse (bounded by maxTokens) and validate against the API schema     -> 400 BAD_USER_INPUT / QUERY_TOO_COMPLEX
 *   4. the executed operation; in safelist mode it must be listed           -> 400 / 403 FORBIDDEN
 *   5. limits: depth, aliases, estimated cost, subgraph fetches of the plan -> 400 QUERY_TOO_COMPLEX
 *   6. authorization: remove what the token may not see                     -> FORBIDDEN errors at paths; 403 if nothing is left
 *
 * The result is the query text Apollo executes (the original, or the rewritten operation) and the
 * FORBIDDEN errors to add to the answer. The same function serves HTTP and, for the subscriptions
 * work, graphql-ws `onSubscribe`: call `admit(params, principal)` there too.
 *
 * Parsing and validation are cached per query text, authorization per (query text, operation,
 * scopes): a repeated operation costs a map lookup and the limits walk.
 */
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  stripIgnoredCharacters,
  validate,
  visit,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { ConcordError, type ErrorCode } from '../core/errors';
import type { Principal } from '../core/principal';
import { authorizeOperation, operationText, selectOperation, type AuthorizationPolicy, type Denial } from './authorization';
import { checkDocumentSize, checkLimits, type QueryLimits, type SubgraphOwnership } from './limits';
import type { PersistedQueries } from './persisted';
import { Lru, type LruWeight } from '../core/lru';

/** A request turned away before execution: the HTTP status and the errors of the answer. */
export class Rejection extends Error {
  constructor(
    readonly status: number,
    readonly errors: { message: string; code: ErrorCode; path?: readonly (string | number)[]; locations?: readonly { line: number; column: number }[] }[],
  ) {
    super(errors[0]?.message ?? 'rejected');
    this.name = 'Rejection';
  }

  static of(status: number, error: ConcordError): Rejection {
    return new Rejection(status, [{ message: error.message, code: error.code }]);
  }
}

/** The parameters of a GraphQL request, as a client sent them (not yet checked). */
export interface GraphQLParams {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
  extensions?: unknown;
}

export interface AdmittedOperation {
  /** Text Apollo executes: the original query or the operation rewritten by authorization. */
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /** The client's extensions without `persistedQuery` (resolved here, not by Apollo). */
  extensions?: Record<string, unknown>;
  operationType: 'query' | 'mutation' | 'subscription';
  /** FORBIDDEN errors for the fields authorization removed. */
  denials: Denial[];
  /** Limits figures of the operation. */
  measure: { depth: number; aliases: number; cost: number; fetches: number };
}

export interface AdmissionOptions {
  /** The API schema (from the gateway, once it has loaded the supergraph). */
  schema: () => GraphQLSchema | null;
  /** Authorization declared in the supergraph. */
  policy: () => AuthorizationPolicy | null;
  /** Which subgraphs resolve each field (for the subgraph-fetch bound); null: not bounded. */
  ownership?: () => SubgraphOwnership | null;
  limits: QueryLimits;
  /** Most lexical tokens in a document; the parser stops beyond. */
  maxTokens: number;
  persisted: PersistedQueries;
  /** Production: introspection refused and no "Did you mean" schema hints in errors. Default false. */
  production?: boolean;
  /** Documents (and authorization results) cached, by count. Default 1000. */
  cacheSize?: number;
  /**
   * Estimated bytes the caches may hold (parsed documents weigh about 100-170 bytes per character
   * of query text in graphql-js; counted at 200). Default 64 MiB.
   */
  cacheBytes?: number;
  /** Longest string in a variable or a literal argument, in characters. Default 10000. */
  maxStringLength?: number;
}

export interface Admission {
  admit(params: GraphQLParams, principal: Principal | null): AdmittedOperation;
}


/** A valid document, and its text without comments and insignificant whitespace (what Apollo runs). */
type Parsed = { document: DocumentNode; normalized: string } | { rejection: Rejection };
type Authorized = { query: string; denials: Denial[]; empty: boolean };

/** Estimated heap of a parsed document per character of its text (measured 100-170). */
const BYTES_PER_CHARACTER = 200;

/** The longest string anywhere in a JSON value (variables), walked without recursion. */
function longestString(value: unknown): number {
  let longest = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') longest = Math.max(longest, next.length);
    else if (Array.isArray(next)) for (const item of next) stack.push(item);
    else if (next && typeof next === 'object') for (const [key, v] of Object.entries(next)) stack.push(key, v);
  }
  return longest;
}

/** The longest string literal of a document (block strings included). */
function longestLiteral(document: DocumentNode): number {
  let longest = 0;
  visit(document, { StringValue: (node) => void (longest = Math.max(longest, node.value.length)) });
  return longest;
}

/** A principal's scopes as one sorted string, once per principal (the authenticator hands out one object per token). */
const scopesKeys = new WeakMap<Principal, string>();
function scopesKeyOf(principal: Principal): string {
  let key = scopesKeys.get(principal);
  if (key === undefined) scopesKeys.set(principal, (key = [...principal.scopes].sort().join(' ')));
  return key;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function locations(error: GraphQLError) {
  return error.locations?.map(({ line, column }) => ({ line, column }));
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { schema, policy, ownership = () => null, limits, maxTokens, persisted, production = false, cacheSize = 1000, cacheBytes = 64 * 1024 * 1024, maxStringLength = 10_000 } = options;
  const tooLong = () =>
    Rejection.of(400, new ConcordError('BAD_USER_INPUT', `a string in the request is longer than ${maxStringLength} characters`));
  // Half the byte budget each. A kept document weighs its text's AST; a refusal only its message
  // (the document is not kept), so refused documents cannot pin memory.
  const documentWeight: LruWeight<Parsed> = {
    max: cacheBytes / 2,
    of: (key, parsed) => 2 * key.length + ('document' in parsed ? BYTES_PER_CHARACTER * (parsed.document.loc?.end ?? key.length) + 2 * parsed.normalized.length : 1024),
  };
  const authorizedWeight: LruWeight<Authorized> = { max: cacheBytes / 2, of: (key, outcome) => 2 * (key.length + outcome.query.length) + 512 * (outcome.denials.length + 1) };
  const newDocuments = () => new Lru<Parsed>(cacheSize, documentWeight);
  const newAuthorized = () => new Lru<Authorized>(cacheSize, authorizedWeight);
  let documents = newDocuments();
  let authorized = newAuthorized();
  let cachedFor: GraphQLSchema | null = null;
  const validationRules = production ? [...specifiedRules, NoSchemaIntrospectionCustomRule] : specifiedRules;
  // Production hides schema hints, as Apollo's hideSchemaDetailsFromClientErrors does.
  const hideHints = (message: string) => (production ? message.replace(/ ?Did you mean(.+)\?$/, '') : message);

  function parseAndValidate(api: GraphQLSchema, query: string): Parsed {
    const cached = documents.get(query);
    if (cached) return cached;
    let result: Parsed;
    try {
      const document = parse(query, { maxTokens });
      if (longestLiteral(document) > maxStringLength) throw tooLong();
      // Linear size bounds first: validation's overlapping-fields rule is quadratic in them.
      try {
        checkDocumentSize(document, limits);
      } catch (error) {
        if (error instanceof ConcordError) throw Rejection.of(400, error);
        throw error;
      }
      // The one validation of this text: Apollo is told not to validate again (gateway/server.ts).
      const errors = validate(api, document, validationRules);
      result = errors.length
        ? { rejection: new Rejection(400, errors.slice(0, 20).map((e) => ({ message: hideHints(e.message), code: 'BAD_USER_INPUT', locations: locations(e) }))) }
        // Apollo caches query plans by the executed text: texts that differ only in comments or
        // whitespace share one plan, so a unique comment per request does not make every request
        // plan again (planning, not validation, is then the dearest step).
        : { document, normalized: stripIgnoredCharacters(query) };
    } catch (error) {
      if (error instanceof Rejection) return (documents.set(query, { rejection: error }), { rejection: error });
      const message = error instanceof GraphQLError ? error.message : 'the query does not parse';
      const tooBig = /tokens/i.test(message) && /Parsing aborted/i.test(message);
      result = {
        rejection: tooBig
          ? new Rejection(400, [{ message: `the query has more than ${maxTokens} tokens`, code: 'QUERY_TOO_COMPLEX' }])
          : new Rejection(400, [{ message, code: 'BAD_USER_INPUT', locations: error instanceof GraphQLError ? locations(error) : undefined }]),
      };
    }
    documents.set(query, result);
    return result;
  }

  return {
    admit(params, principal) {
      const api = schema();
      const rules = policy();
      if (!api || !rules) throw Rejection.of(503, new ConcordError('INTERNAL', 'the gateway is starting; try again', { retryable: true }));
      if (api !== cachedFor) {
        // A new supergraph: what was valid or allowed under the old one is decided again.
        documents = newDocuments();
        authorized = newAuthorized();
        cachedFor = api;
      }
      const { variables, operationName, extensions } = params;
      if (variables !== undefined && variables !== null && !isObject(variables)) {
        throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', 'variables must be a JSON object'));
      }
      if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
        throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', 'operationName must be a string'));
      }
      if (extensions !== undefined && extensions !== null && !isObject(extensions)) {
        throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', 'extensions must be a JSON object'));
      }
      // Oversize inputs stop here, before any resolver (and so any vendor) sees them.
      if (isObject(variables) && longestString(variables) > maxStringLength) throw tooLong();
      let resolved;
      try {
        resolved = persisted.resolve(params.query, extensions);
      } catch (error) {
        throw Rejection.of(400, error as ConcordError);
      }
      if (resolved.kind === 'not-found') {
        // Apollo's APQ protocol: 200 and this exact message, so clients send the query text.
        throw new Rejection(200, [{ message: 'PersistedQueryNotFound', code: 'BAD_USER_INPUT' }]);
      }
      const query = resolved.query;
      // The caches are keyed by the text itself, not a digest of it: a Map lookup hashes the string
      // once (V8 keeps a string's hash) and compares it on a hit, where a SHA-256 of a 1 KB query on
      // every request cost more than the rest of admission. The key's length is in the weight.
      const parsed = parseAndValidate(api, query);
      if ('rejection' in parsed) throw parsed.rejection;
      const { document, normalized } = parsed;

      const operation = selectOperation(document, operationName as string | undefined);
      if (!operation) {
        const message = operationName ? `the document has no operation named ${operationName}` : 'the document has several operations: name one with operationName';
        throw Rejection.of(400, new ConcordError('BAD_USER_INPUT', message));
      }
      try {
        persisted.checkSafelist(document, operation);
      } catch (error) {
        throw Rejection.of(403, error as ConcordError);
      }
      let measure;
      try {
        measure = checkLimits(api, document, operation, isObject(variables) ? variables : undefined, limits, ownership());
      } catch (error) {
        if (error instanceof ConcordError) throw Rejection.of(400, error);
        throw error;
      }

      const scopesKey = principal ? scopesKeyOf(principal) : '\u0000anonymous';
      const key = `${query}\u0000${operation.name?.value ?? ''}\u0000${scopesKey}`;
      let outcome = authorized.get(key);
      if (!outcome) {
        const result = authorizeOperation(api, rules, document, operation.name?.value, principal);
        outcome = { query: operationText(result, normalized), denials: result.denials, empty: result.empty };
        // A rewritten operation is validated here, once, as the original was (Apollo does not validate).
        if (!outcome.empty && result.changed) {
          const errors = validate(api, parse(outcome.query, { maxTokens }), validationRules);
          if (errors.length) throw Rejection.of(500, new ConcordError('INTERNAL', 'the operation could not be authorized'));
        }
        authorized.set(key, outcome);
      }
      if (outcome.empty) {
        throw new Rejection(403, outcome.denials.map((d) => ({ message: d.message, code: 'FORBIDDEN', path: d.path })));
      }
      let rest: Record<string, unknown> | undefined;
      if (isObject(extensions)) {
        const { persistedQuery: _resolvedHere, ...others } = extensions;
        rest = Object.keys(others).length ? others : undefined;
      }
      return {
        query: outcome.query,
        variables: isObject(variables) ? variables : undefined,
        operationName: operation.name?.value,
        extensions: rest,
        operationType: operation.operation,
        denials: outcome.denials,
        measure,
      };
    },
  };
}

/** Context of a request that went through admission. */
export interface AdmittedContext {
  correlationId: string;
  /** FORBIDDEN errors for fields authorization removed (added to the answer by denialsPlugin). */
  denials?: Denial[];
}

/** Adds the FORBIDDEN errors of removed fields to the answer; the rest of the answer stays. */
export function denialsPlugin<C extends AdmittedContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          const denials = contextValue.denials;
          if (!denials?.length || response.body.kind !== 'single') return;
          const added: GraphQLFormattedError[] = denials.map((d) => ({
            message: d.message,
            path: d.path,
            extensions: { code: 'FORBIDDEN', correlationId: contextValue.correlationId },
          }));
          const result = response.body.singleResult;
          result.errors = [...added, ...(result.errors ?? [])];
        },
      };
    },
  };
}
