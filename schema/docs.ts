/**
 * `npm run docs:schema`: docs/schema.md, the schema reference, generated from the subgraph SDLs
 * (schema/*.graphql) and their descriptions. Each type lists its fields from every subgraph that
 * contributes to it, with the subgraph that resolves each, its arguments and the scopes it needs.
 * `--check` compares instead of writing (test/docs/schema-reference.test.ts runs it).
 * Also exports `undocumented()`, the public elements without a description, for the test that
 * keeps every one documented.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  print,
  type ConstDirectiveNode,
  type DefinitionNode,
  type DocumentNode,
  type EnumValueDefinitionNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type StringValueNode,
  type TypeNode,
} from 'graphql';
import { SUBGRAPH_NAMES, subgraphTypeDefs, type SubgraphName } from './subgraphs';

export const SCHEMA_DOC_PATH = path.join(__dirname, '..', 'docs', 'schema.md');

type Described = { description?: StringValueNode; name: { value: string } };
type TypeDefinition = Extract<DefinitionNode, { name: { value: string } }> & { description?: StringValueNode };

interface Element {
  subgraph: string;
  path: string;
  node: Described;
}

const ROOTS = ['Query', 'Mutation', 'Subscription'];

/** A subgraph's SDL by name: the files in schema/ by default, or given (tests). */
export type SdlSource = { name: string; doc: DocumentNode }[];
const FILES = (): SdlSource => SUBGRAPH_NAMES.map((name) => ({ name, doc: subgraphTypeDefs(name) }));

function typeDefinitions(doc: DocumentNode): TypeDefinition[] {
  return doc.definitions.filter((d): d is TypeDefinition => 'name' in d && d.name !== undefined && !d.kind.startsWith('Directive'));
}

function fieldsOf(def: TypeDefinition): readonly (FieldDefinitionNode | InputValueDefinitionNode)[] {
  return ('fields' in def && def.fields ? def.fields : []) as readonly (FieldDefinitionNode | InputValueDefinitionNode)[];
}

function valuesOf(def: TypeDefinition): readonly EnumValueDefinitionNode[] {
  return ('values' in def && def.values ? def.values : []) as readonly EnumValueDefinitionNode[];
}

/** Every type, field, argument and enum value of every subgraph SDL, with its path (`Type.field(arg)`). */
export function schemaElements(sources: SdlSource = FILES()): Element[] {
  const elements: Element[] = [];
  for (const { name: subgraph, doc } of sources) {
    for (const def of typeDefinitions(doc)) {
      const type = def.name.value;
      // A root type is a container: its fields carry the descriptions.
      if (!ROOTS.includes(type)) elements.push({ subgraph, path: type, node: def });
      for (const field of fieldsOf(def)) {
        elements.push({ subgraph, path: `${type}.${field.name.value}`, node: field });
        for (const arg of ('arguments' in field && field.arguments) || []) elements.push({ subgraph, path: `${type}.${field.name.value}(${arg.name.value})`, node: arg });
      }
      for (const value of valuesOf(def)) elements.push({ subgraph, path: `${type}.${value.name.value}`, node: value });
    }
  }
  return elements;
}

/** `subgraph: Type.field` for each public element without a description. */
export function undocumented(sources: SdlSource = FILES()): string[] {
  return schemaElements(sources)
    .filter((e) => !e.node.description?.value.trim())
    .map((e) => `${e.subgraph}: ${e.path}`);
}

const oneLine = (text: string | undefined) => (text ?? '').replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
const typeName = (type: TypeNode) => print(type);

function scopesOf(directives: readonly ConstDirectiveNode[] | undefined): string {
  const out: string[] = [];
  for (const d of directives ?? []) {
    if (d.name.value === 'authenticated') out.push('any token');
    if (d.name.value === 'requiresScopes') {
      const arg = d.arguments?.find((a) => a.name.value === 'scopes');
      if (arg && arg.value.kind === 'ListValue') {
        out.push(arg.value.values.map((all) => (all.kind === 'ListValue' ? all.values.map((s) => (s.kind === 'StringValue' ? `\`${s.value}\`` : '')).join(' and ') : '')).join(' or '));
      }
    }
  }
  return out.join('; ');
}

const KIND_LABEL: Record<string, string> = {
  ObjectTypeDefinition: 'object',
  ObjectTypeExtension: 'object',
  InputObjectTypeDefinition: 'input',
  EnumTypeDefinition: 'enum',
  ScalarTypeDefinition: 'scalar',
  InterfaceTypeDefinition: 'interface',
  UnionTypeDefinition: 'union',
};

/** The Markdown reference. Deterministic: types in alphabetical order, roots first. */
export function renderSchemaReference(): string {
  interface Merged {
    kind: string;
    description: string;
    fields: Map<string, { line: string; from: SubgraphName[] }>;
    values: Map<string, string>;
    members: string[];
  }
  const types = new Map<string, Merged>();
  for (const subgraph of SUBGRAPH_NAMES) {
    for (const def of typeDefinitions(subgraphTypeDefs(subgraph))) {
      const name = def.name.value;
      const merged = types.get(name) ?? { kind: KIND_LABEL[def.kind] ?? def.kind, description: '', fields: new Map(), values: new Map(), members: [] };
      types.set(name, merged);
      if (!merged.description && def.description) merged.description = oneLine(def.description.value);
      for (const field of fieldsOf(def)) {
        const args = 'arguments' in field && field.arguments?.length ? field.arguments : [];
        const signature = `${field.name.value}${args.length ? `(${args.map((a) => `${a.name.value}: ${typeName(a.type)}${a.defaultValue ? ` = ${print(a.defaultValue)}` : ''}`).join(', ')})` : ''}`;
        const argDocs = args.map((a) => `<br>\`${a.name.value}\`: ${oneLine(a.description?.value)}`).join('');
        const deprecated = field.directives?.find((d) => d.name.value === 'deprecated');
        const reason = deprecated ? ` **Deprecated**: ${oneLine((deprecated.arguments?.[0]?.value as StringValueNode | undefined)?.value ?? 'no longer supported')}` : '';
        const existing = merged.fields.get(field.name.value);
        if (existing) {
          existing.from.push(subgraph);
          continue;
        }
        const scopes = 'directives' in field ? scopesOf(field.directives) : '';
        merged.fields.set(field.name.value, {
          line: `| \`${signature}\` | \`${typeName(field.type)}\` | ${oneLine(field.description?.value)}${reason}${argDocs} | ${scopes} |`,
          from: [subgraph],
        });
      }
      for (const value of valuesOf(def)) if (!merged.values.has(value.name.value)) merged.values.set(value.name.value, oneLine(value.description?.value));
      if (def.kind === 'UnionTypeDefinition') merged.members = (def.types ?? []).map((t) => t.name.value);
    }
  }
  const names = [...types.keys()].sort((a, b) => {
    const ra = ROOTS.indexOf(a);
    const rb = ROOTS.indexOf(b);
    if (ra !== -1 || rb !== -1) return (ra === -1 ? 9 : ra) - (rb === -1 ? 9 : rb);
    return a.localeCompare(b);
  });
  const out: string[] = [
    '# Schema reference',
    '',
    '<!-- Generated by `npm run docs:schema` from schema/*.graphql; do not edit by hand (a test fails when it is stale). -->',
    '',
    'Every type of the public schema, with each field, the subgraph that resolves it and the scopes it',
    'needs. Semantics shared by all of them (money, times, "not found is null", pagination, error codes)',
    'are in [api.md](api.md). Federation keys (`id` of entities) are resolved by every subgraph that holds the entity.',
    '',
    `Types: ${names.map((n) => `[${n}](#${n.toLowerCase()})`).join(', ')}.`,
    '',
  ];
  for (const name of names) {
    const t = types.get(name)!;
    out.push(`## ${name}`, '', `*${t.kind}*${t.description ? ` ${t.description}` : ''}`, '');
    if (t.fields.size > 0) {
      out.push('| field | type | description | scopes |', '| --- | --- | --- | --- |');
      for (const { line, from } of t.fields.values()) out.push(line.replace(/ \| ([^|]*) \|$/, ` | $1 |`).replace(/^\| `([^`]+)`/, `| \`$1\`<br>*${from.join(', ')}*`));
      out.push('');
    }
    if (t.values.size > 0) {
      out.push('| value | meaning |', '| --- | --- |');
      for (const [value, description] of t.values) out.push(`| \`${value}\` | ${description} |`);
      out.push('');
    }
    if (t.members.length > 0) out.push(`One of: ${t.members.map((m) => `[${m}](#${m.toLowerCase()})`).join(', ')}.`, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (require.main === module) {
  const markdown = renderSchemaReference();
  if (process.argv.includes('--check')) {
    if (readFileSync(SCHEMA_DOC_PATH, 'utf8') !== markdown) {
      console.error('docs/schema.md is stale: run `npm run docs:schema` and commit it');
      process.exit(1);
    }
    console.log('docs/schema.md is current');
  } else {
    writeFileSync(SCHEMA_DOC_PATH, markdown);
    console.log(`wrote ${path.relative(process.cwd(), SCHEMA_DOC_PATH)}`);
  }
}
