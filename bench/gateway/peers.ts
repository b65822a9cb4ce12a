/**
 * The peer gateways of `npm run bench:gateway` that are not part of Concord's own install:
 * @graphql-hive/gateway declares `engines: node >= 22.15` (and so do many of its dependencies), so
 * keeping it in the root package.json made every `npm ci` on Node 20 print EBADENGINE warnings for
 * a benchmark most users never run. It lives in bench/gateway/peers/package.json (with its own
 * lockfile), with the Grafbase CLI (its npm package ships the binary), and is installed into
 * bench/gateway/peers/node_modules the first time the benchmark needs it; bench/gateway/servers/
 * hive.ts and grafbase.ts load them from there (`PEERS_DIR`).
 *
 * A folder of their own, not bench/gateway itself: Hive Gateway brings its own copy of graphql, and
 * in bench/gateway/node_modules that copy was what bench/gateway/subgraphs.ts and schema.ts
 * resolved, while @apollo/subgraph (from the root install) used the root one: two graphql modules,
 * and every subgraph answer an "another module or realm" error.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** bench/gateway/peers: package.json, lockfile and node_modules of the peer gateways. */
export const PEERS_DIR = path.join(__dirname, 'peers');
const HERE = PEERS_DIR;

/** True once bench/gateway/peers/node_modules holds the peer gateways (Hive Gateway, and the Grafbase CLI with its binary). */
export function peersInstalled(): boolean {
  return (
    existsSync(path.join(HERE, 'node_modules', '@graphql-hive', 'gateway', 'package.json')) &&
    existsSync(path.join(HERE, 'node_modules', '@grafbase', 'cli-x86_64-unknown-linux-musl', 'grafbase'))
  );
}

/** Installs bench/gateway/peers/package.json's dependencies exactly as locked (npm ci), once. */
export function ensurePeersInstalled(log: (line: string) => void = console.log): void {
  if (peersInstalled()) return;
  log('bench:gateway: installing the peer gateways into bench/gateway/peers/node_modules (once; npm ci --prefix bench/gateway/peers)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: HERE, stdio: 'inherit' });
}
