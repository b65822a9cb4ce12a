/**
 * Every command a user runs answers --help with its usage, options and examples (exit 0), and the
 * token command's presets mint the tokens docs/api.md describes for each kind of client.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const run = promisify(execFile);

async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [script, ...args], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test' }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.each([
  ['npm start', 'main.ts'],
  ['npm run token', 'gateway/token-cli.ts'],
  ['npm run gateway', 'gateway/cli.ts'],
  ['npm run worker', 'subgraphs/orchestration/worker-main.ts'],
])('%s --help', (_name, script) => {
  it('prints the usage with examples and exits 0', async () => {
    const { code, stdout } = await cli(script, ['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: /);
    expect(stdout).toContain('Examples:');
  }, 60_000);
});

describe('npm run token presets', () => {
  it('admin has every scope and no customer', async () => {
    const { code, stdout } = await cli('gateway/token-cli.ts', ['--preset', 'admin']);
    expect(code).toBe(0);
    const claims = decodeJwt(stdout.trim());
    expect(String(claims.scope).split(' ').sort()).toEqual(['billing:read', 'customers:read', 'erp:read', 'ops:read', 'ops:write', 'orders:write']);
    expect(claims.customer_id).toBeUndefined();
  }, 60_000);

  it('ops has the operator scopes', async () => {
    const claims = decodeJwt((await cli('gateway/token-cli.ts', ['--preset', 'ops'])).stdout.trim());
    expect(claims.scope).toBe('ops:read ops:write');
  }, 60_000);

  it('portal names its customer, and is refused without one', async () => {
    const claims = decodeJwt((await cli('gateway/token-cli.ts', ['--preset', 'portal', '--customer', '001Dn0000000001IAA'])).stdout.trim());
    expect(claims).toMatchObject({ scope: 'customers:read billing:read orders:write', customer_id: '001Dn0000000001IAA' });
    const refused = await cli('gateway/token-cli.ts', ['--preset', 'portal']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('needs --customer');
  }, 60_000);

  it('refuses an unknown preset with the usage', async () => {
    const refused = await cli('gateway/token-cli.ts', ['--preset', 'root']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('unknown preset "root"');
    expect(refused.stderr).toContain('Usage: ');
  }, 60_000);
});
