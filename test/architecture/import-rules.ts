/**
 * The layers of the tree and the imports that may cross them, checked on the real import graph
 * (every relative import, require and dynamic import, as the TypeScript compiler's pre-processor
 * finds them: ts.preProcessFile):
 *
 *   simulators/     only the dev entry points import it: main.ts, system.ts (the dev composition
 *                   root), bench/, test/ and simulators/ itself;
 *   gateway/        no subgraph or vendor internals, no composition root: it reads core/ (ports,
 *                   contracts such as core/webhooks.ts), observability/, resolvers/ and schema/;
 *   subgraphs/      neither gateway/ nor a composition root;
 *   observability/  neither gateway/, vendors/ nor a composition root; of the subgraphs, only the
 *                   orchestration ports it reads (run store, work queues, run model);
 *   vendors/        neither gateway/, observability/ nor a composition root; of the subgraphs, only
 *                   the ports it implements (subgraphs/<name>/port.ts, the change-feed and Ports types);
 *   core/           nothing outside core/.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface Violation {
  from: string;
  to: string;
  rule: string;
}

const COMPOSITION_ROOTS = ['system', 'concord', 'main'];
const DEV_ENTRY = (file: string) => /^(main|system)\.ts$/.test(file) || /^(bench|test|simulators)\//.test(file);
const PORTS_FOR_VENDORS = /^subgraphs\/(crm|billing|erp)\/port$|^subgraphs\/events\/poller$|^subgraphs\/orchestration\/steps$/;
const PORTS_FOR_OBSERVABILITY = /^subgraphs\/orchestration\/(model|queue|store)$/;

const top = (target: string) => target.split('/')[0];
const isRoot = (target: string) => COMPOSITION_ROOTS.includes(target);

/** The rule `from` -> `to` breaks, if any (both repository-relative; `to` without extension). */
export function brokenRule(from: string, to: string): string | null {
  if (top(to) === 'simulators' && !DEV_ENTRY(from)) return 'only the dev entry points import simulators/';
  const layer = top(from);
  if (layer === 'gateway' && (['subgraphs', 'vendors', 'simulators'].includes(top(to)) || isRoot(to))) return 'gateway/ imports no subgraph or vendor internals and no composition root';
  if (layer === 'subgraphs' && (top(to) === 'gateway' || isRoot(to))) return 'subgraphs/ imports neither gateway/ nor a composition root';
  if (layer === 'observability') {
    if (['gateway', 'vendors'].includes(top(to)) || isRoot(to)) return 'observability/ imports neither gateway/, vendors/ nor a composition root';
    if (top(to) === 'subgraphs' && !PORTS_FOR_OBSERVABILITY.test(to)) return 'observability/ reads only the orchestration ports of the subgraphs';
  }
  if (layer === 'vendors') {
    if (['gateway', 'observability'].includes(top(to)) || isRoot(to)) return 'vendors/ imports neither gateway/, observability/ nor a composition root';
    if (top(to) === 'subgraphs' && !PORTS_FOR_VENDORS.test(to)) return 'vendors/ reads only the ports of the subgraphs';
  }
  if (layer === 'core' && top(to) !== 'core') return 'core/ imports nothing outside core/';
  return null;
}

/** Relative imports of one source text, resolved to repository-relative paths without extension. */
export function importsOf(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((ref) => ref.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.(ts|js)$/, '').replace(/\/index$/, ''));
}

/** Every violation among `files` (repository-relative path -> source text). */
export function checkImports(files: Map<string, string>): Violation[] {
  const violations: Violation[] = [];
  for (const [from, text] of files) {
    for (const to of importsOf(from, text)) {
      const rule = brokenRule(from, to);
      if (rule) violations.push({ from, to, rule });
    }
  }
  return violations;
}

/** The repository's TypeScript sources (node_modules, dist and coverage left out). */
export function repositorySources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!['node_modules', 'dist', 'coverage'].includes(entry.name) && !entry.name.startsWith('.')) walk(relative);
      } else if (/\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        files.set(relative, fs.readFileSync(path.join(root, relative), 'utf8'));
      }
    }
  };
  walk('');
  return files;
}
