/**
 * `npm run schema:check`: schema governance (docs/governance.md). Composes the subgraph SDLs, then
 * compares the composed API with the committed supergraph and fails on a breaking change - a type,
 * field, argument, input field or enum value removed, a field or argument retyped, a required
 * argument or input field added - unless what was removed was already `@deprecated` in the
 * committed version (the deprecation path: deprecate in one release, remove in a later one).
 * Changes that are safe for most clients but can surprise some (an enum value added, a default
 * changed) are printed as warnings, and so are root fields that declare no authorization.
 *
 *   npm run schema:check                                  # subgraphs of schema/ against git HEAD's supergraph
 *   npm run schema:check -- --base origin/main            # ... against another git ref (CI on a branch)
 *   npm run schema:check -- --committed old.graphql       # ... against a supergraph file
 *   npm run schema:check -- --subgraphs dir/              # compose dir/*.graphql instead of schema/
 *
 * "Committed" is git's version, not the working file: `npm run compose` rewrites the working file,
 * and a check against it would compare the change with itself. Outside git, the working file is used.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import {
  BreakingChangeType,
  DangerousChangeType,
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  parse,
  type GraphQLSchema,
} from 'graphql';
import { composeSupergraph } from './compose';
import { SUPERGRAPH_PATH } from './subgraphs';

export interface SchemaChange {
  type: string;
  description: string;
  /** Why a breaking change is let through (it was deprecated), when it is. */
  allowedBecause?: string;
}

export interface SchemaCheckResult {
  /** Breaking changes that fail the check. */
  breaking: SchemaChange[];
  /** Breaking changes allowed by the deprecation policy. */
  allowed: SchemaChange[];
  /** Dangerous changes and governance notes; they do not fail the check. */
  warnings: string[];
}

/** Types of federation's machinery, not of the API clients see. */
const INTERNAL = /^(join__|link__|requiresScopes__|policy__)/;

function apiSchema(supergraphSdl: string): GraphQLSchema {
  return buildSchema(supergraphSdl, { assumeValidSDL: true });
}

/** Deprecation reason of a schema coordinate (Type.field, Type.field(arg:), Enum.VALUE, Input.field), if any. */
function deprecationOf(schema: GraphQLSchema, coordinate: { type: string; field?: string; arg?: string; value?: string }): string | null {
  const type = schema.getType(coordinate.type);
  if (!type) return null;
  if (coordinate.value !== undefined && isEnumType(type)) return type.getValue(coordinate.value)?.deprecationReason ?? null;
  if (coordinate.field === undefined) return null;
  if (isObjectType(type) || isInterfaceType(type)) {
    const field = type.getFields()[coordinate.field];
    if (!field) return null;
    if (coordinate.arg !== undefined) return field.args.find((a) => a.name === coordinate.arg)?.deprecationReason ?? null;
    return field.deprecationReason ?? null;
  }
  if (isInputObjectType(type)) return type.getFields()[coordinate.field]?.deprecationReason ?? null;
  return null;
}

/** Every place the old schema refers to a type, and whether that place was deprecated. */
function referencesOf(schema: GraphQLSchema, typeName: string): { where: string; deprecated: boolean }[] {
  const refs: { where: string; deprecated: boolean }[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || INTERNAL.test(type.name)) continue;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (getNamedType(field.type).name === typeName) refs.push({ where: `${type.name}.${field.name}`, deprecated: !!field.deprecationReason });
        for (const arg of field.args) {
          if (getNamedType(arg.type).name === typeName) {
            refs.push({ where: `${type.name}.${field.name}(${arg.name}:)`, deprecated: !!(arg.deprecationReason || field.deprecationReason) });
          }
        }
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (getNamedType(field.type).name === typeName) refs.push({ where: `${type.name}.${field.name}`, deprecated: !!field.deprecationReason });
      }
    }
  }
  return refs;
}

/** Why a breaking change is allowed under the deprecation policy; null when it is not. */
function allowance(old: GraphQLSchema, change: { type: string; description: string }): string | null {
  let m: RegExpExecArray | null;
  const deprecated = (coordinate: Parameters<typeof deprecationOf>[1], label: string) => {
    const reason = deprecationOf(old, coordinate);
    return reason ? `${label} was deprecated ("${reason}")` : null;
  };
  switch (change.type) {
    case BreakingChangeType.FIELD_REMOVED:
      m = /^(\w+)\.(\w+) was removed\.$/.exec(change.description);
      return m ? deprecated({ type: m[1], field: m[2] }, `${m[1]}.${m[2]}`) : null;
    case BreakingChangeType.ARG_REMOVED:
      m = /^(\w+)\.(\w+) arg (\w+) was removed\.$/.exec(change.description);
      return m ? deprecated({ type: m[1], field: m[2], arg: m[3] }, `${m[1]}.${m[2]}(${m[3]}:)`) ?? deprecated({ type: m[1], field: m[2] }, `${m[1]}.${m[2]}`) : null;
    case BreakingChangeType.VALUE_REMOVED_FROM_ENUM:
      m = /^(\w+) was removed from enum type (\w+)\.$/.exec(change.description);
      return m ? deprecated({ type: m[2], value: m[1] }, `${m[2]}.${m[1]}`) : null;
    case BreakingChangeType.TYPE_REMOVED: {
      // A type goes with the last field that returned it: allowed when every such field was deprecated.
      m = /^(\w+) was removed\.$/.exec(change.description);
      if (!m) return null;
      const refs = referencesOf(old, m[1]);
      return refs.every((r) => r.deprecated) ? `every field using ${m[1]} was deprecated${refs.length ? ` (${refs.map((r) => r.where).join(', ')})` : ''}` : null;
    }
    default:
      // Retyping is never allowed: add a new field and deprecate the old one instead.
      return null;
  }
}

function isInternal(change: { type: string; description: string }): boolean {
  if (change.type.startsWith('DIRECTIVE_')) return true; // directives are federation's, not the client's API
  return /\b(join__|link__|requiresScopes__|policy__)\w*/.test(change.description);
}

/** Root fields that declare no @authenticated/@requiresScopes: any token may call them. */
function unguardedRootFields(supergraphSdl: string): string[] {
  const found: string[] = [];
  const document = parse(supergraphSdl);
  for (const definition of document.definitions) {
    if (definition.kind !== 'ObjectTypeDefinition' || !['Query', 'Mutation', 'Subscription'].includes(definition.name.value)) continue;
    const typeGuarded = definition.directives?.some((d) => d.name.value === 'authenticated' || d.name.value === 'requiresScopes');
    if (typeGuarded) continue;
    for (const field of definition.fields ?? []) {
      const guarded = field.directives?.some((d) => d.name.value === 'authenticated' || d.name.value === 'requiresScopes');
      if (!guarded) found.push(`${definition.name.value}.${field.name.value}`);
    }
  }
  return found;
}

/** Compare a composed supergraph with the committed one. */
export function compareSupergraphs(committedSdl: string, nextSdl: string): SchemaCheckResult {
  const old = apiSchema(committedSdl);
  const next = apiSchema(nextSdl);
  const breaking: SchemaChange[] = [];
  const allowed: SchemaChange[] = [];
  for (const change of findBreakingChanges(old, next)) {
    if (isInternal(change)) continue;
    const because = allowance(old, change);
    if (because) allowed.push({ ...change, allowedBecause: because });
    else breaking.push({ ...change });
  }
  const warnings = findDangerousChanges(old, next)
    .filter((c) => !isInternal(c))
    .map((c) => `${c.type === DangerousChangeType.VALUE_ADDED_TO_ENUM ? 'enum value added (clients with exhaustive switches must handle it)' : c.type}: ${c.description}`);
  for (const field of unguardedRootFields(nextSdl)) {
    warnings.push(`authorization: ${field} declares no @authenticated or @requiresScopes, so any valid token may call it`);
  }
  return { breaking, allowed, warnings };
}

/** Compose every `<name>.graphql` of a directory as a subgraph named after its file. */
export function composeDirectory(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  const result = composeServices(
    files.map((file, i) => ({
      name: path.basename(file, '.graphql'),
      typeDefs: parse(readFileSync(path.join(dir, file), 'utf8')),
      url: `http://127.0.0.1:${4001 + i}/graphql`,
    })),
  );
  if (result.errors) throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  return result.supergraphSdl;
}

/** The supergraph as committed at a git ref; null outside a git checkout. */
export function committedSupergraph(ref = 'HEAD', file = SUPERGRAPH_PATH): string | null {
  try {
    const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: path.dirname(file), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const relative = path.relative(root, file).split(path.sep).join('/');
    return execFileSync('git', ['show', `${ref}:${relative}`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
  } catch {
    return null;
  }
}

export function formatResult(result: SchemaCheckResult, against: string): string {
  const lines: string[] = [];
  for (const c of result.breaking) lines.push(`BREAKING  ${c.type}: ${c.description}`);
  for (const c of result.allowed) lines.push(`allowed   ${c.type}: ${c.description} (${c.allowedBecause})`);
  for (const w of result.warnings) lines.push(`warning   ${w}`);
  lines.push(
    result.breaking.length
      ? `schema:check failed: ${result.breaking.length} breaking change(s) against ${against}. Deprecate first (@deprecated(reason: ...)), remove in a later release; see docs/governance.md.`
      : `schema:check passed against ${against} (${result.allowed.length} deprecated removal(s), ${result.warnings.length} warning(s)).`,
  );
  return lines.join('\n');
}

function main(argv: string[]): number {
  const option = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const subgraphsDir = option('subgraphs');
  const committedFile = option('committed');
  const base = option('base') ?? process.env.CONCORD_SCHEMA_BASE ?? 'HEAD';
  const next = subgraphsDir ? composeDirectory(subgraphsDir) : composeSupergraph();
  let committed: string | null;
  let against: string;
  if (committedFile) {
    committed = readFileSync(committedFile, 'utf8');
    against = committedFile;
  } else {
    committed = committedSupergraph(base);
    against = `${base}:schema/supergraph.graphql`;
    if (committed === null) {
      committed = readFileSync(SUPERGRAPH_PATH, 'utf8');
      against = 'schema/supergraph.graphql (no git history here)';
    }
  }
  const result = compareSupergraphs(committed, next);
  const report = formatResult(result, against);
  (result.breaking.length ? console.error : console.log)(report);
  return result.breaking.length ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    console.error(`schema:check: ${(error as Error).message}`);
    process.exitCode = 2;
  }
}
