/**
 * The README's quickstart, followed as a newcomer would, on a fresh clone: the commands are read from
 * the ```sh blocks under "## Quickstart" in README.md (not copied here) and run in order, in a clone of
 * this repository, with PORT set to a free base (the commands use ${PORT:-4000}, so they run as
 * written). `npm ci` is not run (it is verified on its own, and the clone uses this tree's
 * node_modules through a symlink); `npm start` runs in the background until it says it is running;
 * `npm test` is this suite itself, so it is only checked to be there. Each other block runs in bash;
 * the last one (the run's status) is repeated until the run completes, as the README tells the reader.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);

/** The ```sh blocks of the README section that starts with `## Quickstart`, in order. */
export function quickstartBlocks(readme: string): string[] {
  const start = readme.search(/^## Quickstart\s*$/m);
  if (start === -1) throw new Error('README.md has no "## Quickstart" section');
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end === -1 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1].trim());
}

/** A base port whose gateway, subgraph (+1..+4) and simulator (+101..+103) ports are all free. */
async function freeBase(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = [0, 1, 2, 3, 4, 101, 102, 103].map((offset) => base + offset);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

describe('README quickstart, on a fresh clone', () => {
  const blocks = quickstartBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  let dir: string;
  let clone: string;
  let server: ChildProcess | null = null;
  let env: NodeJS.ProcessEnv;
  let output = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'concord-quickstart-'));
    clone = path.join(dir, 'concord');
    execFileSync('git', ['clone', '--quiet', ROOT, clone]);
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    // A newcomer's shell: no test settings, no Redis (embedded mode), our own ports.
    env = { ...process.env, PORT: String(await freeBase()) };
    for (const name of ['NODE_ENV', 'REDIS_URL', 'CONCORD_JWT_SECRET', 'JEST_WORKER_ID', 'LOG_LEVEL']) delete env[name];
  });

  afterAll(async () => {
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the two commands, a first query and a first order-to-cash', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    expect(blocks[0].split('\n')).toEqual(['npm ci', 'npm start']);
    expect(blocks[blocks.length - 1]).toBe('npm test');
  });

  it('starts the system with npm start', async () => {
    server = spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const running = new Promise<void>((resolve, reject) => {
      server!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // Each line is its own write: wait for the gateway's line, not just the banner before it.
        if (output.includes(`http://127.0.0.1:${env.PORT}/graphql`)) resolve();
      });
      server!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      server!.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    });
    await running;
    expect(output).toContain(`http://127.0.0.1:${env.PORT}/graphql`);
  }, 180_000);

  /** Runs a README block in bash, after the exports of the blocks before it (the reader's shell). */
  async function runBlock(index: number): Promise<string> {
    const exports = blocks.slice(1, index).flatMap((b) => b.split('\n').filter((line) => line.startsWith('export ')));
    const script = ['set -euo pipefail', ...exports, blocks[index]].join('\n');
    const { stdout } = await execFileAsync('bash', ['-c', script], { cwd: clone, env, timeout: 60_000 });
    return stdout;
  }

  it('answers the first query with data from the three systems', async () => {
    const answer = JSON.parse(await runBlock(1));
    expect(answer.errors).toBeUndefined();
    expect(answer.data.customers.edges).toHaveLength(3);
    for (const { node } of answer.data.customers.edges) {
      expect(node.name).toEqual(expect.any(String));
      expect(node.balance).toMatchObject({ currency: 'USD' });
      expect(typeof node.erp.creditHold).toBe('boolean');
    }
  }, 120_000);

  it('starts the first order-to-cash, and it completes', async () => {
    const started = JSON.parse(await runBlock(2));
    expect(started.errors).toBeUndefined();
    expect(started.data.startOrderToCash.id).toEqual(expect.any(String));

    // "Repeat it until status is COMPLETED": polled, with a generous deadline for a loaded machine.
    const deadline = Date.now() + 120_000;
    let run: any;
    for (;;) {
      const answer = JSON.parse(await runBlock(3));
      expect(answer.errors).toBeUndefined();
      run = answer.data.opportunity.orderToCashRun;
      if (run?.status === 'COMPLETED' || Date.now() > deadline || ['DEAD_LETTERED', 'COMPENSATED'].includes(run?.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.every((step: any) => step.status === 'SUCCEEDED')).toBe(true);
    expect(run.invoice).toMatchObject({ id: expect.stringMatching(/^in_/), status: 'OPEN' });
  }, 240_000);
});
