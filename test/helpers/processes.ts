/**
 * Concord's entry points as separate processes, started the way an operator starts them (npm
 * scripts, which run `tsx <entry>`), with everything they print kept for the test to read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

/** A JSON Web Token anywhere in a text: three base64url parts, the first a JSON header (`eyJ`). */
export const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

export interface Proc {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Wait until stdout or stderr matches, failing early if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** `npm run <script> -- ...args` with this environment (merged over a clean copy of the test's own). */
export function npmRun(script: string, env: Record<string, string>, args: string[] = []): Proc {
  return start('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], env);
}

/** `tsx <file>` (what `npm start` runs for main.ts), without npm in between. */
export function tsxRun(file: string, env: Record<string, string>, args: string[] = []): Proc {
  return start(process.execPath, ['--import', 'tsx', path.join(ROOT, file), ...args], env);
}

function start(command: string, args: string[], env: Record<string, string>): Proc {
  // The test's own NODE_ENV, Redis and vendor settings must not leak in: only what the test passes.
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: process.env.TMPDIR ?? '/tmp' };
  if (process.env.npm_config_cache) base.npm_config_cache = process.env.npm_config_cache;
  // detached: its own process group, so stop() reaches tsx's child through npm as well.
  const child = spawn(command, args, { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const listener of listeners) listener();
  });

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
        const check = () => {
          const match = out.match(pattern) ?? err.match(pattern);
          if (match) finish(null, match);
          else if (done) finish(new Error(`exited before ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        };
        function finish(error: Error | null, match?: RegExpMatchArray) {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve(match!);
        }
        listeners.add(check);
        check();
      });
    },
    async stop() {
      const group = -child.pid!;
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(group, name);
        } catch {
          // already gone
        }
      };
      const alive = () => {
        try {
          process.kill(group, 0);
          return true;
        } catch {
          return false;
        }
      };
      // The whole group, not only its leader: npm can exit on SIGTERM while the node process it
      // started is still shutting down (a worker whose Redis is gone never finished, and kept a core
      // busy for the rest of the suite). Whatever is left after 10 s is killed.
      if (!done || alive()) signal('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      if (alive()) signal('SIGKILL');
      await exited;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A port p with p..p+count-1 all free (the API takes PORT..PORT+4, the simulators PORT+101..103). */
export async function freeRange(count: number, offset = 0): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = (await freePort()) - offset;
    if (base < 1024 || base + offset + count > 65535) continue;
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await free(base + offset + i);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

/** Poll `check` until it returns a value (not undefined), failing after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
