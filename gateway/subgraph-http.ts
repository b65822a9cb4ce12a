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
 * decoded. Different: no `accept-encoding` is sent, so subgraphs answer uncompressed (between a
 * gateway and its subgraphs compression costs both more CPU than it saves); redirects are not
 * followed (a 3xx is an error for the data source). Idle sockets are closed before the subgraph's
 * announced keep-alive timeout (Node's agent reads `Keep-Alive: timeout=`); nothing is retried: a
 * mutation must not be sent twice.
 *
 * Also here: `leanSendRequest`, the data source's send step without node-fetch (below).
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GatewayGraphQLRequest, GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { FetcherHeaders, FetcherResponse } from '@apollo/utils.fetcher';

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

/** The answer's headers over Node's parsed ones (lower-cased names), without copying them into a WHATWG Headers. */
class AnswerHeaders implements FetcherHeaders {
  constructor(readonly raw: http.IncomingHttpHeaders) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
  set(name: string, value: string): void {
    this.raw[name.toLowerCase()] = value;
  }
  append(name: string, value: string): void {
    const current = this.get(name);
    this.set(name, current === null ? value : `${current}, ${value}`);
  }
  delete(name: string): void {
    delete this.raw[name.toLowerCase()];
  }
  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.raw).sort()) yield [name, this.get(name)!];
  }
  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }
  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
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
    readonly headers: AnswerHeaders,
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
    return new SubgraphResponse(this.url, this.status, this.statusText, new AnswerHeaders({ ...this.headers.raw }), this.body);
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
          resolve(new SubgraphResponse(url, response.statusCode ?? 0, response.statusMessage ?? '', new AnswerHeaders(response.headers), decoded));
        });
      },
    );
    const timer = setTimeout(() => fail(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
    request.on('error', (error) => fail(new TypeError('fetch failed', { cause: error })));
    request.end(body);
  });
}

/**
 * RemoteGraphQLDataSource's own `sendRequest` (@apollo/gateway 2.14.4, a private method; given to
 * the data source's constructor, which assigns its options onto the instance) without the
 * node-fetch `Request` it builds on every fetch only to pass to `didEncounterError`, which Concord
 * does not override: URL parsing and header copies that were about 4% of the gateway's CPU under
 * load. The steps are otherwise the same: the request without `http` as the JSON body, the
 * fetcher, `errorFromResponse` on a non-2xx, `parseBody`, and a JSON object required. Re-check
 * against RemoteGraphQLDataSource.js when @apollo/gateway is upgraded.
 */
export const leanSendRequest: object = {
  async sendRequest(this: RemoteGraphQLDataSource, request: GatewayGraphQLRequest, context: Record<string, unknown>): Promise<GatewayGraphQLResponse> {
    if (!request.http) throw new Error("Internal error: Only 'http' requests are supported.");
    const { http: target, ...withoutHttp } = request;
    const response = await this.fetcher(target.url, { method: target.method, headers: Object.fromEntries(target.headers), body: JSON.stringify(withoutHttp) });
    if (!response.ok) throw await this.errorFromResponse(response);
    const body = await this.parseBody(response, undefined, context);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error(`Expected JSON response body, but received: ${body}`);
    return { ...body, http: response } as GatewayGraphQLResponse;
  },
};
