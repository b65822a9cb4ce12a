/**
 * Static files the gateway serves itself (the ops console, the GraphQL IDE): read once and kept in
 * memory, answered with the same safe headers; each caller adds its own CSP and the like.
 */
import type http from 'node:http';
import { readFile } from 'node:fs/promises';

/** A file to serve and its content type. */
export interface StaticFile {
  file: string;
  type: string;
}

const cache = new Map<string, Buffer>();

/** Answers 200 with the file (no body for HEAD); `headers` are added to the common ones. */
export async function sendStaticFile(req: http.IncomingMessage, res: http.ServerResponse, entry: StaticFile, headers: Record<string, string>): Promise<void> {
  let body = cache.get(entry.file);
  if (!body) {
    body = await readFile(entry.file);
    cache.set(entry.file, body);
  }
  res.writeHead(200, {
    'content-type': entry.type,
    'content-length': String(body.length),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
