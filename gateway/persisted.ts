/**
 * Persisted queries at the gateway: automatic persisted queries (APQ, Apollo's protocol: the client
 * sends `extensions.persistedQuery.sha256Hash`, and the query text only when the gateway answers
 * PersistedQueryNotFound) and an optional safelist.
 *
 * Safelist mode (CONCORD_SAFELIST_DIR): the directory's `.graphql` files are the only operations
 * that run. Each file holds one or more operations with their fragments. A request is allowed when
 * the operation it executes, with the fragments that operation uses, prints the same as one of
 * the listed operations (so whitespace, comments and fragment order do not matter), or when it
 * names one by hash (the sha256 of a file's exact text or of an operation's printed form).
 *
 * APQ is implemented here rather than by Apollo Server, because the gateway must see the query
 * text to check limits and authorization before Apollo runs it. The APQ cache is per process: a
 * replica that has not seen a hash answers PersistedQueryNotFound and the client sends the text
 * once more, as the protocol intends.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, parse, print, visit, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { ConcordError } from '../core/errors';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The operation and the fragments it uses (transitively), printed in a stable order. */
export function operationSignature(document: DocumentNode, operation: OperationDefinitionNode): string {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const used = new Set<string>();
  const collect = (node: OperationDefinitionNode | FragmentDefinitionNode) =>
    visit(node.selectionSet, {
      FragmentSpread: (spread) => {
        const name = spread.name.value;
        if (used.has(name) || !fragments.has(name)) return;
        used.add(name);
        collect(fragments.get(name)!);
      },
    });
  collect(operation);
  const names = [...used].sort();
  return print({ kind: Kind.DOCUMENT, definitions: [operation, ...names.map((n) => fragments.get(n)!)] });
}

export interface Safelist {
  /** Printed signatures of the allowed operations. */
  has(signature: string): boolean;
  /** Query text by hash (of a file's text or of an operation's signature). */
  byHash(hash: string): string | undefined;
  readonly size: number;
}

/** Read every `.graphql` file of `dir` (not recursive). A file that does not parse stops start-up. */
export function loadSafelist(dir: string): Safelist {
  const signatures = new Set<string>();
  const texts = new Map<string, string>();
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  for (const file of files) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    let document: DocumentNode;
    try {
      document = parse(text);
    } catch (error) {
      throw new Error(`safelist ${file} does not parse: ${(error as Error).message}`);
    }
    texts.set(sha256(text), text);
    for (const d of document.definitions) {
      if (d.kind !== Kind.OPERATION_DEFINITION) continue;
      const signature = operationSignature(document, d);
      signatures.add(signature);
      texts.set(sha256(signature), signature);
    }
  }
  if (signatures.size === 0) throw new Error(`safelist ${dir} holds no operations`);
  return { has: (s) => signatures.has(s), byHash: (h) => texts.get(h), size: signatures.size };
}

export interface PersistedQueryOptions {
  /** Accept APQ registrations and lookups. Default true. */
  apq?: boolean;
  /** Only these operations run. Default: none (any operation). */
  safelist?: Safelist | null;
  /** APQ entries kept per process (least recently used go first). Default 1000. */
  cacheSize?: number;
}

/** What to do with the request's query text before anything else. */
export type PersistedOutcome =
  | { kind: 'query'; query: string }
  /** APQ miss: the client should send the text (HTTP 200, PersistedQueryNotFound). */
  | { kind: 'not-found' };

export interface PersistedQueries {
  /** Resolve `query` / `extensions.persistedQuery` of a request into the query text. */
  resolve(query: unknown, extensions: unknown): PersistedOutcome;
  /** In safelist mode, refuse an operation that is not listed (FORBIDDEN). */
  checkSafelist(document: DocumentNode, operation: OperationDefinitionNode): void;
  readonly safelistMode: boolean;
}

export function createPersistedQueries(options: PersistedQueryOptions = {}): PersistedQueries {
  const { apq = true, safelist = null, cacheSize = 1000 } = options;
  const cache = new Map<string, string>();
  const remember = (hash: string, query: string) => {
    cache.delete(hash);
    cache.set(hash, query);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
  };

  return {
    safelistMode: safelist !== null,
    resolve(query, extensions) {
      const persisted = extensions && typeof extensions === 'object' ? (extensions as Record<string, unknown>).persistedQuery : undefined;
      if (persisted === undefined) {
        if (typeof query !== 'string' || query.trim() === '') throw new ConcordError('BAD_USER_INPUT', 'the request has no query');
        return { kind: 'query', query };
      }
      const { version, sha256Hash } = (persisted ?? {}) as { version?: unknown; sha256Hash?: unknown };
      if (!apq && !safelist) throw new ConcordError('BAD_USER_INPUT', 'PersistedQueryNotSupported');
      if (version !== 1 || typeof sha256Hash !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256Hash)) {
        throw new ConcordError('BAD_USER_INPUT', 'persistedQuery needs version 1 and a sha256Hash');
      }
      const hash = sha256Hash.toLowerCase();
      if (typeof query === 'string' && query !== '') {
        if (sha256(query) !== hash) throw new ConcordError('BAD_USER_INPUT', 'provided sha does not match query');
        // In safelist mode a registration adds nothing: the text must be on the list anyway.
        if (apq && !safelist) remember(hash, query);
        return { kind: 'query', query };
      }
      const known = safelist?.byHash(hash) ?? (apq && !safelist ? cache.get(hash) : undefined);
      if (known === undefined) return { kind: 'not-found' };
      if (cache.has(hash)) remember(hash, known);
      return { kind: 'query', query: known };
    },
    checkSafelist(document, operation) {
      if (!safelist) return;
      if (!safelist.has(operationSignature(document, operation))) {
        throw new ConcordError('FORBIDDEN', 'this operation is not in the safelist of allowed operations');
      }
    },
  };
}
