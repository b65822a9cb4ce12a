/**
 * The gateway's subgraph transport (gateway/subgraph-http.ts) against a real HTTP server: what
 * RemoteGraphQLDataSource relies on from fetch (status, headers, JSON, errors, timeout), pooled
 * keep-alive sockets, and the data source's send path without node-fetch.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import { leanSendRequest, subgraphFetch } from '../../gateway/subgraph-http';

describe('subgraph transport', () => {
  let server: http.Server;
  let base: string;
  const sockets = new Set<unknown>();
  let lastRequest: { headers: http.IncomingHttpHeaders; body: string } | null = null;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      sockets.add(req.socket);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        lastRequest = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        switch (req.url) {
          case '/json':
            return res.writeHead(200, { 'content-type': 'application/json', 'x-Extra': 'yes' }).end(JSON.stringify({ data: { echo: lastRequest.body } }));
          case '/gzip':
            return res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(zlib.gzipSync(JSON.stringify({ data: { zipped: true } })));
          case '/unauthorized':
            return res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'no' }] }));
          case '/slow':
            return setTimeout(() => res.writeHead(200).end('{}'), 500);
          default:
            return res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the body and headers and reads status, headers and JSON', async () => {
    const response = await subgraphFetch(`${base}/json`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-concord-principal': 'abc' }, body: '{"query":"{ a }"}' }, 5000);
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get('X-EXTRA')).toBe('yes');
    expect(response.headers.get('missing')).toBeNull();
    expect(await response.json()).toEqual({ data: { echo: '{"query":"{ a }"}' } });
    expect(lastRequest?.headers['x-concord-principal']).toBe('abc');
    expect(lastRequest?.headers['content-length']).toBe('17');
  });

  it('decodes a gzip answer', async () => {
    const response = await subgraphFetch(`${base}/gzip`, { body: '{}' }, 5000);
    expect(await response.json()).toEqual({ data: { zipped: true } });
  });

  it('keeps sockets alive between fetches', async () => {
    sockets.clear();
    for (let i = 0; i < 5; i += 1) await (await subgraphFetch(`${base}/json`, { body: '{}' }, 5000)).text();
    expect(sockets.size).toBe(1);
  });

  it('fails as fetch does: TimeoutError past the timeout, TypeError when nobody answers', async () => {
    await expect(subgraphFetch(`${base}/slow`, { body: '{}' }, 50)).rejects.toMatchObject({ name: 'TimeoutError' });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(subgraphFetch(`http://127.0.0.1:${port}/json`, { body: '{}' }, 5000)).rejects.toThrow(TypeError);
  });

  it('serves RemoteGraphQLDataSource without node-fetch: answers, and errorFromResponse for a non-2xx', async () => {
    const fetcher = ((url: string, init: { body?: string; headers?: Record<string, string>; method?: string }) => subgraphFetch(url, init, 5000)) as unknown as Fetcher;
    const process = (url: string) =>
      new RemoteGraphQLDataSource({ ...leanSendRequest, url, fetcher }).process({
        kind: 'HEALTH_CHECK' as never,
        request: { query: '{ a }', variables: { x: 1 } },
        context: {},
      } as never);
    const answer = await process(`${base}/json`);
    expect(JSON.parse(answer.data!.echo as string)).toEqual({ query: '{ a }', variables: { x: 1 } });
    expect(lastRequest?.headers['content-type']).toBe('application/json');
    const refused = await process(`${base}/unauthorized`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GraphQLError);
    expect((refused as GraphQLError).extensions.code).toBe('UNAUTHENTICATED');
  });
});
