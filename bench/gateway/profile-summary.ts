/**
 * `tsx bench/gateway/profile-summary.ts <file.cpuprofile> [--top 30] [--skip 10] [--match text]`: where a V8 CPU profile of a
 * gateway (run.ts --profile) spends its time: self time by function and by package, and the time
 * under (inclusive of) each function, the idle and GC time apart.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, match: { type: 'string' }, skip: { type: 'string', default: '0' } } });
const top = Number(values.top);
const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// --skip <s>: leave out the first seconds (start-up: module loading, composition, planning).
const hits = new Map<number, number>();
let elapsedUs = 0;
profile.samples.forEach((s, i) => {
  elapsedUs += profile.timeDeltas[i];
  if (elapsedUs >= Number(values.skip) * 1e6) hits.set(s, (hits.get(s) ?? 0) + 1);
});
const idleId = profile.nodes.find((n) => n.callFrame.functionName === '(idle)')?.id;
// Percentages are of the busy samples: the gateway idles between its rounds.
const total = [...hits.values()].reduce((a, b) => a + b, 0) - (idleId === undefined ? 0 : (hits.get(idleId) ?? 0));
if (idleId !== undefined) hits.delete(idleId);

const where = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:') || url === '') return url || '(native)';
  return url.replace(/^file:\/\/\/work\/main\//, '');
};
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const pkg = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, count] of hits) {
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + count);
  pkg.set(where(node.callFrame.url), (pkg.get(where(node.callFrame.url)) ?? 0) + count);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (!seen.has(l)) {
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + count);
    }
  }
}
const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
const show = (title: string, map: Map<string, number>, filter = (_: string) => true) => {
  console.log(`\n${title}`);
  [...map].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([k, v]) => console.log(`${pct(v)}  ${k}`));
};
console.log(`${total} busy samples`);
show('self time by package', pkg);
show('self time by function', self);
show('inclusive time', inclusive, (k) => !values.match || k.includes(values.match));
