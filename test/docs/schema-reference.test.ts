/**
 * The schema reference: every type, field, argument and enum value of the subgraph SDLs has a
 * description, and docs/schema.md is what `npm run docs:schema` generates from them now.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'graphql';
import { SCHEMA_DOC_PATH, renderSchemaReference, undocumented } from '../../schema/docs';

const ROOT = path.join(__dirname, '..', '..');

describe('schema reference', () => {
  it('finds an undocumented type, field, argument and enum value', () => {
    const doc = parse(`
      "Documented."
      type Documented { "Yes." ok: String "Yes." list(first: Int): [String] }
      type Bare { field: String }
      enum Kind { "Yes." A B }
      type Query { "Yes." thing(id: ID!): Bare }
    `);
    expect(undocumented([{ name: 'fixture', doc }]).sort()).toEqual(
      ['fixture: Bare', 'fixture: Bare.field', 'fixture: Documented.list(first)', 'fixture: Kind', 'fixture: Kind.B', 'fixture: Query.thing(id)'].sort(),
    );
  });

  it('has a description on every public element of schema/*.graphql', () => {
    expect(undocumented()).toEqual([]);
  });

  it('docs/schema.md is current (npm run docs:schema)', () => {
    expect(readFileSync(SCHEMA_DOC_PATH, 'utf8')).toBe(renderSchemaReference());
  });

  it('npm run docs:schema -- --check agrees, through the command', () => {
    const out = execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['schema/docs.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(out).toContain('docs/schema.md is current');
  });
});
