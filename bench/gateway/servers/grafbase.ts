/**
 * (e) Grafbase Gateway (Rust), the high anchor: the `grafbase dev` server of the Grafbase CLI from
 * npm (`@grafbase/cli-x86_64-unknown-linux-musl`, a self-contained binary, installed under
 * bench/gateway/peers/node_modules by bench/gateway/peers.ts). It composes the four bench subgraphs from
 * their SDL files (`[subgraphs.<name>] url + schema_path` in grafbase.toml, per Grafbase's docs on
 * `grafbase dev`) and serves them on the open subgraph paths, as (b) does.
 *
 * Two rows: `grafbase` with its defaults, which share identical subgraph requests in flight, and
 * `grafbase-nodedup` with `[traffic_shaping] inflight_deduplication = false` (a key of the
 * gateway's configuration, read from the binary's configuration schema), comparable with Concord
 * under `--no-dedup` and with @apollo/gateway, which never shares.
 *
 * The binary is the process that does the work, so its pid (not this wrapper's) is reported for
 * the CPU and memory figures; it inherits this process's CPU pinning.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PEERS_DIR } from '../peers';
import { SUBGRAPH_NAMES, TYPE_DEFS } from '../schema';
import type { BenchGateway, GatewayStartOptions } from './types';

const BINARY = path.join(PEERS_DIR, 'node_modules', '@grafbase', 'cli-x86_64-unknown-linux-musl', 'grafbase');

export function grafbaseInstalled(): boolean {
  return existsSync(BINARY);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function answering(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`grafbase did not answer on ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function startGrafbase(options: GatewayStartOptions, dedup: boolean): Promise<BenchGateway & { pid: number }> {
  if (!grafbaseInstalled()) throw new Error(`Grafbase CLI binary not found at ${BINARY} (npm ci --prefix bench/gateway/peers)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-grafbase-'));
  const toml: string[] = [];
  for (const name of SUBGRAPH_NAMES) {
    const schemaPath = path.join(dir, `${name}.graphql`);
    writeFileSync(schemaPath, TYPE_DEFS[name]);
    toml.push(`[subgraphs.${name}]`, `url = "${options.subgraphBaseUrl}/${name}"`, `schema_path = "${schemaPath}"`, '');
  }
  if (!dedup) toml.push('[traffic_shaping]', 'inflight_deduplication = false', '');
  writeFileSync(path.join(dir, 'grafbase.toml'), toml.join('\n'));
  const port = await freePort();
  const child = spawn(BINARY, ['dev', '-c', path.join(dir, 'grafbase.toml'), '--listen-address', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GRAFBASE_HOME: path.join(dir, 'home'), DO_NOT_TRACK: '1', GRAFBASE_DISABLE_TELEMETRY: '1' },
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`grafbase exited (${code})`))));
  await Promise.race([answering(`http://127.0.0.1:${port}/graphql`, Date.now() + 60_000), exited]);
  return {
    port,
    pid: child.pid!,
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
