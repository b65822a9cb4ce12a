/**
 * GET /metrics: the Prometheus text format, behind a bearer token when CONCORD_METRICS_TOKEN is set.
 * The gateway answers it on its own port; a worker process (no HTTP API of its own) serves it on
 * CONCORD_WORKER_PORT with `listenMetrics`, next to /health and /ready.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { ReadinessReport } from '../core/readiness';
import { sendJson } from '../core/http-json';
import type { Metrics } from './metrics';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Answer one /metrics request. `token`: the bearer token required, or null for none. */
export async function answerMetrics(req: http.IncomingMessage, res: http.ServerResponse, metrics: Metrics, token: string | null): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET' });
  if (token !== null) {
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!sameSecret(given, token)) {
      return sendJson(res, 401, { error: 'metrics need the CONCORD_METRICS_TOKEN bearer token' }, { 'www-authenticate': 'Bearer realm="metrics"' });
    }
  }
  const { contentType, body } = await metrics.scrape();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** /ready: 200 when every dependency of the process is up, 503 with their states otherwise. */
async function answerReady(res: http.ServerResponse, ready: (() => Promise<ReadinessReport>) | undefined): Promise<void> {
  const report = ready ? await ready() : { ready: true, checks: {} };
  sendJson(res, report.ready ? 200 : 503, report);
}

/**
 * A server answering /metrics, /health (the process is alive) and /ready (its dependencies answer),
 * for processes without an HTTP API. `ready`: the process' readiness; default always ready.
 */
export async function listenMetrics(options: {
  metrics: Metrics;
  port: number;
  host: string;
  token: string | null;
  ready?: () => Promise<ReadinessReport>;
}): Promise<{ url: string; close(): Promise<void> }> {
  const { metrics, port, host, token, ready } = options;
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://metrics').pathname;
    const answer =
      pathname === '/metrics'
        ? answerMetrics(req, res, metrics, token)
        : pathname === '/health'
          ? Promise.resolve(sendJson(res, 200, { status: 'ok' }))
          : pathname === '/ready'
            ? answerReady(res, ready)
            : Promise.resolve(sendJson(res, 404, { error: 'not found' }));
    answer.catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'metrics unavailable' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
