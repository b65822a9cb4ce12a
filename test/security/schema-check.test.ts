/**
 * Schema governance in CI: `npm run schema:check` on the real subgraphs (no breaking change against
 * the committed supergraph), and on fixtures - a small federation with one change each - that it
 * fails on removals and retypes and passes on deprecations, and on removals of what was deprecated.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { committedSupergraph, compareSupergraphs, composeDirectory } from '../../schema/check';
import { composeSupergraph } from '../../schema/compose';
import { SUPERGRAPH_PATH } from '../../schema/subgraphs';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'schema-check');
const ROOT = path.join(__dirname, '..', '..');
const committed = readFileSync(path.join(FIXTURES, 'committed.graphql'), 'utf8');
const variant = (name: string) => composeDirectory(path.join(FIXTURES, name));
const check = (name: string, base = committed) => compareSupergraphs(base, variant(name));

describe('schema:check on fixtures', () => {
  it('the committed fixture is the composed base', () => {
    expect(committed).toBe(variant('base'));
  });

  it.each([
    ['field-removed', 'FIELD_REMOVED', 'Account.domain was removed.'],
    ['field-retyped', 'FIELD_CHANGED_KIND', 'Account.domain changed type from String to Int.'],
    ['enum-value-removed', 'VALUE_REMOVED_FROM_ENUM', 'ENTERPRISE was removed from enum type Tier.'],
    ['argument-removed', 'ARG_REMOVED', 'Query.accounts arg region was removed.'],
  ])('fails on %s', (name, type, description) => {
    expect(check(name).breaking).toEqual([{ type, description }]);
  });

  it.each(['field-deprecated', 'enum-value-deprecated', 'argument-deprecated', 'field-made-non-null'])('passes on %s', (name) => {
    expect(check(name).breaking).toEqual([]);
  });

  it.each([
    ['field-deprecated', 'field-removed'],
    ['enum-value-deprecated', 'enum-value-removed'],
    ['argument-deprecated', 'argument-removed'],
  ])('passes when what %s deprecated is removed later (%s)', (deprecated, removed) => {
    const result = check(removed, variant(deprecated));
    expect(result.breaking).toEqual([]);
    expect(result.allowed).toHaveLength(1);
    expect(result.allowed[0].allowedBecause).toMatch(/was deprecated/);
  });

  it('never allows a retype, deprecated or not', () => {
    expect(check('field-retyped', variant('field-deprecated')).breaking).toHaveLength(1);
  });

  it('fails and passes as a command (exit codes 1 and 0), as CI runs it', async () => {
    const run = (name: string) =>
      promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'schema/check.ts', '--subgraphs', path.join(FIXTURES, name), '--committed', path.join(FIXTURES, 'committed.graphql')], { cwd: ROOT }).then(
        ({ stdout }) => ({ code: 0, output: stdout }),
        (error: { code: number; stderr: string }) => ({ code: error.code, output: error.stderr }),
      );
    const [removed, deprecated] = await Promise.all([run('field-removed'), run('field-deprecated')]);
    expect(removed.code).toBe(1);
    expect(removed.output).toMatch(/BREAKING {2}FIELD_REMOVED: Account\.domain was removed\./);
    expect(deprecated.code).toBe(0);
    expect(deprecated.output).toMatch(/schema:check passed/);
  }, 30_000);
});

describe('schema:check on the real subgraphs', () => {
  it('finds no breaking change against the committed supergraph (git, or the file outside git)', () => {
    const base = process.env.CONCORD_SCHEMA_BASE ?? 'HEAD';
    const committedSdl = committedSupergraph(base) ?? readFileSync(SUPERGRAPH_PATH, 'utf8');
    const result = compareSupergraphs(committedSdl, composeSupergraph());
    expect(result.breaking).toEqual([]);
  });

  it('every root field declares its authorization', () => {
    const warnings = compareSupergraphs(readFileSync(SUPERGRAPH_PATH, 'utf8'), composeSupergraph()).warnings;
    expect(warnings.filter((w) => w.startsWith('authorization:'))).toEqual([]);
  });
});
