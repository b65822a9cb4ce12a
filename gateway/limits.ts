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
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxCost: 300_000, defaultListSize: 10 };

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
 * Measure the operation and throw QUERY_TOO_COMPLEX at the first limit passed. `document` must be
 * valid against `schema`; `variables` are the request's (for `first: $n`).
 */
export function checkLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  limits: QueryLimits,
): OperationMeasure {
  const { maxDepth, maxAliases, maxCost, defaultListSize } = limits;
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
  const walk = (
    set: SelectionSetNode,
    parent: GraphQLNamedType | null | undefined,
    depth: number,
    times: number,
    connectionSize: number | null,
    inFragments: string[],
  ) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        walk(selection.selectionSet, type, depth, times, connectionSize, inFragments);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !inFragments.includes(name)) {
          walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), depth, times, connectionSize, [...inFragments, name]);
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
      if (selection.selectionSet) {
        const type = getNamedType(definition.type);
        const pageSize = type.name.endsWith('Connection') ? (first ?? defaultListSize) : null;
        walk(selection.selectionSet, type, fieldDepth, count, pageSize, inFragments);
      }
    }
  };
  walk(operation.selectionSet, rootType(schema, operation), 0, 1, null, []);
  return { depth: depthSeen, aliases, cost };
}
