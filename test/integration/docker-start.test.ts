/**
 * The Dockerfile's production start, without a Docker daemon: a tree made as its runtime stage
 * makes it (package files, `npm ci --omit=dev`, the built dist/), started with the Dockerfile's own
 * CMD and ENV under NODE_ENV=production against vendors (simulators standing in, credentials
 * required), then probed with the Dockerfile's own HEALTHCHECK command. Slow (a build and an
 * install from the npm cache): one test.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetSuiteSimulator } from '../../simulators/netsuite/server';
import { createSalesforceSimulator } from '../../simulators/salesforce/server';
import { createStripeSimulator } from '../../simulators/stripe/server';
import { JWT_PATTERN, ROOT, freeRange, until } from '../helpers/processes';

const run = promisify(execFile);

/** The runtime (last) stage of the Dockerfile: its ENV, CMD and HEALTHCHECK command. */
function runtimeStage(): { env: Record<string, string>; cmd: string[]; healthcheck: string[] } {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of stage.match(/^ENV .+$/gm) ?? []) for (const m of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
  const cmd = JSON.parse(/^CMD (\[.+\])$/m.exec(stage)![1]) as string[];
  const healthcheck = JSON.parse(/^HEALTHCHECK .*?CMD (\[.+\])$/m.exec(stage)![1]) as string[];
  return { env, cmd, healthcheck };
}

describe('the Dockerfile production start, from an `npm ci --omit=dev` tree and the build', () => {
  it('starts with its CMD under NODE_ENV=production and passes its HEALTHCHECK', async () => {
    const stage = runtimeStage();
    expect(stage.cmd).toEqual(['node', 'dist/main.js']);
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);

    await run('npm', ['run', '--silent', 'build'], { cwd: ROOT });
    const app = mkdtempSync(path.join(tmpdir(), 'concord-image-'));
    const sims = [
      await createSalesforceSimulator({ requiredToken: 'staging-session-token' }).listen(0),
      await createStripeSimulator({ requiredApiKey: 'sk_test_image_key' }).listen(0),
      await createNetSuiteSimulator({ credentials: { consumerKey: 'ck-image', consumerSecret: 'cs-image', tokenId: 'ti-image', tokenSecret: 'ts-image' } }).listen(0),
    ];
    let child: ReturnType<typeof spawn> | null = null;
    try {
      for (const file of ['package.json', 'package-lock.json']) cpSync(path.join(ROOT, file), path.join(app, file));
      await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], { cwd: app });
      cpSync(path.join(ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
      // No dev dependency made it in: the start below runs without tsx, jest or typescript.
      expect(() => execFileSync('node', ['-e', "require.resolve('tsx')"], { cwd: app, stdio: 'ignore' })).toThrow();

      const port = await freeRange(5);
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        ...stage.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        CONCORD_JWT_SECRET: 'image-test-jwt-secret-0123456789abcdefgh',
        CONCORD_JWT_ISSUER: 'https://idp.image.example',
        CONCORD_JWT_AUDIENCE: 'concord-image',
        CONCORD_SUBGRAPH_SECRET: 'image-test-subgraph-secret-0123456789ab',
        SALESFORCE_INSTANCE_URL: sims[0].url,
        SALESFORCE_ACCESS_TOKEN: 'staging-session-token',
        STRIPE_API_BASE: sims[1].url,
        STRIPE_API_KEY: 'sk_test_image_key',
        NETSUITE_BASE_URL: sims[2].url,
        NETSUITE_ACCOUNT_ID: 'TSTDRV1234567',
        NETSUITE_CONSUMER_KEY: 'ck-image',
        NETSUITE_CONSUMER_SECRET: 'cs-image',
        NETSUITE_TOKEN_ID: 'ti-image',
        NETSUITE_TOKEN_SECRET: 'ts-image',
      };
      expect(env.NODE_ENV).toBe('production');
      let output = '';
      child = spawn(stage.cmd[0], stage.cmd.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const started = child;
      await until('the API ready', async () => {
        if (started.exitCode !== null) throw new Error(`exited ${started.exitCode}:\n${output}`);
        return (await fetch(`http://127.0.0.1:${port}/ready`)).ok ? true : undefined;
      }, 90_000, 300);
      const health = await run(stage.healthcheck[0], stage.healthcheck.slice(1), { cwd: app, env }).then(() => 0, (e: { code: number }) => e.code);
      expect(health).toBe(0);
      expect(output).toMatch(/concord API ready/);
      expect(output).not.toMatch(JWT_PATTERN);
    } finally {
      if (child && child.exitCode === null) {
        const exiting = new Promise((resolve) => child!.once('exit', resolve));
        child.kill('SIGTERM');
        await exiting;
      }
      for (const sim of sims) await sim.close();
      rmSync(app, { recursive: true, force: true });
    }
  }, 600_000);
});
