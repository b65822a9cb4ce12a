/**
 * The alerting rules shipped beside the dashboard (grafana/alerts.yml): promtool finds them valid
 * and their unit tests (grafana/alerts.test.yml: each alert fires on the condition it names, and
 * stays quiet without it) pass; and every Concord metric the rules use is served at /metrics by a
 * running system, with the values the rules read (ready, reconciliation success and drifts).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { scrape, total } from './helpers';

const run = promisify(execFile);
const GRAFANA = path.join(__dirname, '..', '..', 'grafana');
const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

describe('Prometheus alerting rules (grafana/alerts.yml)', () => {
  it('are valid rules, and pass their promtool unit tests', async () => {
    const check = await run(PROMTOOL, ['check', 'rules', 'alerts.yml'], { cwd: GRAFANA });
    expect(check.stdout).toMatch(/SUCCESS: 8 rules found/);
    const tests = await run(PROMTOOL, ['test', 'rules', 'alerts.test.yml'], { cwd: GRAFANA });
    expect(`${tests.stdout}${tests.stderr}`).toMatch(/SUCCESS/);
    // Every alert has at least one unit test.
    const rules = readFileSync(path.join(GRAFANA, 'alerts.yml'), 'utf8');
    const tested = readFileSync(path.join(GRAFANA, 'alerts.test.yml'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts).toHaveLength(8);
    for (const alert of alerts) expect(`${alert}: ${tested.includes(`alertname: ${alert}\n`)}`).toBe(`${alert}: true`);
  });

  describe('against a running system', () => {
    let system: TestSystem;
    beforeAll(async () => {
      system = await startTestSystem({ env: { CONCORD_POLL_INTERVAL_MS: '0', CONCORD_RECONCILIATION_INTERVAL_MINUTES: '0' } });
    });
    afterAll(() => system?.close());

    it('serves every Concord metric the rules use, with what they read', async () => {
      const report = await system.gql('mutation { runReconciliation { id status driftCount } }');
      expect(report.body.errors).toBeUndefined();
      expect(report.body.data.runReconciliation.status).toBe('COMPLETED');
      const { text, samples } = await scrape(system.gateway.url);
      const rules = readFileSync(path.join(GRAFANA, 'alerts.yml'), 'utf8');
      const names = new Set(rules.match(/\bconcord_[a-z0-9_]+/g) ?? []);
      expect(names.size).toBeGreaterThanOrEqual(10);
      for (const name of names) {
        const family = name.replace(/_total$/, '');
        expect(`${name}: ${text.includes(`# TYPE ${name} `) || text.includes(`# TYPE ${family} `)}`).toBe(`${name}: true`);
      }
      expect(total(samples, 'concord_ready')).toBe(1);
      expect(total(samples, 'concord_reconciliation_drifts')).toBe(report.body.data.runReconciliation.driftCount);
      expect(total(samples, 'concord_reconciliation_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
      expect(total(samples, 'concord_workflow_dead_letters')).toBe(0);
    });
  });
});
