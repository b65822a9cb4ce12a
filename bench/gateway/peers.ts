/**
 * The peer gateways of `npm run bench:gateway` that are not part of Concord's own install:
 * @graphql-hive/gateway declares `engines: node >= 22.15` (and so do many of its dependencies), so
 * keeping it in the root package.json made every `npm ci` on Node 20 print EBADENGINE warnings for
 * a benchmark most users never run. It lives in bench/gateway/package.json (with its own lockfile)
 * and is installed into bench/gateway/node_modules the first time the benchmark needs it; Node's
 * module resolution finds it there from bench/gateway/servers/hive.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const HERE = __dirname;

/** True once bench/gateway/node_modules holds the peer gateways. */
export function peersInstalled(): boolean {
  return existsSync(path.join(HERE, 'node_modules', '@graphql-hive', 'gateway', 'package.json'));
}

/** Installs bench/gateway/package.json's dependencies exactly as locked (npm ci), once. */
export function ensurePeersInstalled(log: (line: string) => void = console.log): void {
  if (peersInstalled()) return;
  log('bench:gateway: installing the peer gateways into bench/gateway/node_modules (once; npm ci --prefix bench/gateway)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: HERE, stdio: 'inherit' });
}
