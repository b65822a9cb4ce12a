/**
 * The transport of subgraph fetches: node:http(s) with one keep-alive agent per protocol, answering
 * the small part of the Fetch API that @apollo/gateway's RemoteGraphQLDataSource and the readiness
 * probe use (status, ok, headers.get, text, json).
 *
 * Why not the global fetch: under load, undici's fetch (WHATWG streams, an AbortSignal per request
 * for the timeout, Request/Response objects) was about a third of the gateway's CPU in
 * `npm run bench:gateway` profiles (bench/README.md). A subgraph answer is one small JSON body, read
 * whole; a plain request on a pooled socket does that for a fraction of the cost.
 *
 * Behaviour kept from fetch: the timeout bounds the whole exchange (a TimeoutError DOMException),
 * network failures are a TypeError "fetch failed" with the cause, gzip/deflate/br answers are
 * decoded. Not followed: redirects (a subgraph that redirects answers a 3xx, which the data source
 * reports as an error). Idle sockets are closed before the subgraph's announced keep-alive timeout
 * (Node's agent reads `Keep-Alive: timeout=`); nothing is retried: a mutation must not be sent twice.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { FetcherResponse } from '@apollo/utils.fetcher';

export interface SubgraphRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
  'https:': new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
};

function decode(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body);
    case 'deflate':
      return zlib.inflateSync(body);
    case 'br':
      return zlib.brotliDecompressSync(body);
    default:
      throw new TypeError(`unsupported content-encoding ${encoding}`);
  }
}

/** A whole answer already read: the Fetch API's response, as far as the gateway uses it. */
class SubgraphResponse implements FetcherResponse {
  readonly ok: boolean;
  readonly redirected = false;
  bodyUsed = false;
  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    readonly headers: Headers,
    private readonly body: Buffer,
  ) {
    this.ok = status >= 200 && status < 300;
  }
  async text(): Promise<string> {
    this.bodyUsed = true;
    return this.body.toString('utf8');
  }
  async json(): Promise<any> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    this.bodyUsed = true;
    return this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.byteLength) as ArrayBuffer;
  }
  clone(): SubgraphResponse {
    return new SubgraphResponse(this.url, this.status, this.statusText, new Headers(this.headers), this.body);
  }
}

/** Parsed subgraph URLs: a gateway calls a handful, again and again. */
const targets = new Map<string, URL>();

/** POST (or any method) `init.body` to `url` and read the whole answer, within `timeoutMs`. */
export function subgraphFetch(url: string, init: SubgraphRequestInit, timeoutMs: number): Promise<FetcherResponse> {
  let target = targets.get(url);
  if (!target) {
    target = new URL(url);
    if (targets.size < 1000) targets.set(url, target);
  }
  const agent = agents[target.protocol as keyof typeof agents];
  if (!agent) return Promise.reject(new TypeError(`fetch failed: unsupported protocol ${target.protocol}`));
  const body = init.body ?? '';
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(error);
    };
    const request = (target.protocol === 'https:' ? https : http).request(
      target!,
      { method: init.method ?? 'POST', agent, headers: { ...init.headers, 'content-length': String(Buffer.byteLength(body)) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => fail(new TypeError('fetch failed', { cause: error })));
        response.on('end', () => {
          if (settled) return;
          let decoded: Buffer;
          try {
            decoded = decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), response.headers['content-encoding']);
          } catch (error) {
            return fail(new TypeError('fetch failed', { cause: error }));
          }
          settled = true;
          clearTimeout(timer);
          const headers = new Headers();
          const raw = response.rawHeaders;
          for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
          resolve(new SubgraphResponse(url, response.statusCode ?? 0, response.statusMessage ?? '', headers, decoded));
        });
      },
    );
    const timer = setTimeout(() => fail(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
    request.on('error', (error) => fail(new TypeError('fetch failed', { cause: error })));
    request.end(body);
  });
}
