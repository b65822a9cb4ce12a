/**
 * The ops console in a real browser (playwright-core driving Debian's chromium): the page gets its
 * token from the URL fragment, follows a run live over the gateway's own subscription until it
 * completes, shows a run dead-lettered by a closed ERP period with its error and preserved state,
 * and redrives it with its Retry button once the period is reopened. The page polls only once a
 * minute here, so every live change it shows came through the subscription. A screenshot goes to
 * test-output/ops-console.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { mintToken } from '../../gateway/token';
import { getRun, readyOpportunities, startRun, waitForRun } from '../helpers/order-to-cash';
import { TEST_JWT_SECRET, simCall, startTestSystem, type TestSystem } from '../helpers/system';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = path.join(__dirname, '..', '..', 'test-output');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ops console in a browser', () => {
  let system: TestSystem;
  let browser: Browser;
  let page: Page;
  let opportunities: { id: string }[];
  let opsToken: string;
  const problems: string[] = [];
  const foreignRequests: string[] = [];
  const period = new Date().toISOString().slice(0, 7);
  let deadRunId: string;
  let keptDeadRunId: string;

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_OPS_SAMPLE_MS: '500', CONCORD_POLL_INTERVAL_MS: '0' } });
    opportunities = await readyOpportunities(system.simulators.salesforce!.url);
    opsToken = await mintToken({ secret: TEST_JWT_SECRET, subject: 'operator', scopes: ['ops:read', 'ops:write'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    // Some traffic for the charts.
    for (let i = 0; i < 4; i++) await system.gql('query Warm { customers(first: 10) { edges { node { id name contracts { status } } } } }');
  });
  afterAll(async () => {
    await simCall(system.simulators.netsuite!.url, 'periods', { closed: [] }).catch(() => undefined);
    await browser?.close();
    await system?.close();
  });

  function watch(p: Page): void {
    const origin = new URL(system.gateway.url).host;
    p.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    p.on('pageerror', (error) => problems.push(`page: ${error.message}`));
    p.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol !== 'data:' && url.host !== origin) foreignRequests.push(request.url());
    });
  }

  it('opens with the token from the URL fragment, removes it from the address bar and goes live', async () => {
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    watch(page);
    await page.goto(`${system.gateway.url}/ops?poll=60000#token=${opsToken}`);
    await page.waitForSelector('#live[data-state="live"]', { timeout: 15_000 });
    expect(page.url()).not.toContain('token');
    expect(await page.textContent('#who')).toContain('operator');
    expect(await page.textContent('#who')).toContain('ops:read ops:write');
    await page.waitForSelector('.vendor[data-vendor="salesforce"]');
  });

  it('watches a run progress live, step by step, to COMPLETED', async () => {
    // Slow billing a little so that the steps are seen one by one.
    await simCall(system.simulators.stripe!.url, 'faults', { latencyMs: 250 });
    const started = await startRun(system, opportunities[0].id, `console-live-${opportunities[0].id}`);
    const id = started.body.data.startOrderToCash.id as string;
    const row = page.locator(`tr[data-run-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const mark = await row.evaluate((tr) => `${tr.getAttribute('data-status')}:${tr.querySelectorAll('[data-step-status="SUCCEEDED"]').length}`).catch(() => null);
      if (mark && seen[seen.length - 1] !== mark) seen.push(mark);
      if (mark?.startsWith('COMPLETED')) break;
      await sleep(25);
    }
    await simCall(system.simulators.stripe!.url, 'faults', { latencyMs: 0 });
    expect(seen[seen.length - 1]).toBe('COMPLETED:7');
    // Seen in between: the run in flight with a growing number of finished steps.
    const inFlight = seen.filter((m) => !m.startsWith('COMPLETED'));
    expect(inFlight.length).toBeGreaterThanOrEqual(3);
    expect(new Set(inFlight.map((m) => m.split(':')[1])).size).toBeGreaterThanOrEqual(3);

    await row.click();
    await page.waitForSelector(`#run-detail .tl-row[data-step="crmWriteBack"][data-step-status="SUCCEEDED"]`);
    expect(await page.locator('#run-detail .tl-row[data-step-status="SUCCEEDED"]').count()).toBe(7);
    expect(await page.textContent('#run-detail')).toContain(id);
  });

  it('shows runs dead-lettered by a closed period, with the error, the preserved state and the hotspot', async () => {
    await simCall(system.simulators.netsuite!.url, 'periods', { closed: [period] });
    const [first, second] = await Promise.all([
      startRun(system, opportunities[1].id, `console-closed-${opportunities[1].id}`),
      startRun(system, opportunities[2].id, `console-closed-${opportunities[2].id}`),
    ]);
    deadRunId = first.body.data.startOrderToCash.id;
    keptDeadRunId = second.body.data.startOrderToCash.id;
    for (const id of [deadRunId, keptDeadRunId]) expect((await waitForRun(system, id)).status).toBe('DEAD_LETTERED');

    const card = page.locator(`[data-dead-letter-id="${deadRunId}"]`);
    await card.waitFor({ timeout: 15_000 });
    await page.waitForSelector(`[data-dead-letter-id="${keptDeadRunId}"]`, { timeout: 15_000 });
    expect(await card.locator('.code').first().textContent()).toBe('PERIOD_CLOSED');
    expect(await card.textContent()).toContain('ERP posting failed');
    expect(await card.textContent()).toContain('accounting period is closed');
    await card.locator('summary').click();
    const preserved = JSON.parse((await card.locator('pre').textContent())!);
    expect(preserved.context.invoiceId).toMatch(/^in_/);
    expect(preserved.steps.find((s: any) => s.name === 'erpPosting').status).toBe('FAILED');
    expect(await page.getAttribute(`tr[data-run-id="${deadRunId}"]`, 'data-status')).toBe('DEAD_LETTERED');
    expect(await page.textContent('#dead-count')).toBe('2');
    await page.waitForSelector('[data-hotspot="erpPosting:PERIOD_CLOSED"]');
    expect(await page.textContent('[data-kpi="dead"] .kpi-value')).toBe('2');
  });

  it('retries a dead letter with its button once the period is reopened, and sees the run complete', async () => {
    await simCall(system.simulators.netsuite!.url, 'periods', { closed: [] });
    const retry = page.locator(`[data-dead-letter-id="${deadRunId}"] [data-action="retry"]`);
    expect(await retry.isEnabled()).toBe(true);
    await retry.click();
    await page.waitForSelector(`tr[data-run-id="${deadRunId}"][data-status="COMPLETED"]`, { timeout: 20_000 });
    await page.locator(`[data-dead-letter-id="${deadRunId}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    await page.waitForFunction("document.querySelector('#dead-count')?.textContent === '1'");
    const run = await getRun(system, deadRunId);
    expect(run.status).toBe('COMPLETED');
    // Redriven from the failed step: the posting ran twice, the billing steps once.
    expect(run.steps.find((s: any) => s.name === 'erpPosting').attempts).toBe(2);
    expect(run.steps.find((s: any) => s.name === 'contract').attempts).toBe(1);
  });

  it('draws the charts, vendor limits and the latest reconciliation, and saves a screenshot', async () => {
    const reconciliation = await system.gql('mutation { runReconciliation { id status } }');
    expect(reconciliation.body.errors).toBeUndefined();
    // The console re-reads everything after an action; select the live run for its timeline.
    await page.locator(`tr[data-run-id="${deadRunId}"]`).click();
    await page.locator('[data-filter="ALL"]').click();
    await page.evaluate("window.dispatchEvent(new Event('resize'))");
    await page.waitForSelector('#chart-latency canvas', { timeout: 15_000 });
    await page.waitForSelector('#chart-throughput canvas');
    await page.waitForSelector('#chart-backlog canvas');
    // Reconciliation is read with the overview, which the retry above refreshed; wait for the next read.
    await page.reload();
    await page.waitForSelector('#live[data-state="live"]', { timeout: 15_000 });
    await page.waitForSelector('[data-report-status]', { timeout: 15_000 });
    await page.waitForSelector('#chart-latency canvas', { timeout: 15_000 });
    await page.locator(`tr[data-run-id="${deadRunId}"]`).click();
    const salesforce = await page.textContent('.vendor[data-vendor="salesforce"]');
    expect(salesforce).toMatch(/of 15,000 — API requests in the last 24 h/);
    expect(await page.textContent('.vendor[data-vendor="stripe"]')).toContain('of 25');
    expect(await page.textContent('.vendor[data-vendor="netsuite"]')).toContain('of 5');
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'ops-console.png'), fullPage: true });
  });

  it('asks for a token when none is given, and disables Retry and Cancel without ops:write', async () => {
    const readOnly = await mintToken({ secret: TEST_JWT_SECRET, subject: 'auditor', scopes: ['ops:read'] });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const other = await context.newPage();
    watch(other);
    await other.goto(`${system.gateway.url}/ops`);
    await other.waitForSelector('#signin:not([hidden])');
    await other.fill('#token-input', 'not a token');
    await other.click('#token-form button[type="submit"]');
    expect(await other.textContent('#token-error')).toContain('not a JWT');
    await other.fill('#token-input', `Bearer ${readOnly}`);
    await other.click('#token-form button[type="submit"]');
    const card = other.locator(`[data-dead-letter-id="${keptDeadRunId}"]`);
    await card.waitFor({ timeout: 15_000 });
    expect(await card.locator('[data-action="retry"]').isDisabled()).toBe(true);
    expect(await card.locator('[data-action="cancel"]').isDisabled()).toBe(true);
    expect(await card.textContent()).toContain('need ops:write');
    await context.close();
  });

  it('loaded nothing from elsewhere and logged no errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(problems).toEqual([]);
  });
});
