/**
 * The ops console at /ops: static files only (HTML, JS, CSS, and the chart and graphql-ws libraries
 * from node_modules), so the page works offline and holds no data of its own. Everything it shows
 * comes from the gateway's GraphQL API and subscriptions with the operator's token.
 */
import type http from 'node:http';
import path from 'node:path';
import { sendStaticFile } from '../static-file';

const HERE = __dirname;
/** A package's own directory (their `exports` do not list the browser builds). */
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

/** URL path below /ops -> file and content type. Nothing else is served. */
const FILES: Record<string, { file: string; type: string }> = {
  '/ops': { file: path.join(HERE, 'index.html'), type: 'text/html; charset=utf-8' },
  '/ops/': { file: path.join(HERE, 'index.html'), type: 'text/html; charset=utf-8' },
  '/ops/ops.js': { file: path.join(HERE, 'ops.js'), type: 'text/javascript; charset=utf-8' },
  '/ops/ops-panels.js': { file: path.join(HERE, 'ops-panels.js'), type: 'text/javascript; charset=utf-8' },
  '/ops/ops.css': { file: path.join(HERE, 'ops.css'), type: 'text/css; charset=utf-8' },
  '/ops/vendor/uPlot.iife.min.js': { file: path.join(packageDir('uplot'), 'dist', 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/ops/vendor/uPlot.min.css': { file: path.join(packageDir('uplot'), 'dist', 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  '/ops/vendor/graphql-ws.min.js': { file: path.join(packageDir('graphql-ws'), 'umd', 'graphql-ws.min.js'), type: 'text/javascript; charset=utf-8' },
};

/** Answers GET /ops and its assets (404 for anything else under /ops). */
export async function serveOpsConsole(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void> {
  const entry = FILES[pathname];
  if (!entry || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(entry ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(entry ? 'use GET' : 'not found');
    return;
  }
  await sendStaticFile(req, res, entry, {
    // Same-origin scripts, styles and connections only: the page needs nothing from elsewhere.
    'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  });
}
