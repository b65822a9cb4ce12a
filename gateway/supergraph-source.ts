/**
 * Supergraphs from outside: read a supergraph SDL file and decide whether the gateway can serve it,
 * before anything is swapped. The checks are the ones @apollo/gateway would make while loading
 * (parse, the join/link specs, the API schema, the query planner), made here first so that an
 * invalid file is rejected with one clear reason and never leaves the gateway half updated:
 * @apollo/gateway's own update builds the planner after it has already replaced the API schema.
 *
 * Plus what the gateway needs that composition does not promise: every subgraph has an http(s) URL
 * (from its `@join__graph`, or an override), and no security feature the gateway does not enforce
 * (`@policy`, say) is linked `for: SECURITY` (gateway/authorization.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import { GraphQLError, parse } from 'graphql';
import { supergraphForGateway } from './authorization';

/** A supergraph the gateway cannot serve; `message` is the one-line reason, for logs and the CLI. */
export class SupergraphError extends Error {
  override name = 'SupergraphError';
}

export interface SupergraphInfo {
  /** The SDL as given. */
  sdl: string;
  /** sha256 of the SDL (hex): the id logs, /health and reloads use. */
  id: string;
  /** Subgraph name -> URL the gateway will call (overrides applied). */
  subgraphs: Record<string, string>;
  /** Root fields of the Subscription type, if any (served by passing them through to their subgraph). */
  subscriptionFields: string[];
}

export interface ValidateOptions {
  /** Subgraph name -> URL, replacing `@join__graph` URLs. Default none. */
  subgraphUrls?: Record<string, string>;
  /** Where the SDL came from, for messages. Default 'the supergraph'. */
  source?: string;
}

export function supergraphId(sdl: string): string {
  return createHash('sha256').update(sdl).digest('hex');
}

/** The first line of an error's message (composition and build errors can run to pages). */
function reason(error: unknown): string {
  if (error instanceof GraphQLError && error.locations?.length) {
    const { line, column } = error.locations[0];
    return `${error.message} (line ${line}, column ${column})`;
  }
  // federation-internals wraps its findings in "one or more checks failed. Caused by:" and the like.
  const message = (error instanceof Error ? error.message : String(error)).replace(/^(?:one or more checks failed|the schema is not a valid graphql schema)\.*\s*Caused by:\s*/i, '');
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length > 3 ? `${lines.slice(0, 3).join(' ')} ...` : lines.join(' ');
}

/** Check that the gateway can serve `sdl`; the facts it needs, or a SupergraphError with the reason. */
export function validateSupergraph(sdl: string, options: ValidateOptions = {}): SupergraphInfo {
  const { subgraphUrls = {}, source = 'the supergraph' } = options;
  const fail = (why: string): never => {
    throw new SupergraphError(`${source} cannot be served: ${why}`);
  };
  if (sdl.trim() === '') fail('it is empty');
  try {
    parse(sdl);
  } catch (error) {
    fail(`GraphQL syntax error: ${reason(error)}`);
  }
  if (!/@link\(\s*url:\s*"https:\/\/specs\.apollo\.dev\/join\//.test(sdl) && !/@core\(\s*feature:\s*"https:\/\/specs\.apollo\.dev\/join\//.test(sdl)) {
    fail('it does not link the join spec (a subgraph SDL rather than a composed supergraph? compose it first, e.g. `rover supergraph compose`)');
  }
  let supergraph: Supergraph;
  try {
    supergraph = Supergraph.build(supergraphForGateway(sdl), { validateSupergraph: true });
  } catch (error) {
    return fail(reason(error));
  }
  const subgraphs: Record<string, string> = {};
  for (const { name, url } of supergraph.subgraphsMetadata()) {
    const effective = subgraphUrls[name] ?? url;
    if (!effective) fail(`subgraph "${name}" has no URL in its @join__graph (give one with --subgraph ${name}=<url>)`);
    let parsed: URL | null = null;
    try {
      parsed = new URL(effective);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) fail(`subgraph "${name}" has URL "${effective}", not an http(s) URL`);
    subgraphs[name] = effective;
  }
  for (const name of Object.keys(subgraphUrls)) {
    if (!(name in subgraphs)) fail(`a URL is given for subgraph "${name}", which the supergraph does not have (it has ${Object.keys(subgraphs).join(', ')})`);
  }
  let subscriptionFields: string[] = [];
  try {
    const api = supergraph.apiSchema();
    // What @apollo/gateway builds on update, after it has already switched its API schema.
    new QueryPlanner(supergraph);
    const subscription = api.toGraphQLJSSchema().getSubscriptionType();
    subscriptionFields = subscription ? Object.keys(subscription.getFields()) : [];
  } catch (error) {
    fail(reason(error));
  }
  return { sdl, id: supergraphId(sdl), subgraphs, subscriptionFields };
}

/** Read and validate a supergraph file. */
export function loadSupergraphFile(path: string, options: Omit<ValidateOptions, 'source'> = {}): SupergraphInfo {
  let sdl: string;
  try {
    sdl = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SupergraphError(code === 'ENOENT' ? `supergraph file ${path} does not exist` : `supergraph file ${path} cannot be read: ${reason(error)}`);
  }
  return validateSupergraph(sdl, { ...options, source: `supergraph file ${path}` });
}
