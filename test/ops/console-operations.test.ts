/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Running the business from the ops console, in a real browser (playwright-core, Debian's chromium):
 *
 * - a contract amendment dead-lettered (the ERP failed its posting, then billing failed the undo)
 *   shows in the runs list (kind Amendment, found by its correlation id) and in the dead letters,
 *   and its Retry button redrives it to a clean end;
 * - "Run now" finds drift, shows each system's values side by side, marks the drift that needs a
 *   person, repairs a selected drift, and the next run no longer finds it;
 * - both actions are in the audit trail under the operator's subject (console, GraphQL, event log);
 * - screenshots at 1440 and 390 px wide go to test-output/, and at 390 px nothing scrolls sideways;
 * - the GraphQL IDE at /graphql runs a query and a subscription in development, and a production
 *   gateway serves no IDE.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../../core/config';
import { mintToken } from '../../gateway/token';
import { buildSeed, salesforceId } from '../../simulators/common/seed';
import type { Ports } from '../../subgraphs/orchestration/steps';
import { createVendorPorts } from '../../system';
import { TEST_JWT_SECRET, simCall, startTestSystem, type TestSystem } from '../helpers/system';
import { subscribe, wsClient } from '../events/helpers';
import { until } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = path.join(__dirname, '..', '..', 'test-output');
const OPERATOR = 'finance-operator';
const seed = buildSeed({ customers: 20 });
const contract = seed.contracts.find((c) => c.status === 'active' && c.items.some((i) => i.productCode === 'SEAT'))!;

jest.setTimeout(180_000);

describe('operating from the console (browser)', () => {
  let system: TestSystem;
  let browser: Browser;
  let page: Page;
  let token: string;
  let ports: Ports;
  const problems: string[] = [];
  let amendmentId: string;
  let driftId: string;
  const tailspinName = 'Tailspin Toys Console';
  let tailspinId: string;

  beforeAll(async () => {
    system = await startTestSystem({
      seed,
      env: { CONCORD_OPS_SAMPLE_MS: '500', CONCORD_POLL_INTERVAL_MS: '0', CONCORD_O2C_MAX_ATTEMPTS: '3', CONCORD_MUTATION_WAIT_MS: '500', CONCORD_RECONCILIATION_INTERVAL_MINUTES: '0', CONCORD_WS_MAX_CONNECTIONS_PER_SUBJECT: '1000', CONCORD_WS_MAX_CONNECTIONS_PER_ADDRESS: '1000' },
    });
    ports = createVendorPorts(loadConfig({ NODE_ENV: 'test' }), system.simulators);
    token = await mintToken({ secret: TEST_JWT_SECRET, subject: OPERATOR, scopes: ['ops:read', 'ops:write', 'customers:read'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${system.gateway.url}/ops?poll=1000#token=${token}`);
    await page.waitForSelector('#live[data-state="live"]', { timeout: 20_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await system?.close();
  });

  const amendmentRun = async () => {
    const { body } = await system.gql('query { opsRuns(kind: CONTRACT_AMENDMENT, first: 5) { edges { node { id status steps { name status } } } } }');
    return body.data.opsRuns.edges.map((e: any) => e.node)[0] ?? null;
  };

  it('shows a dead-lettered amendment among the runs and dead letters, and retries it to a clean end', async () => {
    // The ERP fails the posting (retried, then given up: the amendment is undone), and billing then
    // fails the undo. The ERP is checked before the amendment starts, so it fails only once the run
    // exists (billing is slowed so that its first step is still under way then).
    await simCall(system.simulators.stripe!.url, 'faults', { latencyMs: 1500 });
    const seats = contract.items.find((i) => i.productCode === 'SEAT')!.quantity;
    const amending = system.gql(
      'mutation Amend($input: AmendContractInput!) { amendContract(input: $input) { id } }',
      { input: { contractId: contract.id, idempotencyKey: `console-amend-${contract.id}`, items: [{ productCode: 'SEAT', quantity: seats + 2 }] } },
      { 'x-correlation-id': 'console-amendment-1' },
    );
    await until('the amendment to start', async () => (await amendmentRun()) !== null, 30_000, 25);
    await simCall(system.simulators.netsuite!.url, 'faults', { rate: 1, kinds: ['500'] });
    await until('the posting to be retried', async () => (await amendmentRun())?.steps.find((s: any) => s.name === 'postAmendment' && s.status === 'WAITING_RETRY'), 30_000, 50);
    await simCall(system.simulators.stripe!.url, 'faults', { rate: 1, kinds: ['500'], latencyMs: 0 });
    const dead = await until('the amendment to be dead-lettered', async () => {
      const run = await amendmentRun();
      return run?.status === 'DEAD_LETTERED' ? run : null;
    }, 60_000, 200);
    amendmentId = dead.id;
    await amending;
    await simCall(system.simulators.netsuite!.url, 'faults', { rate: 0 });
    await simCall(system.simulators.stripe!.url, 'faults', { rate: 0 });

    // Found by kind and by its correlation id, with the customer's name.
    await page.selectOption('#run-kind', 'CONTRACT_AMENDMENT');
    await page.fill('#run-search', 'console-amendment-1');
    const row = page.locator(`tr[data-run-id="${amendmentId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 1);
    expect(await row.getAttribute('data-status')).toBe('DEAD_LETTERED');
    expect(await row.locator('.run-kind').textContent()).toBe('Amendment');
    const customerName = seed.customers.find((c) => c.index === contract.customerIndex)?.name;
    expect(customerName).toBeTruthy();
    expect(await row.locator('.run-customer').textContent()).toBe(customerName);

    const card = page.locator(`[data-dead-letter-id="${amendmentId}"][data-kind="CONTRACT_AMENDMENT"]`);
    await card.waitFor({ timeout: 15_000 });
    expect(await card.textContent()).toContain('while undoing');
    expect(await page.textContent('[data-kpi="dead"] .kpi-value')).toBe('1');
    await card.locator('[data-action="retry"]').click();
    await page.waitForSelector(`tr[data-run-id="${amendmentId}"][data-status="COMPENSATED"]`, { timeout: 30_000 });
    await card.waitFor({ state: 'detached', timeout: 15_000 });
    expect((await amendmentRun()).status).toBe('COMPENSATED');
    await page.fill('#run-search', '');
    await page.selectOption('#run-kind', '');
  });

  it('runs reconciliation, shows drift side by side, marks what needs a person, and repairs a selected drift', async () => {
    const tailspin = await ports.crm.upsertAccountByKey('console-drift-mie', { name: tailspinName, domain: 'tailspin-console.example', parentId: null });
    tailspinId = tailspin.id;
    await ports.billing.upsertCustomer({ customerId: tailspin.id, name: tailspinName }, { idempotencyKey: 'console-drift-mie', correlationId: 'drift-maker' });
    const ghost = salesforceId('001', 7788);
    await ports.billing.upsertCustomer({ customerId: ghost, name: 'Ghost Freight Console' }, { idempotencyKey: 'console-drift-ghost', correlationId: 'drift-maker' });

    await page.click('#run-reconciliation');
    const drift = page.locator('[data-drift-kind="MISSING_IN_ERP"]', { hasText: tailspin.id });
    await drift.waitFor({ timeout: 30_000 });
    driftId = (await drift.getAttribute('data-drift-id'))!;
    // Side by side: the CRM and billing have the customer, the ERP has none.
    expect(await drift.locator('td[data-system="ERP"]').textContent()).toBe('customer: — none —');
    expect(await drift.locator('td[data-system="CRM"]').textContent()).toContain(tailspinName);
    expect(await drift.locator('td[data-system="BILLING"]').textContent()).not.toContain('— none —');
    const human = page.locator('[data-drift-kind="MISSING_IN_CRM"]', { hasText: ghost });
    await human.waitFor();
    expect(await human.locator('[data-needs-human]').count()).toBe(1);
    expect(await human.locator('[data-action="repair"]').count()).toBe(0);

    await drift.locator(`[data-select-drift="${driftId}"]`).check();
    expect(await page.textContent('#repair-selected')).toBe('Repair selected (1)');
    await page.click('#repair-selected');
    await page.waitForSelector(`[data-drift-id="${driftId}"] [data-repair-status="REPAIRED"]`, { timeout: 30_000 });

    // The next run no longer finds it; the drift that needs a person is still there.
    await page.click('#run-reconciliation');
    await until('a new report', async () => (await page.locator(`[data-drift-id="${driftId}"]`).count()) === 0, 30_000, 200);
    await page.locator('[data-drift-kind="MISSING_IN_CRM"]', { hasText: ghost }).waitFor();
    const { erp } = await simCall(system.simulators.netsuite!.url, 'state').then((ns: any) => ({ erp: ns.customer.filter((c: any) => c.externalId === tailspin.id) }));
    expect(erp).toHaveLength(1);
  });

  it('finds both actions in the audit trail under the operator, in the console, in GraphQL and in the event log', async () => {
    const retry = page.locator(`tr[data-audit-action="RETRY_RUN"][data-audit-target="${amendmentId}"]`);
    await retry.waitFor({ timeout: 15_000 });
    expect(await retry.getAttribute('data-audit-subject')).toBe(OPERATOR);
    expect(await retry.locator('[data-audit-status]').getAttribute('data-audit-status')).toBe('SUCCEEDED');
    const repair = page.locator(`tr[data-audit-action="REPAIR_DRIFT"][data-audit-target="${driftId}"]`);
    await repair.waitFor();
    expect(await repair.getAttribute('data-audit-subject')).toBe(OPERATOR);
    expect(await page.locator(`tr[data-audit-action="RUN_RECONCILIATION"][data-audit-subject="${OPERATOR}"]`).count()).toBe(2);

    // Only this operator's, through the filter.
    await page.fill('#audit-subject', 'nobody-else');
    await page.waitForSelector('#audit-empty:not([hidden])');
    await page.fill('#audit-subject', OPERATOR);
    await retry.waitFor();

    const { body } = await system.gql(`query { operatorActions(subject: "${OPERATOR}", first: 20) { edges { node { action subject target correlationId status detail at } } } }`);
    const actions = body.data.operatorActions.edges.map((e: any) => e.node);
    expect(actions.map((a: any) => a.action)).toEqual(['RUN_RECONCILIATION', 'REPAIR_DRIFT', 'RUN_RECONCILIATION', 'RETRY_RUN']);
    for (const action of actions) expect(action.correlationId).toMatch(/^ops-console-/);
    expect(actions.find((a: any) => a.action === 'RETRY_RUN')).toMatchObject({ target: amendmentId, status: 'SUCCEEDED' });
    const events = (await system.events.log.read(null, 100_000)).filter((e) => e.type === 'OPERATOR_ACTION');
    expect(events.map((e) => [e.data?.action, e.data?.subject, e.data?.target])).toEqual(
      expect.arrayContaining([
        ['RETRY_RUN', OPERATOR, amendmentId],
        ['REPAIR_DRIFT', OPERATOR, driftId],
      ]),
    );
  });

  it('streams OPERATOR_ACTION events to operators only', async () => {
    const log = await system.events.log.read(null, 100_000);
    // The repair's event, and a drift announced after it (by the reconciliation run after the repair).
    const repaired = log.findIndex((e) => e.type === 'OPERATOR_ACTION' && e.data?.action === 'REPAIR_DRIFT');
    const laterDrift = log.findIndex((e, i) => i > repaired && e.type === 'DRIFT_DETECTED');
    expect(repaired).toBeGreaterThan(0);
    expect(laterDrift).toBeGreaterThan(repaired);
    const query = 'subscription($after: String) { businessEvents(types: [OPERATOR_ACTION, DRIFT_DETECTED], after: $after) { id type } }';
    const integration = await mintToken({ secret: TEST_JWT_SECRET, subject: 'crm-integration', scopes: ['customers:read'] });
    const clients = [wsClient(system.gateway.url, integration), wsClient(system.gateway.url, token)];
    try {
      const [other, operator] = clients.map((client) => subscribe(client, query, { after: log[0].id }));
      // Both replay the log in order; once each has the drift announced after the repair, it had its chance to see the repair.
      for (const sub of [other, operator]) await sub.until((payloads) => payloads.some((p) => p.data?.businessEvents.id === log[laterDrift].id));
      expect(operator.payloads.map((p) => p.data?.businessEvents.id)).toContain(log[repaired].id);
      expect(other.payloads.filter((p) => p.data?.businessEvents.type === 'OPERATOR_ACTION')).toEqual([]);
      expect(other.payloads.some((p) => p.data?.businessEvents.type === 'DRIFT_DETECTED')).toBe(true);
    } finally {
      for (const client of clients) await client.dispose();
    }
  });

  it('is readable at 1440 and at 390 px wide, with no sideways scrolling on a phone', async () => {
    mkdirSync(OUTPUT, { recursive: true });
    await page.locator(`tr[data-run-id="${amendmentId}"]`).click();
    await page.screenshot({ path: path.join(OUTPUT, 'ops-console-1440.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.waitForSelector('#live[data-state="live"]', { timeout: 20_000 });
    await page.locator(`tr[data-run-id="${amendmentId}"]`).waitFor({ timeout: 15_000 });
    await page.waitForSelector('[data-drift-kind="MISSING_IN_CRM"]');
    await page.waitForSelector(`tr[data-audit-target="${amendmentId}"]`);
    const layout = await page.evaluate(() => {
      const width = window.innerWidth;
      const overflowing = [...document.querySelectorAll('#console *')]
        .filter((el) => (el as HTMLElement).offsetParent !== null && el.getBoundingClientRect().right > width + 0.5)
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${(el as HTMLElement).className}`);
      return {
        width,
        scrollWidth: document.documentElement.scrollWidth,
        header: document.querySelector('header.topbar')!.getBoundingClientRect().height,
        overflowing: overflowing.slice(0, 5),
        rowWidth: document.querySelector('#runs tbody tr')!.getBoundingClientRect().width,
      };
    });
    expect(layout.overflowing).toEqual([]);
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.width);
    // The header stays at most two lines; each run is a card as wide as the screen allows.
    expect(layout.header).toBeLessThan(100);
    expect(layout.rowWidth).toBeLessThanOrEqual(layout.width);
    expect(await page.locator(`tr[data-run-id="${amendmentId}"] td[data-label="Customer"]`).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(OUTPUT, 'ops-console-390.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('serves the GraphQL IDE in development: a query and a subscription run in it', async () => {
    const ide = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    ide.on('pageerror', (error) => errors.push(error.message));
    ide.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    const foreign: string[] = [];
    ide.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol !== 'data:' && url.host !== new URL(system.gateway.url).host) foreign.push(request.url());
    });
    await ide.goto(`${system.gateway.url}/graphql#token=${token}`);
    await ide.waitForSelector('.graphiql-container .CodeMirror', { timeout: 30_000 });
    expect(ide.url()).not.toContain('token');
    const run = async (query: string) => {
      await ide.evaluate((q) => (document.querySelector('.graphiql-query-editor .CodeMirror') as any).CodeMirror.setValue(q), query);
      // GraphiQL parses the editor's document after a 100 ms debounce, and its fetcher picks HTTP or
      // WebSocket from that parse: click only once the parse is of this document (on a busy machine a
      // click sooner sends a subscription over HTTP).
      const kind = query.trim().split(/[\s{]/)[0];
      await ide.waitForFunction(
        (k) => (document.querySelector('.graphiql-query-editor .CodeMirror') as any).CodeMirror.documentAST?.definitions?.[0]?.operation === k,
        kind,
        { timeout: 30_000 },
      );
      await ide.click('.graphiql-execute-button');
    };
    const result = () => ide.evaluate(() => (document.querySelector('.result-window .CodeMirror') as any)?.CodeMirror.getValue() ?? '');

    // Anonymous operations: GraphiQL keeps the last operation name it parsed in its own state.
    await run('query { opsOverview { deadLetters runs { status count } } }');
    await until('the query result', async () => (await result()).includes('"deadLetters"'), 20_000, 100);
    expect(JSON.parse(await result()).data.opsOverview.runs.length).toBeGreaterThan(0);

    await run('subscription { businessEvents(types: [OPERATOR_ACTION]) { id type detail } }');
    // The IDE's subscription reaches the server at its own pace (a count of active subscriptions is no
    // signal: the console pages of earlier tests may still be closing theirs). So act, and act again
    // every few seconds, until an operator action arrives in the IDE: proof the subscription runs in it.
    let actedAt = 0;
    const refused: unknown[] = [];
    await until('an operator action in the IDE', async () => {
      if ((await result()).includes('OPERATOR_ACTION')) return true;
      if (Date.now() - actedAt > 3_000) {
        actedAt = Date.now();
        const acted = await system.gql('mutation { runReconciliation { id } }');
        if (acted.body.errors) refused.push(acted.body.errors);
      }
      return false;
    }, 90_000, 100).catch(async (error: Error) => {
      throw new Error(`${error.message}; the IDE's result pane: ${(await result()).slice(0, 600)}`);
    });
    expect(refused).toEqual([]);
    expect(await result()).toContain('RUN_RECONCILIATION');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await ide.close();
  });

  it('serves no IDE in production mode', async () => {
    const production = await startTestSystem({
      env: { NODE_ENV: 'production', CONCORD_SUBGRAPH_SECRET: 'production-subgraph-secret-0123456789', CONCORD_POLL_INTERVAL_MS: '0', CONCORD_RECONCILIATION_INTERVAL_MINUTES: '0' },
    });
    try {
      const other = await browser.newPage();
      const response = await other.goto(`${production.gateway.url}/graphql`);
      expect(response!.headers()['content-type']).toContain('application/json');
      expect(await other.locator('.graphiql-container').count()).toBe(0);
      expect((await fetch(`${production.gateway.url}/graphiql/graphiql.min.js`)).status).toBe(404);
      await other.close();
    } finally {
      await production.close();
    }
  });
});
