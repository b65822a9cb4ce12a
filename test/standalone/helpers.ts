/** Client-side helpers for the standalone gateway's tests: the real command as a child process, GraphQL over HTTP and graphql-ws. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const BIN = path.join(__dirname, '..', '..', 'bin', 'concord-gateway.js');

export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'concord-standalone-'));
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** JSON log lines (pino) printed so far. */
  logs(): Record<string, any>[];
  /** Wait for a log line matching `predicate`. */
  waitForLog(predicate: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  stop(): Promise<number | null>;
}

/** `concord-gateway <args>` (bin/concord-gateway.js, what `npx concord-gateway` runs), once it prints its URL. */
export async function startGatewayProcess(args: string[], env: Record<string, string> = {}, startTimeoutMs = 120_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'info', CONCORD_RATE_LIMIT_RPS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = () =>
    out.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, any>];
      } catch {
        return [];
      }
    });
  const url = await new Promise<string>((resolve, reject) => {
    const deadline = Date.now() + startTimeoutMs;
    // Generous: a cold start through tsx is a few seconds of CPU, far more wall time on a busy machine.
    const timer = setInterval(() => {
      const match = /graphql\s+(http:\/\/\S+)\/graphql/.exec(out);
      if (match) {
        clearInterval(timer);
        resolve(match[1]);
      } else if (child.exitCode !== null || Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`concord-gateway did not start (exit ${child.exitCode}):\n${out}`));
      }
    }, 50);
  });
  return {
    url,
    child,
    output: () => out,
    logs,
    async waitForLog(predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = logs().find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no such log line; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface GqlResponse<T = any> {
  status: number;
  body: { data?: T; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[] };
}

export async function gql<T = any>(url: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GqlResponse<T>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GqlResponse<T>['body'] };
}

export function wsClient(url: string, connectionParams: Record<string, unknown> = {}): Client {
  return createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
}

export interface Subscription<T = any> {
  payloads: { data?: T; errors?: any[] }[];
  failure: unknown;
  completed: boolean;
  /** Wait until `count` payloads have arrived. */
  received(count: number, timeoutMs?: number): Promise<{ data?: T; errors?: any[] }[]>;
  /** Wait for the subscription to fail, and return what it failed with. */
  failed(timeoutMs?: number): Promise<unknown>;
  stop(): void;
}

export function subscribe<T = any>(client: Client, query: string, variables?: Record<string, unknown>): Subscription<T> {
  const sub: Subscription<T> = {
    payloads: [],
    failure: undefined,
    completed: false,
    async received(count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (sub.payloads.length < count) {
        if (sub.failure !== undefined) throw new Error(`subscription failed: ${JSON.stringify(sub.failure)}`);
        if (Date.now() > deadline) throw new Error(`timed out with ${sub.payloads.length} of ${count} payloads`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return sub.payloads;
    },
    async failed(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (sub.failure === undefined) {
        if (Date.now() > deadline) throw new Error('the subscription did not fail');
        await new Promise((r) => setTimeout(r, 25));
      }
      return sub.failure;
    },
    stop: () => undefined,
  };
  sub.stop = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => void sub.payloads.push(value as { data?: T; errors?: any[] }),
      error: (error) => {
        const close = error as { code?: unknown; reason?: unknown };
        sub.failure = Array.isArray(error) ? error : typeof close?.code === 'number' ? { code: close.code, reason: close.reason } : String(error);
      },
      complete: () => void (sub.completed = true),
    },
  );
  return sub;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
