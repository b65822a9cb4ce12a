/** The command line of `concord-gateway` / `npm run gateway` (gateway/cli.ts). */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { UsageError, parseGatewayArgs, standaloneOptions } from '../../gateway/cli';
import { BIN, tempDir } from './helpers';

// Each test starts the real command (a cold start through tsx): seconds of CPU, which a busy machine
// stretches well past jest's default 30 s. The waits inside have their own generous deadlines.
jest.setTimeout(180_000);

const logger = createLogger({ level: 'silent' });

describe('parseGatewayArgs', () => {
  it('reads every flag', () => {
    expect(
      parseGatewayArgs(['--supergraph', 'sg.graphql', '--port', '0', '--host', '0.0.0.0', '--auth', 'optional', '--no-signing', '--no-watch', '--subgraph', 'a=http://a:1/graphql', '--subgraph', 'b=https://b/graphql']),
    ).toEqual({
      supergraph: 'sg.graphql',
      port: 0,
      host: '0.0.0.0',
      auth: 'optional',
      signing: false,
      watch: false,
      subgraphUrls: { a: 'http://a:1/graphql', b: 'https://b/graphql' },
      processes: null,
      help: false,
    });
    expect(parseGatewayArgs(['-s', 'x.graphql', '--processes', '4']).processes).toBe(4);
    expect(parseGatewayArgs(['-s', 'x.graphql', '-p', '4100'])).toMatchObject({ supergraph: 'x.graphql', port: 4100, auth: null, signing: null, watch: null });
    expect(parseGatewayArgs(['x.graphql']).supergraph).toBe('x.graphql');
  });

  it.each([
    [['--port', 'eighty'], /--port must be a port number/],
    [['--port', '70000'], /--port must be a port number/],
    [['--auth', 'maybe'], /--auth must be required, optional or off/],
    [['--subgraph', 'noequals'], /--subgraph takes <name>=<http\(s\) url>/],
    [['--processes', '0'], /--processes must be a whole number from 1 to 256/],
    [['--processes', 'all'], /--processes must be a whole number/],
    [['--subgraph', 'a=ws://x'], /--subgraph takes/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['a.graphql', 'b.graphql'], /one supergraph file/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseGatewayArgs(argv)).toThrow(UsageError);
    expect(() => parseGatewayArgs(argv)).toThrow(message);
  });
});

describe('standaloneOptions', () => {
  it('takes the environment where no flag is given, and flags over it', () => {
    const config = loadConfig({ NODE_ENV: 'test', CONCORD_SUPERGRAPH: 'env.graphql', CONCORD_AUTH: 'optional', CONCORD_SUBGRAPH_SIGNING: 'off', CONCORD_SUPERGRAPH_WATCH: '0', PORT: '4300' });
    const fromEnv = standaloneOptions(parseGatewayArgs([]), config, logger).options;
    expect(fromEnv).toMatchObject({ supergraphPath: 'env.graphql', auth: 'optional', subgraphSecret: null, watch: false, port: 4300 });
    const flagged = standaloneOptions(parseGatewayArgs(['-s', 'flag.graphql', '--auth', 'required', '--port', '0']), config, logger).options;
    expect(flagged).toMatchObject({ supergraphPath: 'flag.graphql', auth: 'required', port: 0 });
  });

  it('signs with CONCORD_SUBGRAPH_SECRET, and warns when it would be a random one', () => {
    const secret = 's'.repeat(40);
    const given = standaloneOptions(parseGatewayArgs(['-s', 'x']), loadConfig({ NODE_ENV: 'test', CONCORD_SUBGRAPH_SECRET: secret }), logger);
    expect(given.options.subgraphSecret).toBe(secret);
    expect(given.notes.warnings.join('\n')).not.toMatch(/CONCORD_SUBGRAPH_SECRET/);
    const generated = standaloneOptions(parseGatewayArgs(['-s', 'x']), loadConfig({ NODE_ENV: 'test' }), logger);
    expect(generated.options.subgraphSecret).toEqual(expect.any(String));
    expect(generated.notes.warnings.join('\n')).toMatch(/CONCORD_SUBGRAPH_SECRET is not set/);
  });

  it('needs a supergraph', () => {
    expect(() => standaloneOptions(parseGatewayArgs([]), loadConfig({ NODE_ENV: 'test' }), logger)).toThrow(/a supergraph file is required/);
  });
});

describe('the bin', () => {
  const run = promisify(execFile);

  it('exits 2 with the usage on a bad flag, and 1 with the reason on a bad file', async () => {
    const usage = await run(process.execPath, [BIN, '--auth', 'sometimes']).catch((e: { code: number; stderr: string }) => e);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringMatching(/--auth must be required, optional or off[\s\S]*Usage: concord-gateway/) });
    const file = path.join(tempDir(), 'not-a-supergraph.graphql');
    writeFileSync(file, 'type Query { a: Int }');
    const bad = await run(process.execPath, [BIN, '--supergraph', file, '--port', '0'], { env: { ...process.env, NODE_ENV: 'development' } }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/^concord-gateway: supergraph file .* cannot be served: it does not link the join spec/) });
  });
});
