/**
 * Authorization from the schema, enforced by the gateway before execution.
 *
 * The subgraph SDLs declare who may see what with Federation 2.5's `@authenticated` and
 * `@requiresScopes(scopes: [["a", "b"], ["c"]])` ((a AND b) OR c); composition carries both into the
 * supergraph. Before an operation is planned, every field of it that the caller's token may not see
 * is removed from the document, with a FORBIDDEN error at that field's path; the rest of the
 * operation runs and its answer stays. (This is what Apollo Router's authorization does; the
 * open-source @apollo/gateway only carries the directives, so Concord enforces them here.)
 *
 * A requirement on a type applies to every field that returns it; a field needs its own
 * requirement and its type's. The rewrite keeps only the executed operation and the fragments it
 * still uses, drops selections left empty (and the field holding them), and drops variable
 * definitions no longer used, so the rewritten document is valid whenever the original was.
 *
 * The rewritten document is handed to Apollo as new query text, so Apollo parses, validates, plans
 * and caches it under its own hash. Never rewrite `requestContext.document` in a plugin instead:
 * @apollo/gateway keys its query-plan cache by the original text's hash, and one caller's reduced
 * plan would be served to another caller (or the other way round).
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  isInterfaceType,
  isObjectType,
  parse,
  print,
  visit,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Principal } from '../core/principal';

/** `[["a","b"],["c"]]`: (a AND b) OR c. */
export type ScopeAlternatives = readonly (readonly string[])[];

/** What seeing one field (or type) takes. Every listed alternative set must be satisfied. */
export interface Requirement {
  authenticated: boolean;
  scopes: readonly ScopeAlternatives[];
}

export interface AuthorizationPolicy {
  /** What `Type.field` takes: the field's own requirement plus its return type's. Undefined = nothing. */
  fieldRequirement(typeName: string, fieldName: string): Requirement | undefined;
  /** Number of fields and types carrying a requirement (for start-up logs and tests). */
  readonly size: number;
}

/** One field removed from the operation, for the FORBIDDEN error at its path. */
export interface Denial {
  path: string[];
  message: string;
}

export interface AuthorizationResult {
  /** The operation to execute: the original when nothing was removed. */
  document: DocumentNode;
  /** True when fields were removed (then `document` is a new one). */
  changed: boolean;
  /** True when nothing of the operation is left to execute. */
  empty: boolean;
  denials: Denial[];
}

const AUTHENTICATED_SPEC = 'https://specs.apollo.dev/authenticated/';
const REQUIRES_SCOPES_SPEC = 'https://specs.apollo.dev/requiresScopes/';

/** The names under which a supergraph links the two directives (`@link(..., as: "...")` renames them). */
function directiveNames(document: DocumentNode): { authenticated: string; requiresScopes: string } {
  const names = { authenticated: 'authenticated', requiresScopes: 'requiresScopes' };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const arg = (name: string) => directive.arguments?.find((a) => a.name.value === name)?.value;
      const url = arg('url');
      const as = arg('as');
      if (url?.kind !== Kind.STRING || as?.kind !== Kind.STRING) continue;
      if (url.value.startsWith(AUTHENTICATED_SPEC)) names.authenticated = as.value;
      if (url.value.startsWith(REQUIRES_SCOPES_SPEC)) names.requiresScopes = as.value;
    }
  }
  return names;
}

function requirementOf(directives: readonly DirectiveNode[] | undefined, names: { authenticated: string; requiresScopes: string }): Requirement | undefined {
  let authenticated = false;
  const scopes: ScopeAlternatives[] = [];
  for (const directive of directives ?? []) {
    if (directive.name.value === names.authenticated) authenticated = true;
    if (directive.name.value === names.requiresScopes) {
      const value = directive.arguments?.find((a) => a.name.value === 'scopes')?.value;
      if (value?.kind !== Kind.LIST) continue;
      scopes.push(
        value.values.map((alternative) =>
          alternative.kind === Kind.LIST ? alternative.values.flatMap((s) => (s.kind === Kind.STRING ? [s.value] : [])) : [],
        ),
      );
    }
  }
  // Requiring scopes implies being authenticated.
  return authenticated || scopes.length > 0 ? { authenticated: true, scopes } : undefined;
}

function merge(a: Requirement | undefined, b: Requirement | undefined): Requirement | undefined {
  if (!a) return b;
  if (!b) return a;
  return { authenticated: a.authenticated || b.authenticated, scopes: [...a.scopes, ...b.scopes] };
}

/** Security features this module enforces (their `@link` URLs, without the version). */
const ENFORCED_FEATURES = /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v0\.\d+")\s*,\s*for:\s*SECURITY\s*\)/g;

/**
 * The supergraph as @apollo/gateway should load it. The gateway refuses a supergraph that links a
 * `for: SECURITY` feature it does not implement itself, rightly: carrying `@requiresScopes` without
 * enforcing it would be an open door. Concord enforces these two features here, before the gateway
 * sees an operation, so their links are handed on as plain (purpose-less) features. Any other
 * security feature (`@policy`, say) still makes the gateway refuse to start, as it should.
 */
export function supergraphForGateway(supergraphSdl: string): string {
  return supergraphSdl.replace(ENFORCED_FEATURES, '$1)');
}

/** Read `@authenticated` / `@requiresScopes` of every type and field of a composed supergraph. */
export function policyFromSupergraph(supergraphSdl: string): AuthorizationPolicy {
  const document = parse(supergraphSdl);
  const names = directiveNames(document);
  const typeRequirements = new Map<string, Requirement>();
  const fieldRequirements = new Map<string, Requirement>();
  const fieldTypes = new Map<string, string>();
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION:
      case Kind.SCALAR_TYPE_DEFINITION:
      case Kind.SCALAR_TYPE_EXTENSION:
      case Kind.ENUM_TYPE_DEFINITION:
      case Kind.ENUM_TYPE_EXTENSION: {
        const type = definition.name.value;
        const own = requirementOf(definition.directives, names);
        if (own) typeRequirements.set(type, merge(typeRequirements.get(type), own)!);
        if (!('fields' in definition)) break;
        for (const field of definition.fields ?? []) {
          const key = `${type}.${field.name.value}`;
          let t = field.type;
          while (t.kind !== Kind.NAMED_TYPE) t = t.type;
          fieldTypes.set(key, t.name.value);
          const requirement = requirementOf(field.directives, names);
          if (requirement) fieldRequirements.set(key, requirement);
        }
        break;
      }
      default:
        break;
    }
  }
  const combined = new Map<string, Requirement | undefined>();
  return {
    size: typeRequirements.size + fieldRequirements.size,
    fieldRequirement(typeName, fieldName) {
      const key = `${typeName}.${fieldName}`;
      if (!combined.has(key)) {
        const returned = fieldTypes.get(key);
        combined.set(key, merge(fieldRequirements.get(key), returned ? typeRequirements.get(returned) : undefined));
      }
      return combined.get(key);
    },
  };
}

/** True when the principal (null = anonymous) meets the requirement. */
export function satisfies(principal: Principal | null, requirement: Requirement | undefined): boolean {
  if (!requirement) return true;
  if (requirement.authenticated && !principal) return false;
  return requirement.scopes.every((alternatives) => alternatives.some((all) => all.every((scope) => principal?.scopes.has(scope))));
}

function describe(requirement: Requirement): string {
  if (requirement.scopes.length === 0) return 'an authenticated caller';
  const text = requirement.scopes
    .map((alternatives) => alternatives.map((all) => all.join(' and ')).join(' or '))
    .join(', and ');
  return `scope ${text}`;
}

/** The operation a request executes: by name, or the only one. Null when that is ambiguous or absent. */
export function selectOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((o) => o.name?.value === operationName) ?? null;
  return operations.length === 1 ? operations[0] : null;
}

export function rootType(schema: GraphQLSchema, operation: OperationDefinitionNode): GraphQLNamedType | null | undefined {
  return operation.operation === 'query'
    ? schema.getQueryType()
    : operation.operation === 'mutation'
      ? schema.getMutationType()
      : schema.getSubscriptionType();
}

/**
 * Remove from the executed operation every field the principal may not see. `document` must be
 * valid against `schema` (the API schema); the result is too.
 */
export function authorizeOperation(
  schema: GraphQLSchema,
  policy: AuthorizationPolicy,
  document: DocumentNode,
  operationName: string | null | undefined,
  principal: Principal | null,
): AuthorizationResult {
  const operation = selectOperation(document, operationName);
  if (!operation) throw new GraphQLError('the request must name one operation of the document');
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  const removed = new Set<FieldNode>();
  const denials = new Map<string, Denial>();

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | null | undefined, path: string[], inFragments: string[]) => {
    if (!parent || !(isObjectType(parent) || isInterfaceType(parent))) {
      // Unions: only inline fragments and spreads (with their own type conditions) select fields.
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent, path, inFragments);
        if (selection.kind === Kind.FRAGMENT_SPREAD) spread(selection.name.value, path, inFragments);
      }
      return;
    }
    for (const selection of selectionSet.selections) {
      switch (selection.kind) {
        case Kind.FIELD: {
          const name = selection.name.value;
          if (name.startsWith('__')) break; // __typename and introspection: governed by the introspection setting
          const definition = parent.getFields()[name];
          if (!definition) break;
          const key = [...path, selection.alias?.value ?? name];
          const requirement = policy.fieldRequirement(parent.name, name);
          if (!satisfies(principal, requirement)) {
            removed.add(selection);
            const where = key.join('.');
            if (!denials.has(where)) {
              denials.set(where, { path: key, message: `this token may not read ${parent.name}.${name}: it needs ${describe(requirement!)}` });
            }
            break;
          }
          if (selection.selectionSet) walk(selection.selectionSet, getNamedType(definition.type), key, inFragments);
          break;
        }
        case Kind.INLINE_FRAGMENT:
          walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent, path, inFragments);
          break;
        case Kind.FRAGMENT_SPREAD:
          spread(selection.name.value, path, inFragments);
          break;
      }
    }
  };
  const spread = (name: string, path: string[], inFragments: string[]) => {
    const fragment = fragments.get(name);
    if (!fragment || inFragments.includes(name)) return;
    walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), path, [...inFragments, name]);
  };
  walk(operation.selectionSet, rootType(schema, operation), [], []);

  const onlyOperation = document.definitions.length === 1 + fragments.size;
  if (removed.size === 0 && onlyOperation) return { document, changed: false, empty: false, denials: [] };
  const rewritten = prune(document, operation, removed);
  return { document: rewritten ?? document, changed: true, empty: rewritten === null, denials: [...denials.values()] };
}

/**
 * The document with only `operation`, without the removed fields, without selections left empty,
 * unused fragments or unused variables. Null when nothing of the operation is left.
 */
function prune(document: DocumentNode, operation: OperationDefinitionNode, removed: Set<FieldNode>): DocumentNode | null {
  // Fields are removed on `enter`, where nodes are still the originals the walk saw.
  let current = visit(document, {
    Field: { enter: (node) => (removed.has(node) ? null : undefined) },
    OperationDefinition: { enter: (node) => (node === operation ? undefined : null) },
  });
  for (;;) {
    const emptyFragments = new Set<string>();
    for (const d of current.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION && d.selectionSet.selections.length === 0) emptyFragments.add(d.name.value);
    }
    let changed = false;
    const next: DocumentNode = visit(current, {
      FragmentSpread: (node) => {
        if (!emptyFragments.has(node.name.value)) return undefined;
        changed = true;
        return null;
      },
      FragmentDefinition: {
        leave: (node) => {
          if (!emptyFragments.has(node.name.value)) return undefined;
          changed = true;
          return null;
        },
      },
      // A field or inline fragment whose selections are all gone goes too.
      Field: {
        leave: (node) => {
          if (node.selectionSet && node.selectionSet.selections.length === 0) {
            changed = true;
            return null;
          }
          return undefined;
        },
      },
      InlineFragment: {
        leave: (node) => {
          if (node.selectionSet.selections.length === 0) {
            changed = true;
            return null;
          }
          return undefined;
        },
      },
    });
    current = next;
    if (!changed) break;
  }
  const op = current.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!op || op.selectionSet.selections.length === 0) return null;

  // Fragments still reachable from the operation, and variables still used by what is left.
  const byName = new Map<string, FragmentDefinitionNode>();
  for (const d of current.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) byName.set(d.name.value, d);
  const reachable = new Set<string>();
  const usedVariables = new Set<string>();
  const collect = (node: OperationDefinitionNode | FragmentDefinitionNode) => {
    visit(node.selectionSet, {
      FragmentSpread: (spread) => {
        const name = spread.name.value;
        if (!reachable.has(name) && byName.has(name)) {
          reachable.add(name);
          collect(byName.get(name)!);
        }
      },
      Variable: (variable) => {
        usedVariables.add(variable.name.value);
      },
    });
  };
  collect(op);
  return {
    ...current,
    definitions: current.definitions.flatMap((d): DefinitionNode[] => {
      if (d.kind === Kind.FRAGMENT_DEFINITION) return reachable.has(d.name.value) ? [d] : [];
      if (d.kind === Kind.OPERATION_DEFINITION) {
        return [{ ...d, variableDefinitions: d.variableDefinitions?.filter((v) => usedVariables.has(v.variable.name.value)) }];
      }
      return [d];
    }),
  };
}

/** The text Apollo executes for an authorization result. */
export function operationText(result: AuthorizationResult, original: string): string {
  return result.changed ? print(result.document) : original;
}
