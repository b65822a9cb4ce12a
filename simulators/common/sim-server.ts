/**
 * The HTTP shell every vendor simulator shares: routing, request accounting, the `/__sim/` control
 * API (docs/simulators.md), fault injection and a concurrency limit. Each simulator supplies its routes,
 * its state and the vendor's own wire shape for errors; this module never shapes a vendor payload.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRandom, type Random } from './random';

export interface SimRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** Raw body text ('' when none). */
  body: string;
  /** Values of `:name` segments of the matched route pattern (URL-decoded). */
  params: Record<string, string>;
  /** Full URL as the client sent it (path and query), for signature checks. */
  url: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are; undefined = no body. */
  body?: unknown;
}

export type SimHandler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

export interface SimRoute {
  method: string;
  /** Path pattern with `:name` segments, for example '/v1/customers/:id'. Used as the stats key. */
  pattern: string;
  handler: SimHandler;
}

export type FaultKind = '429' | '500' | '503' | 'timeout' | 'reset';

export interface FaultConfig {
  /** Probability (0..1) that a vendor request fails with one of `kinds`. Default 0. */
  rate: number;
  kinds: FaultKind[];
  /** Latency added to every vendor request, in ms. Default 0. */
  latencyMs: number;
  /** Most vendor requests served at once; more are rejected as the vendor rejects them. Default unlimited. */
  concurrency: number | null;
  /**
   * For '500', 'timeout' and 'reset': probability that the request takes effect before it fails,
   * so that clients meet truly uncertain outcomes. Default 0.5.
   */
  applyBeforeFail: number;
  /** How long a 'timeout' holds the request before dropping the connection, in ms. Default 30000. */
  timeoutMs: number;
  /** Seed of the fault dice, for reproducible runs. Default: fixed. */
  seed?: number;
  /** `Retry-After` (seconds) sent with injected '429' and '503' faults, as a vendor asking for a pause. Default null: none. */
  retryAfterSeconds?: number | null;
  /**
   * Hold every request to a vendor route until `hold` is set false again (or the simulator is
   * reset): a slow vendor that a test releases when it chooses, with no timing assumption. Held
   * requests are counted in `held` of GET /__sim/stats. Default false.
   */
  hold?: boolean;
}

export interface SimStats {
  requests: number;
  byRoute: Record<string, number>;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  /** Requests rejected by the concurrency limit. */
  concurrencyRejections: number;
  /** Highest number of vendor requests in flight at once. */
  maxInFlight: number;
  /** Vendor requests held now by the `hold` fault (not reset: it is the present, not a count since the reset). */
  held: number;
  /**
   * Highest number of vendor requests that were in flight at once counting the one arriving, even
   * when the concurrency limit refused it: the concurrency clients asked for.
   */
  peakDemand: number;
  /** Most vendor requests that arrived within any one second (a rolling 1000 ms window). */
  busiestSecond: number;
}

export interface SimServerOptions {
  /** Simulator name for logs ('salesforce', 'stripe', 'netsuite'). */
  name: string;
  routes: SimRoute[];
  /** Every record held, in the vendor's wire shape, for GET /__sim/state. */
  state: () => Record<string, unknown[]>;
  /** The vendor's own response for an injected or limit-caused failure. */
  faultResponse: (kind: '429' | '500' | '503' | 'concurrency', req: SimRequest) => SimResponse;
  /** Optional credential check run before routing; return a response to reject the request. */
  authenticate?: (req: SimRequest) => SimResponse | null;
  /** Called after every vendor response is produced, to add headers such as Sforce-Limit-Info. */
  decorate?: (req: SimRequest, res: SimResponse) => void;
  /** The vendor's 404 for an unknown route. */
  notFound: (req: SimRequest) => SimResponse;
  /** Extra control routes under /__sim/ (for example NetSuite's /__sim/periods). */
  controlRoutes?: SimRoute[];
  /** Called by POST /__sim/reset after counters and faults are cleared. */
  onReset?: () => void;
  /**
   * Fault settings that are the vendor's normal behaviour (for example NetSuite's account
   * concurrency limit); POST /__sim/reset returns to these rather than to none.
   */
  defaults?: Partial<FaultConfig>;
}

export interface SimServer {
  server: http.Server;
  /** Base URL once listening, for example http://127.0.0.1:4101 */
  url: string;
  port: number;
  stats(): SimStats;
  reset(): void;
  setFaults(faults: Partial<FaultConfig>): void;
  close(): Promise<void>;
}

const NO_FAULTS: FaultConfig = {
  rate: 0,
  kinds: [],
  latencyMs: 0,
  concurrency: null,
  applyBeforeFail: 0.5,
  timeoutMs: 30_000,
};

interface CompiledRoute extends SimRoute {
  regex: RegExp;
  names: string[];
}

function compile(route: SimRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.pattern
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1));
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${source}/?$`), names };
}

function match(routes: CompiledRoute[], method: string, path: string) {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.regex.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1]);
    });
    return { route, params };
  }
  return null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, response: SimResponse): void {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload: string | undefined;
  if (response.body !== undefined) {
    if (typeof response.body === 'string') {
      payload = response.body;
    } else {
      payload = JSON.stringify(response.body);
      headers['content-type'] ??= 'application/json;charset=UTF-8';
    }
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}

/** Create (not yet listening) a simulator server; call `listen(port)` to start it. */
export function createSimServer(options: SimServerOptions): {
  listen(port?: number, host?: string): Promise<SimServer>;
} {
  const routes = options.routes.map(compile);
  const controlRoutes = (options.controlRoutes ?? []).map(compile);
  const baseline: FaultConfig = { ...NO_FAULTS, ...(options.defaults ?? {}) };
  let faults: FaultConfig = { ...baseline };
  let dice: Random = createRandom(1);
  let inFlight = 0;
  /** Arrival times (ms) of the vendor requests of the last second, oldest first. */
  const arrivals: number[] = [];
  let stats: SimStats = freshStats();
  /** Requests waiting for the `hold` fault to be lifted. */
  let held: (() => void)[] = [];

  function freshStats(): SimStats {
    arrivals.length = 0;
    return { requests: 0, byRoute: {}, faults: {}, concurrencyRejections: 0, maxInFlight: 0, peakDemand: 0, busiestSecond: 0, held: 0 };
  }

  function currentStats(): SimStats {
    return { ...stats, held: held.length };
  }

  function releaseHeld(): void {
    const waiting = held;
    held = [];
    for (const release of waiting) release();
  }

  function reset(): void {
    stats = freshStats();
    faults = { ...baseline };
    dice = createRandom(1);
    releaseHeld();
    options.onReset?.();
  }

  function setFaults(partial: Partial<FaultConfig>): void {
    faults = { ...faults, ...partial };
    if (partial.seed !== undefined) dice = createRandom(partial.seed);
    if (!faults.hold) releaseHeld();
  }

  async function control(req: SimRequest): Promise<SimResponse> {
    const key = `${req.method} ${req.path}`;
    switch (key) {
      case 'GET /__sim/stats':
        return { status: 200, body: currentStats() };
      case 'POST /__sim/reset':
        reset();
        return { status: 200, body: { ok: true } };
      case 'GET /__sim/faults':
        return { status: 200, body: faults };
      case 'POST /__sim/faults': {
        let parsed: Partial<FaultConfig>;
        try {
          parsed = req.body ? (JSON.parse(req.body) as Partial<FaultConfig>) : {};
        } catch {
          return { status: 400, body: { error: 'body must be JSON' } };
        }
        const invalid = (parsed.kinds ?? []).filter(
          (kind) => !['429', '500', '503', 'timeout', 'reset'].includes(kind),
        );
        if (invalid.length > 0) return { status: 400, body: { error: `unknown fault kinds: ${invalid.join(', ')}` } };
        if (parsed.retryAfterSeconds != null && !(Number.isInteger(parsed.retryAfterSeconds) && parsed.retryAfterSeconds >= 0)) {
          return { status: 400, body: { error: 'retryAfterSeconds must be a whole number of seconds' } };
        }
        if (parsed.hold !== undefined && typeof parsed.hold !== 'boolean') return { status: 400, body: { error: 'hold must be true or false' } };
        if (parsed.rate !== undefined && (parsed.rate < 0 || parsed.rate > 1)) {
          return { status: 400, body: { error: 'rate must be between 0 and 1' } };
        }
        setFaults(parsed);
        return { status: 200, body: faults };
      }
      case 'GET /__sim/state':
        return { status: 200, body: options.state() };
      default: {
        const found = match(controlRoutes, req.method, req.path);
        if (!found) return { status: 404, body: { error: `no control route ${key}` } };
        return found.route.handler({ ...req, params: found.params });
      }
    }
  }

  async function vendor(req: SimRequest, res: http.ServerResponse, arrived: number): Promise<void> {
    const found = match(routes, req.method, req.path);
    stats.requests += 1;
    const statKey = found ? `${req.method} ${found.route.pattern}` : `${req.method} (unmatched)`;
    stats.byRoute[statKey] = (stats.byRoute[statKey] ?? 0) + 1;
    arrivals.push(arrived);
    while (arrivals.length > 0 && arrivals[0] <= arrived - 1000) arrivals.shift();
    stats.busiestSecond = Math.max(stats.busiestSecond, arrivals.length);
    stats.peakDemand = Math.max(stats.peakDemand, inFlight + 1);

    if (faults.concurrency !== null && inFlight >= faults.concurrency) {
      stats.concurrencyRejections += 1;
      return respond(req, res, options.faultResponse('concurrency', req));
    }
    inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    try {
      if (faults.latencyMs > 0) await sleep(faults.latencyMs);
      const rejected = options.authenticate?.(req);
      if (rejected) return respond(req, res, rejected);
      if (!found) return respond(req, res, options.notFound(req));
      const request = { ...req, params: found.params };
      if (faults.hold) await new Promise<void>((resolve) => held.push(resolve));

      const fault = faults.rate > 0 && faults.kinds.length > 0 && dice.next() < faults.rate
        ? faults.kinds[Math.floor(dice.next() * faults.kinds.length)]
        : null;
      if (fault) stats.faults[fault] = (stats.faults[fault] ?? 0) + 1;
      if (fault === '429' || fault === '503') {
        const response = options.faultResponse(fault, req);
        if (faults.retryAfterSeconds != null) response.headers = { ...response.headers, 'Retry-After': String(faults.retryAfterSeconds) };
        return respond(req, res, response);
      }
      if (fault) {
        // '500', 'timeout', 'reset': sometimes the effect happens and only the answer is lost.
        if (dice.next() < faults.applyBeforeFail) await found.route.handler(request);
        if (fault === '500') return respond(req, res, options.faultResponse('500', req));
        if (fault === 'reset') {
          res.socket?.destroy();
          return;
        }
        await sleep(faults.timeoutMs);
        res.socket?.destroy();
        return;
      }
      return respond(req, res, await found.route.handler(request));
    } finally {
      inFlight -= 1;
    }
  }

  function respond(req: SimRequest, res: http.ServerResponse, response: SimResponse): void {
    options.decorate?.(req, response);
    send(res, response);
  }

  const server = http.createServer(async (incoming, res) => {
    // When the request came in, before its body is read: the vendor counts a request on arrival.
    const arrived = performance.now();
    try {
      const url = new URL(incoming.url ?? '/', 'http://sim');
      const req: SimRequest = {
        method: (incoming.method ?? 'GET').toUpperCase(),
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: await readBody(incoming),
        params: {},
        url: incoming.url ?? '/',
      };
      if (req.path.startsWith('/__sim/')) send(res, await control(req));
      else await vendor(req, res, arrived);
    } catch (error) {
      if (!res.headersSent) send(res, { status: 500, body: { error: `simulator ${options.name} failed: ${String(error)}` } });
      else res.end();
    }
  });
  server.keepAliveTimeout = 65_000;

  return {
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          resolve({
            server,
            port: address.port,
            url: `http://${host}:${address.port}`,
            stats: currentStats,
            reset,
            setFaults,
            close: () =>
              new Promise<void>((done) => {
                releaseHeld();
                server.closeAllConnections();
                server.close(() => done());
              }),
          });
        });
      });
    },
  };
}
