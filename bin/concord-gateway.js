#!/usr/bin/env node
/**
 * `concord-gateway` (package.json "bin"; `npx concord-gateway --supergraph <file>`): the gateway on
 * its own over a supergraph file (gateway/cli.ts). In a checkout, the TypeScript source runs through
 * tsx, so the command is never stale; in an installed build without tsx, the compiled dist/ does.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const source = path.join(root, 'gateway', 'cli.ts');
const built = path.join(root, 'dist', 'gateway', 'cli.js');

function tsxAvailable() {
  try {
    require.resolve('tsx/cjs/api', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

let cli;
if (fs.existsSync(source) && tsxAvailable()) {
  require(require.resolve('tsx/cjs/api', { paths: [root] })).register();
  cli = require(source);
} else if (fs.existsSync(built)) {
  cli = require(built);
} else {
  process.stderr.write('concord-gateway: neither gateway/cli.ts with tsx nor dist/ found; run `npm run build` first\n');
  process.exit(1);
}
cli.main();
