/**
 * The load driver, in a process of its own: autocannon against one gateway for a fixed time, every
 * response checked against the expected answer. Each response's latency is recorded here (autocannon
 * reports no p95). An answer is correct when it is byte-for-byte the expected JSON or, if not, when it
 * parses to a deep-equal value (another gateway may serialise differently); a wrong answer counts as
 * an error, as do non-2xx statuses, socket errors and timeouts.
 *
 * Run as a child process: `node --import tsx bench/gateway/load.ts`; once it says
 * `{ listening: true }`, send it a LoadJob over IPC; it answers `{ result: LoadResult }`.
 */
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** The expected answer, as JSON text. */
  expected: string;
  seconds: number;
  connections: number;
  /**
   * Overload runs: a 503 whose body is Concord's SERVICE_UNAVAILABLE is a refusal to count (`shed`),
   * not an error. Default false: every non-2xx is an error.
   */
  acceptShed?: boolean;
  /**
   * The many-tokens row: each request carries the next of these bearer tokens (in turn) instead of
   * `headers.authorization`, so the gateway sees as many callers as tokens.
   */
  tokens?: string[];
}

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Correct 2xx answers per second. */
  rps: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Of the correct 2xx answers only (under overload the refusals would pull `latencyMs` down). */
  servedLatencyMs: { p50: number; p99: number };
  /** Answers 503 SERVICE_UNAVAILABLE (only counted apart with `acceptShed`), and how fast they came. */
  shed: number;
  shedLatencyMs: { p99: number };
  errors: { total: number; socket: number; timeouts: number; non2xx: number; wrongAnswers: number };
  /** The first wrong answer, cut short, for the report. */
  sample?: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** autocannon's per-request hook (its `requests` option): the next token on every request. */
function rotatingTokens(headers: Record<string, string>, tokens: string[]) {
  let next = 0;
  return {
    setupRequest: (request: { headers?: Record<string, string> }) => {
      request.headers = { ...headers, authorization: `Bearer ${tokens[next]}` };
      next = (next + 1) % tokens.length;
      return request;
    },
  };
}

export function runLoad(job: LoadJob): Promise<LoadResult> {
  const expectedValue = JSON.parse(job.expected) as unknown;
  // Texts already found equal to the expected value: no second parse for the same bytes.
  const accepted = new Set<string>([job.expected]);
  let sample: string | undefined;
  const verifyBody = (body: string): boolean => {
    if (accepted.has(body)) return true;
    if (job.acceptShed && body.includes('"SERVICE_UNAVAILABLE"')) return true;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      value = undefined;
    }
    if (value !== undefined && isDeepStrictEqual(value, expectedValue)) {
      if (accepted.size < 16) accepted.add(body);
      return true;
    }
    sample ??= body.slice(0, 500);
    return false;
  };
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const served: number[] = [];
  const shedTimes: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        method: 'POST',
        headers: job.headers,
        body: job.body,
        connections: job.connections,
        pipelining: 1,
        duration: job.seconds,
        timeout: 10,
        verifyBody,
        ...(job.tokens?.length ? { requests: [rotatingTokens(job.headers, job.tokens)] } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        const sorted = latencies.subarray(0, count).sort();
        const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
        const wrongAnswers = result.mismatches;
        const shed = job.acceptShed ? shedTimes.length : 0;
        // A non-2xx answer is also a wrong answer (its body is not the data): count it once.
        const bad = Math.max(wrongAnswers, result.non2xx - shed);
        const total = result.errors + bad;
        const servedSorted = Float64Array.from(served).sort();
        resolve({
          requests: result.requests.total,
          seconds,
          rps: Math.max(0, result.requests.total - bad - shed) / seconds,
          latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
          servedLatencyMs: { p50: percentile(servedSorted, 50), p99: percentile(servedSorted, 99) },
          shed,
          shedLatencyMs: { p99: percentile(Float64Array.from(shedTimes).sort(), 99) },
          errors: { total, socket: result.errors - result.timeouts, timeouts: result.timeouts, non2xx: result.non2xx, wrongAnswers },
          sample,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, responseTime) => {
      if (status === 503) shedTimes.push(responseTime);
      else if (status >= 200 && status < 300) served.push(responseTime);
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTime;
    });
  });
}

if (require.main === module) {
  process.on('message', (job: LoadJob | 'stop') => {
    if (job === 'stop') process.exit(0);
    runLoad(job).then(
      (result) => process.send?.({ result }),
      (error: unknown) => process.send?.({ error: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ listening: true });
}
