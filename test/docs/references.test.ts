/**
 * The repository carries its own documentation: no tracked file may point at a design folder kept
 * outside it (shared/...) or at an absolute path on some machine, and every relative link in a
 * Markdown file must land on a file inside the repository.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file && existsSync(path.join(ROOT, file)) && !/\.(png|svg|jpg|ico|woff2?)$|package-lock\.json$/.test(file));

// A path into a shared design folder (not one inside a package name such as a scoped module), and absolute workspace paths.
const OUTSIDE = [/(?<![\w@.-]\/)(?<![\w-])(?:\.\.\/)*shared\/[A-Za-z]/, /(?<![\w.])\/work\//, /(?<![\w.])\/home\/[a-z]/];

describe('references', () => {
  it('no tracked file points at shared/ or outside the repository', () => {
    const offenders: string[] = [];
    for (const file of tracked) {
      const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (OUTSIDE.some((pattern) => pattern.test(line))) offenders.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('every relative Markdown link stays inside the repository and exists', () => {
    const broken: string[] = [];
    for (const file of tracked.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1].split('#')[0];
        if (!target || /^[a-z]+:/i.test(target)) continue;
        const resolved = path.resolve(ROOT, path.dirname(file), target);
        if (!resolved.startsWith(ROOT + path.sep) || !existsSync(resolved)) broken.push(`${file}: ${match[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
