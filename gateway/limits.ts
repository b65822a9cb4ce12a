/**
 * Query limits, checked at the gateway on the parsed and validated operation, before authorization,
 * planning or any subgraph call: depth, aliases and an estimated cost. Anything beyond is
 * QUERY_TOO_COMPLEX with the measured figure and the limit in the message.
 *
 * Cost estimate: every field the operation would resolve counts 1, times how many times it would
 * be resolved. A list field is resolved `first` times when it has a `first` argument (the literal,
 * the variable's value, or the schema default), and `defaultListSize` times when it has none. A
 * Relay connection's `edges`/`nodes` take the size of the connection field's `first`. So
 * `customers(first: 50) { edges { node { invoices { total { amount } } } } }` costs
 * 1 + 50 * (1 + 1 + 10 * (1 + 1 + 1)) = 1601. Introspection and `__typename` cost nothing here
 * (introspection is off in production and graphql-js bounds its recursion in validation).
 *
 * The walk expands fragments and stops as soon as a limit is passed, so a fragment "bomb" (spreads
 * that multiply) is refused after at most `maxCost` field visits, not after exponential work.
 */
import {
  Kind,
  parse,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ConstDirectiveNode,
} from 'graphql';
import { ConcordError } from '../core/errors';
import { rootType } from './authorization';

export interface QueryLimits {
  /** Deepest field nesting (a root field is depth 1). Default 12. */
  maxDepth: number;
  /** Most aliased fields in the document. Default 30. */
  maxAliases: number;
  /** Highest estimated cost (see above). Default 300000: the unified view of 200 customers costs 167404. */
  maxCost: number;
  /** Items assumed for a list without `first`. Default 10. */
  defaultListSize: number;
  /**
   * Most fields in the document as written (every field node, fragments counted once). Checked
   * before validation. Default 500: the unified view has 40.
   */
  maxFields: number;
  /**
   * Most fields one selection set selects, counting those of the inline fragments and fragment
   * spreads in it. Checked before validation, whose overlapping-fields rule compares the fields of
   * one selection set pairwise. Default 100.
   */
  maxSelectionFields: number;
  /**
   * Most pairs of same-named fields validation must compare (its overlapping-fields rule, which
   * compares every two fields of one response name, and then their sub-selections, merged across
   * fragments). Checked before validation. Default 1000 (about 12 ms of validation on a loaded
   * 2-core machine); an operation without repeated fields has none.
   */
  maxFieldOverlaps: number;
  /**
   * Most subgraph fetches the query plan may need, estimated before planning (see
   * estimateFetches): one per root field, and one more wherever a field is owned by another
   * subgraph than its parent, every alias and fragment spread counted. The query planner's CPU
   * grows with it (each is a path it plans, and aliases defeat its plan cache): 30 aliases of a
   * customer's invoices with their ERP posting (91 fetches) planned for 200-600 ms, 10 of them (31)
   * for 54-165 ms, 3 (10) for 19-63 ms, on a 2-core machine at load average 12.
   * Default 8: the unified view needs 6; at 12, documents at the bound still blocked the event loop
   * for 65 ms (p50, 99 ms max) on a loaded machine (bench:noisy-neighbour).
   */
  maxFetches: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxCost: 300_000, defaultListSize: 10, maxFields: 500, maxSelectionFields: 100, maxFieldOverlaps: 1000, maxFetches: 8 };

/**
 * Which subgraphs resolve each field, from the supergraph's join directives: `@join__field(graph:)`
 * when a field has it (not `external`), else every graph of the type's `@join__type`.
 */
export interface SubgraphOwnership {
  owners(type: string, field: string): ReadonlySet<string> | null;
}

export function subgraphOwnership(supergraphSdl: string): SubgraphOwnership {
  const document = parse(supergraphSdl);
  const typeGraphs = new Map<string, Set<string>>();
  const fieldGraphs = new Map<string, Set<string>>();
  const graphOf = (directive: ConstDirectiveNode) => {
    const arg = directive.arguments?.find((a) => a.name.value === 'graph')?.value;
    return arg?.kind === Kind.ENUM ? arg.value : null;
  };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION && definition.kind !== Kind.INTERFACE_TYPE_DEFINITION) continue;
    const type = definition.name.value;
    const graphs = typeGraphs.get(type) ?? new Set<string>();
    typeGraphs.set(type, graphs);
    for (const directive of definition.directives ?? []) {
      const graph = directive.name.value === 'join__type' ? graphOf(directive) : null;
      if (graph) graphs.add(graph);
    }
    for (const field of definition.fields ?? []) {
      const owners = new Set<string>();
      for (const directive of field.directives ?? []) {
        if (directive.name.value !== 'join__field') continue;
        const external = directive.arguments?.some((a) => a.name.value === 'external' && a.value.kind === Kind.BOOLEAN && a.value.value);
        const graph = graphOf(directive);
        if (graph && !external) owners.add(graph);
      }
      if (owners.size) fieldGraphs.set(`${type}.${field.name.value}`, owners);
    }
  }
  return { owners: (type, field) => fieldGraphs.get(`${type}.${field}`) ?? typeGraphs.get(type) ?? null };
}

/**
 * Most field selections visited once fragments are expanded. Far above any real operation (the
 * unified view has 40), it bounds the walk itself where the cost does not: a fragment bomb under
 * `first: 0` costs nothing by the estimate but would still be walked.
 */
export const MAX_FIELD_VISITS = 10_000;

export interface OperationMeasure {
  depth: number;
  aliases: number;
  cost: number;
  /** Estimated subgraph fetches of the plan (0 without ownership). */
  fetches: number;
}

class TooComplex extends ConcordError {
  constructor(message: string) {
    super('QUERY_TOO_COMPLEX', message);
  }
}

function listDepth(type: GraphQLType): number {
  let depth = 0;
  let t = getNullableType(type);
  while (isListType(t)) {
    depth += 1;
    t = getNullableType(t.ofType);
  }
  return depth;
}

/** Aliases written in the document (each written alias counts once, wherever it is spread). */
export function countAliases(document: DocumentNode): number {
  let aliases = 0;
  const visitSet = (set: SelectionSetNode | undefined) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD && selection.alias) aliases += 1;
      if (selection.kind !== Kind.FRAGMENT_SPREAD) visitSet(selection.selectionSet);
    }
  };
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) visitSet(d.selectionSet);
  }
  return aliases;
}

/**
 * The size bounds that make validation cheap, on the parsed (not yet validated) document, before
 * validation: QUERY_TOO_COMPLEX beyond `maxFields` fields in the document, `maxSelectionFields` in
 * one selection set (fragments included), or `maxFieldOverlaps` pairs of same-named fields.
 *
 * Why: graphql-js's OverlappingFieldsCanBeMerged rule compares every two fields that share a
 * response name in a selection set (its fragments' fields included), and for each such pair their
 * sub-selections, recursively: `{ customer { parent { id } x300 } }` is 44,850 comparisons and
 * hundreds of ms of blocking CPU within every other limit, and repeats on several levels multiply
 * (2 repeats on 8 levels: 2^8 fields at the bottom, 40,000 pairs). The pairs are counted here on
 * the merged tree (the fields of one response name merged, level by level, as the rule compares
 * them), with work bounded by the limits themselves: counting stops at the first limit passed.
 */
export function checkDocumentSize(document: DocumentNode, limits: Pick<QueryLimits, 'maxFields' | 'maxSelectionFields' | 'maxFieldOverlaps'>): void {
  const { maxFields, maxSelectionFields, maxFieldOverlaps } = limits;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(d.name.value)) fragments.set(d.name.value, d);

  // Fields as written, and the widest selection set (inline fragments and spreads flattened).
  let fields = 0;
  const roots: SelectionSetNode[] = [];
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) roots.push(d.selectionSet);
  }
  const stack = [...roots];
  while (stack.length > 0) {
    const set = stack.pop()!;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD && ++fields > maxFields) throw new TooComplex(`the document has more than ${maxFields} fields`);
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) stack.push(selection.selectionSet);
    }
  }

  // The merged tree: each entry is the selection sets whose fields validation compares together.
  // Every field reached counts against a visit budget too, so that fragments spread many times
  // cannot make this count itself expensive.
  const maxVisits = Math.max(MAX_FIELD_VISITS, maxFields * 4);
  let visits = 0;
  let pairs = 0;
  const groups: SelectionSetNode[][] = roots.map((root) => [root]);
  while (groups.length > 0) {
    const group = groups.pop()!;
    const byName = new Map<string, FieldNode[]>();
    let width = 0;
    const collect = (set: SelectionSetNode, path: readonly string[]) => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (++visits > maxVisits) throw new TooComplex(`the operation selects more than ${maxVisits} fields once fragments are expanded`);
          const name = selection.alias?.value ?? selection.name.value;
          const list = byName.get(name);
          if (list) list.push(selection);
          else byName.set(name, [selection]);
          if (group.length === 1 && ++width > maxSelectionFields) throw new TooComplex(`a selection set selects more than ${maxSelectionFields} fields (fragments included)`);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          collect(selection.selectionSet, path);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (fragment && !path.includes(name)) collect(fragment.selectionSet, [...path, name]); // a cycle: validation refuses it
        }
      }
    };
    for (const set of group) collect(set, []);
    for (const same of byName.values()) {
      pairs += (same.length * (same.length - 1)) / 2;
      if (pairs > maxFieldOverlaps) {
        throw new TooComplex(`validation would compare more than ${maxFieldOverlaps} pairs of fields of the same name; select each field once per selection set`);
      }
      const subs = same.flatMap((f) => (f.selectionSet ? [f.selectionSet] : []));
      if (subs.length > 0) groups.push(subs);
    }
  }
}

/**
 * Measure the operation and throw QUERY_TOO_COMPLEX at the first limit passed. `document` must be
 * valid against `schema`; `variables` are the request's (for `first: $n`).
 */
export function checkLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  limits: QueryLimits,
  ownership?: SubgraphOwnership | null,
): OperationMeasure {
  const { maxDepth, maxAliases, maxCost, defaultListSize, maxFetches } = limits;
  const aliases = countAliases(document);
  if (aliases > maxAliases) throw new TooComplex(`the operation has ${aliases} aliases; at most ${maxAliases} are allowed`);

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const values: Record<string, unknown> = {};
  for (const v of operation.variableDefinitions ?? []) {
    const name = v.variable.name.value;
    values[name] = variables && name in variables ? variables[name] : v.defaultValue ? valueFromASTUntyped(v.defaultValue) : undefined;
  }

  /** `first` of a field: literal, variable or schema default; null when the field has none. */
  const firstOf = (node: FieldNode, definition: GraphQLField<unknown, unknown>): number | null => {
    const arg = definition.args.find((a) => a.name === 'first');
    if (!arg) return null;
    const given = node.arguments?.find((a) => a.name.value === 'first')?.value;
    let value: unknown = arg.defaultValue;
    if (given?.kind === Kind.INT) value = Number(given.value);
    else if (given?.kind === Kind.VARIABLE) value = values[given.name.value] ?? arg.defaultValue;
    else if (given?.kind === Kind.NULL) value = arg.defaultValue;
    return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.floor(value)) : null;
  };

  let cost = 0;
  let visits = 0;
  let depthSeen = 0;
  let fetches = 0;
  const rootFetches = new Set<string>();
  const walk = (
    set: SelectionSetNode,
    parent: GraphQLNamedType | null | undefined,
    depth: number,
    times: number,
    connectionSize: number | null,
    inFragments: string[],
    graphs: ReadonlySet<string> | null,
  ) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        walk(selection.selectionSet, type, depth, times, connectionSize, inFragments, graphs);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !inFragments.includes(name)) {
          walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), depth, times, connectionSize, [...inFragments, name], graphs);
        }
        continue;
      }
      const name = selection.name.value;
      if (name.startsWith('__')) continue;
      if (!parent || !(isObjectType(parent) || isInterfaceType(parent))) continue;
      const definition = parent.getFields()[name];
      if (!definition) continue;

      if (++visits > MAX_FIELD_VISITS) throw new TooComplex(`the operation selects more than ${MAX_FIELD_VISITS} fields once fragments are expanded`);
      const fieldDepth = depth + 1;
      if (fieldDepth > maxDepth) throw new TooComplex(`the operation is nested more than ${maxDepth} fields deep`);
      depthSeen = Math.max(depthSeen, fieldDepth);

      const lists = listDepth(definition.type);
      const first = firstOf(selection, definition);
      let size = 1;
      if (lists > 0) {
        const isPage = (name === 'edges' || name === 'nodes') && connectionSize !== null;
        size = (first ?? (isPage ? connectionSize! : defaultListSize)) * defaultListSize ** (lists - 1);
      }
      const count = times * size;
      cost += Math.max(count, 1);
      if (cost > maxCost) {
        throw new TooComplex(`the operation's estimated cost is more than ${maxCost} (lists count their \`first\`, or ${defaultListSize} without it)`);
      }
      // A root field is a fetch; so is a field none of the parent's subgraphs resolves (the planner
      // adds an entity fetch to its owner). Within the parent's subgraphs, the fetch narrows to them.
      let fieldGraphs = graphs;
      const owners = ownership?.owners(parent.name, name) ?? null;
      if (owners) {
        const shared = graphs ? [...owners].filter((g) => graphs.has(g)) : [];
        // Root fields of one subgraph are one fetch, and cheap to plan however many (aliases of
        // `customer { name }` plan in about 0.5 ms each); what costs is every path into another subgraph.
        const rootKey = graphs === null ? [...owners].sort().join(',') : null;
        const counted = rootKey === null || !rootFetches.has(rootKey);
        if (rootKey !== null) rootFetches.add(rootKey);
        if (shared.length === 0 && counted) {
          fetches += 1;
          if (fetches > maxFetches) {
            throw new TooComplex(`the operation needs more than ${maxFetches} subgraph fetches (each root field and each field another subgraph resolves, aliases counted)`);
          }
        }
        if (shared.length === 0) {
          fieldGraphs = owners;
        } else if (shared.length < owners.size || shared.length < graphs!.size) fieldGraphs = new Set(shared);
      }
      if (selection.selectionSet) {
        const type = getNamedType(definition.type);
        const pageSize = type.name.endsWith('Connection') ? (first ?? defaultListSize) : null;
        walk(selection.selectionSet, type, fieldDepth, count, pageSize, inFragments, fieldGraphs);
      }
    }
  };
  walk(operation.selectionSet, rootType(schema, operation), 0, 1, null, [], null);
  return { depth: depthSeen, aliases, cost, fetches };
}
