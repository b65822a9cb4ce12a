/**
 * docs/configuration.md lists exactly the environment variables core/config.ts reads: a variable
 * added to the code without a row, or a row left behind after its variable went, fails here. The
 * names are read from the source (env.NAME, integer(env, 'NAME'), integerAtLeast(env, 'NAME'), and the vendor groups' 'NAME'
 * values), not from a list kept in this test.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export function variablesReadBy(source: string): Set<string> {
  const names = new Set<string>();
  for (const pattern of [
    /\benv\.([A-Z][A-Z0-9_]*)/g,
    /\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g,
    /\binteger(?:AtLeast)?\(env,\s*'([A-Z][A-Z0-9_]*)'/g,
    // The vendor groups map config keys to variable names: { accountId: 'NETSUITE_ACCOUNT_ID', ... }.
    /\b[a-zA-Z]+:\s*'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g,
  ]) {
    for (const match of source.matchAll(pattern)) names.add(match[1]);
  }
  return names;
}

export function variablesDocumentedIn(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const match of markdown.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|[^|\n]+\|[^|\n]+\|\s*$/gm)) names.add(match[1]);
  return names;
}

describe('docs/configuration.md', () => {
  const source = readFileSync(path.join(ROOT, 'core', 'config.ts'), 'utf8');
  const page = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const read = variablesReadBy(source);
  const documented = variablesDocumentedIn(page);

  it('finds the variables core/config.ts reads', () => {
    // A guard on the parser itself: these are read in three different ways.
    for (const name of ['PORT', 'REDIS_URL', 'CONCORD_MAX_DEPTH', 'NETSUITE_TOKEN_SECRET', 'OTEL_TRACES_EXPORTER']) expect(read).toContain(name);
  });

  it('has a row for every variable core/config.ts reads', () => {
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  it('has no row for a variable core/config.ts does not read', () => {
    expect([...documented].filter((name) => !read.has(name)).sort()).toEqual([]);
  });

  it('rows have a meaning and a default', () => {
    for (const line of page.split('\n').filter((l) => /^\| `[A-Z]/.test(l))) {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      expect(cells).toHaveLength(3);
      expect(cells[1].length).toBeGreaterThan(3);
      expect(cells[2].length).toBeGreaterThan(0);
    }
  });
});
