/**
 * The GraphQL IDE at /graphql for browsers (development; CONCORD_GRAPHIQL turns it on or off).
 * GraphiQL 3's prebuilt UMD build (graphiql.min.js, which needs React 18's UMD builds as globals)
 * is served from node_modules with React, ReactDOM and graphql-ws's UMD build, so no bundler runs
 * and nothing comes from a CDN. GraphiQL 4 and 5 ship ESM for bundlers only, hence version 3.
 *
 * Only a browser's navigation gets the page: GET /graphql with `Accept: text/html` and no `query`
 * parameter. Every other request to /graphql (POST, GET with a query, graphql-ws upgrades) is the
 * API as before, so API clients never see HTML.
 */
import type http from 'node:http';
import path from 'node:path';
import { sendStaticFile } from '../static-file';

const HERE = __dirname;
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** URL path -> file and content type. Nothing else is served. */
const FILES: Record<string, { file: string; type: string }> = {
  '/graphql': { file: path.join(HERE, 'index.html'), type: 'text/html; charset=utf-8' },
  '/graphiql/boot.js': { file: path.join(HERE, 'boot.js'), type: JS },
  '/graphiql/ide.css': { file: path.join(HERE, 'ide.css'), type: CSS },
  '/graphiql/graphiql.min.js': { file: path.join(packageDir('graphiql'), 'graphiql.min.js'), type: JS },
  '/graphiql/graphiql.min.css': { file: path.join(packageDir('graphiql'), 'graphiql.min.css'), type: CSS },
  '/graphiql/react.production.min.js': { file: path.join(packageDir('react'), 'umd', 'react.production.min.js'), type: JS },
  '/graphiql/react-dom.production.min.js': { file: path.join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'), type: JS },
  '/graphiql/graphql-ws.min.js': { file: path.join(packageDir('graphql-ws'), 'umd', 'graphql-ws.min.js'), type: JS },
};

/**
 * GraphiQL (CodeMirror 5 and React) sets inline styles and injects <style> elements, so styles need
 * 'unsafe-inline'; scripts stay same-origin only, and connections go to this gateway only.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A browser opening /graphql (not an API call): GET, HTML accepted, no query in the URL. */
export function wantsIde(req: http.IncomingMessage, url: URL): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (url.searchParams.has('query') || req.headers.upgrade) return false;
  return String(req.headers.accept ?? '').includes('text/html');
}

export const isIdeAsset = (pathname: string) => pathname.startsWith('/graphiql/') && pathname in FILES;

/** Answers the IDE page or one of its assets (`pathname` must be '/graphql' or an isIdeAsset path). */
export async function serveIde(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void> {
  const entry = FILES[pathname];
  await sendStaticFile(req, res, entry, {
    'content-security-policy': CSP,
    // The same URL answers JSON to API clients: caches must key on Accept.
    vary: 'Accept',
  });
}
