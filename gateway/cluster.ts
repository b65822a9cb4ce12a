/**
 * Several gateway processes on one port (`--processes N`, CONCORD_GATEWAY_PROCESSES): the standalone
 * gateway's primary forks N workers with node:cluster, and each worker runs the whole gateway
 * (gateway/standalone.ts). The primary only accepts connections and hands them to the workers in
 * turn (node:cluster's round-robin, the default everywhere but Windows, per Node's cluster docs),
 * so one Node process per core serves the port. A connection stays with the worker that took it
 * (keep-alive requests and a WebSocket's subscriptions included).
 *
 * What stays correct across processes:
 *   - rate limits: one budget per subject only through Redis (REDIS_URL); with a rate limit set and
 *     no Redis, more than one process is refused at start (gateway/cli.ts), since each process would
 *     otherwise hand out the whole budget again;
 *   - the admission, plan and token caches are per process and only memoise pure results;
 *   - fetch deduplication shares fetches within a process only (fewer shared, never wrong);
 *   - APQ: a hash registered with one process may be unknown to another, which answers
 *     PersistedQueryNotFound, and the client sends the text again (the protocol's own fallback).
 *
 * Signals: SIGTERM or SIGINT to the primary stops every worker (each closes as a single gateway
 * does) and then the primary, exit code 0; SIGHUP is passed on (each worker reloads the supergraph
 * file). A worker that dies while serving is replaced.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../core/log';

/** The message a worker sends once it serves. */
export interface WorkerReady {
  concordGatewayReady: { url: string };
}

const isReady = (message: unknown): message is WorkerReady =>
  typeof message === 'object' && message !== null && 'concordGatewayReady' in message;

/** In a worker: tell the primary this process serves at `url`. */
export function reportReady(url: string): void {
  process.send?.({ concordGatewayReady: { url } } satisfies WorkerReady);
}

/** This worker's label (`x-concord-process`), or null in a process that is not a cluster worker. */
export function workerLabel(): string | null {
  return cluster.isWorker && cluster.worker ? String(cluster.worker.id) : null;
}

export interface RunningCluster {
  /** The URL the workers serve (the same port for all). */
  url: string;
  /** The workers' process ids, current ones. */
  pids(): number[];
  /** SIGHUP to every worker (each reloads its supergraph file). */
  reload(): void;
  /** Stops every worker (SIGTERM, then SIGKILL after `graceMs`) and resolves once all have exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Forks `count` workers running this same command, and resolves once every one serves. */
export function startCluster(count: number, logger: Logger, startTimeoutMs = 120_000): Promise<RunningCluster> {
  const workers = new Set<Worker>();
  let stopping = false;
  /** True once every first worker serves: from then on a worker that dies is replaced. */
  let serving = false;
  let url = '';

  const stop = async (graceMs = 30_000): Promise<void> => {
    stopping = true;
    const exits = [...workers].map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const kill = setTimeout(() => worker.process.kill('SIGKILL'), graceMs);
          worker.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          worker.process.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    workers.add(worker);
    worker.once('exit', (code, signal) => {
      workers.delete(worker);
      if (stopping || !serving) return;
      // Serving capacity is kept: a worker that died is replaced (its connections are lost).
      logger.error({ worker: worker.id, pid: worker.process.pid, code, signal }, 'gateway process exited; starting another');
      fork().once('message', (message: unknown) => {
        if (isReady(message)) logger.info({ url: message.concordGatewayReady.url }, 'replacement gateway process serving');
      });
    });
    return worker;
  };

  return new Promise((resolve, reject) => {
    let readyCount = 0;
    const timer = setTimeout(() => fail(new Error(`the gateway processes did not all start within ${startTimeoutMs} ms`)), startTimeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      void stop(5_000).finally(() => reject(error));
    };
    for (let i = 0; i < count; i += 1) {
      const worker = fork();
      const onExit = (code: number | null) => fail(new Error(`gateway process ${worker.id} exited (code ${code}) before it served`));
      worker.once('exit', onExit);
      const onMessage = (message: unknown) => {
        if (!isReady(message)) return;
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        url = message.concordGatewayReady.url;
        readyCount += 1;
        if (readyCount === count) {
          clearTimeout(timer);
          serving = true;
          resolve({
            url,
            pids: () => [...workers].map((w) => w.process.pid!).filter(Boolean),
            reload: () => {
              for (const w of workers) w.process.kill('SIGHUP');
            },
            stop,
          });
        }
      };
      worker.on('message', onMessage);
    }
  });
}
