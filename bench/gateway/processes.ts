/**
 * Child processes of the gateway benchmark: started with tsx, optionally pinned to CPUs (taskset),
 * spoken to over IPC; and what /proc says about them (CPU time, peak RSS).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export interface ChildOptions {
  /** CPU list for taskset (e.g. "1"); undefined = not pinned. */
  cpus?: string;
  /** Extra node flags (--cpu-prof ...). */
  nodeArgs?: string[];
  env?: Record<string, string>;
}

/** True when `taskset` can pin processes here. */
export function canPin(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function startChild(script: string, args: string[], options: ChildOptions = {}): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', ...(options.nodeArgs ?? []), path.join(__dirname, script), ...args];
  const [command, ...rest] = options.cpus !== undefined ? ['taskset', '-c', options.cpus, ...node] : node;
  return spawn(command, rest, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...options.env } });
}

/** The first IPC message of `child` that `pick` maps to a value; rejects on exit, `{ error }` or timeout. */
export function nextMessage<T>(child: ChildProcess, pick: (message: any) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: any) => {
      if (message && typeof message === 'object' && 'error' in message) return done(new Error(`${what}: ${message.error}`));
      const value = pick(message);
      if (value !== undefined) done(null, value);
    };
    const onExit = (code: number | null) => done(new Error(`${what}: process exited (${code})`));
    function done(error: Error | null, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Wait until a child (gateway-process.ts, load.ts) says it listens for IPC messages. */
export function listening(child: ChildProcess, what: string): Promise<true> {
  return nextMessage(child, (m) => (m?.listening === true ? true : undefined), 120_000, what);
}

/** Ask a child to stop and wait for it to exit (then kill it after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    child.send('stop');
  } catch {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let ticksPerSecond: number | null = null;

/** User + system CPU seconds the process has used (all its threads). */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Peak resident set size of the process so far (VmHWM), in bytes. */
export function peakRss(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}
