/**
 * docs/api.md is the public contract: its error-code table lists exactly the codes of core/errors.ts
 * (with the retryability the code defaults to), and its scope and client tables the scopes and token
 * presets the code knows.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, isRetryableCode } from '../../core/errors';
import { PRESETS } from '../../gateway/token-cli';
import { SCOPES } from '../../gateway/token';

const page = readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');

function section(heading: string): string {
  const start = page.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`docs/api.md has no "## ${heading}"`);
  const end = page.indexOf('\n## ', start + 4);
  return page.slice(start, end === -1 ? undefined : end);
}

const rows = (text: string) => [...text.matchAll(/^\| `([^`]+)` \|([^\n]*)$/gm)].map((m) => ({ name: m[1], cells: m[2].split('|').map((c) => c.trim()).filter(Boolean) }));

describe('docs/api.md', () => {
  it('lists every error code once, and no other', () => {
    const codes = rows(section('Error codes')).map((r) => r.name);
    expect([...codes].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('says which codes are retryable as core/errors.ts decides', () => {
    for (const { name, cells } of rows(section('Error codes'))) {
      expect({ name, retryable: cells[cells.length - 1].startsWith('yes') }).toEqual({ name, retryable: isRetryableCode(name as (typeof ERROR_CODES)[number]) });
    }
  });

  it('lists every scope', () => {
    expect(rows(section('Scopes')).map((r) => r.name).filter((n) => n.includes(':')).sort()).toEqual([...SCOPES].sort());
  });

  it('names each token preset with the scopes it mints', () => {
    const text = section('Scopes');
    for (const [name, preset] of Object.entries(PRESETS)) {
      const row = text.split('\n').find((line) => line.includes(`(\`${name}\`)`));
      expect(row).toBeDefined();
      if (preset.scopes.length < SCOPES.length) expect(row).toContain(preset.scopes.join(' '));
      if (preset.needsCustomer) expect(row).toContain('required');
    }
  });
});
