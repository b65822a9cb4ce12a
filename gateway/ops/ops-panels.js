// @ts-check
/**
 * The ops console's reconciliation and audit panels (loaded before ops.js, which hands them its
 * helpers through `window.concordOpsPanels(api)`). Both use only the public GraphQL API:
 *
 *   reconciliation  reconciliationReport (drifts with each system's values side by side),
 *                   runReconciliation ("Run now") and repairDrift (one drift, or a selection, one
 *                   mutation each, with each outcome shown); drifts Concord cannot repair are
 *                   marked "Needs a person" with what to do.
 *   audit trail     operatorActions: who did what, to what, when, under which correlation id, and
 *                   how it ended.
 */
(() => {
  'use strict';

  const DRIFT_FIELDS = 'id kind system subjectType subjectId detail detectedAt values { system field value } repairable humanAction repair { status action humanAction run { id status outcome } }';
  const REPORT_QUERY = `query OpsReconciliation {
    reconciliationReport { id status trigger startedAt finishedAt checked driftCount truncated error counts { customers contracts invoices } drifts(first: 200) { ${DRIFT_FIELDS} } }
  }`;
  const RUN_NOW = 'mutation OpsRunReconciliation { runReconciliation { id status driftCount } }';
  const REPAIR = `mutation OpsRepairDrift($id: ID!) { repairDrift(driftId: $id) { ${DRIFT_FIELDS} } }`;
  const AUDIT_QUERY = `query OpsAudit($first: Int, $subject: String) {
    operatorActions(first: $first, subject: $subject) { edges { node { id action subject target correlationId at status code detail } } pageInfo { hasNextPage endCursor } }
  }`;
  const SYSTEMS = ['CRM', 'BILLING', 'ERP'];
  const ACTION_LABELS = { RETRY_RUN: 'Retry run', CANCEL_RUN: 'Cancel run', RUN_RECONCILIATION: 'Run reconciliation', REPAIR_DRIFT: 'Repair drift' };

  /** @param {any} api */
  window.concordOpsPanels = (api) => {
    const { h, gql, toast, ago, fmt, canWrite, statusBadge, duration, stat, fail } = api;
    /** @type {{ report: any, problem: string | null, selected: Set<string>, pending: Set<string>, outcomes: Map<string, string>, running: boolean, audit: any[], auditSubject: string }} */
    const panel = { report: null, problem: null, selected: new Set(), pending: new Set(), outcomes: new Map(), running: false, audit: [], auditSubject: '' };
    const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

    async function refresh() {
      try {
        const { data, errors } = await gql(REPORT_QUERY);
        panel.report = data.reconciliationReport ?? null;
        panel.problem = errors.length && !data.reconciliationReport ? `Reconciliation unavailable: ${errors[0].message}` : null;
      } catch (error) {
        panel.problem = `Reconciliation unavailable: ${error instanceof Error ? error.message : String(error)}`;
      }
      try {
        const { data } = await gql(AUDIT_QUERY, { first: 25, subject: panel.auditSubject || null });
        panel.audit = data.operatorActions?.edges.map((/** @type {any} */ e) => e.node) ?? [];
      } catch {
        /* the overview's error handling has said what is wrong */
      }
      render();
    }

    function render() {
      renderReconciliation();
      renderAudit();
    }

    async function runNow() {
      panel.running = true;
      render();
      try {
        const { data, errors } = await gql(RUN_NOW);
        if (errors.length) throw new Error(`${errors[0].extensions?.code ?? 'ERROR'}: ${errors[0].message}`);
        const report = data.runReconciliation;
        toast(report.status === 'RUNNING' ? 'Reconciliation started' : `Reconciliation ${report.status.toLowerCase()}: ${fmt.format(report.driftCount)} drift(s)`);
        panel.selected.clear();
        panel.outcomes.clear();
      } catch (error) {
        fail(error);
      } finally {
        panel.running = false;
        await refresh();
      }
    }

    /** Repair drifts one mutation each (the same repairDrift as the API), and show each outcome. */
    async function repair(/** @type {string[]} */ ids) {
      for (const id of ids) panel.pending.add(id);
      render();
      await Promise.all(
        ids.map(async (id) => {
          try {
            const { data, errors } = await gql(REPAIR, { id });
            if (errors.length) throw new Error(`${errors[0].extensions?.code ?? 'ERROR'}: ${errors[0].message}`);
            const drift = data.repairDrift;
            panel.outcomes.set(id, drift.repair.run?.outcome ?? drift.repair.status.replace(/_/g, ' ').toLowerCase());
            replaceDrift(drift);
          } catch (error) {
            panel.outcomes.set(id, `failed: ${error instanceof Error ? error.message : String(error)}`);
          } finally {
            panel.pending.delete(id);
            panel.selected.delete(id);
          }
        }),
      );
      toast(ids.length === 1 ? 'Repair sent' : `${ids.length} repairs sent`);
      await refresh();
    }

    function replaceDrift(/** @type {any} */ drift) {
      if (!panel.report) return;
      panel.report.drifts = panel.report.drifts.map((/** @type {any} */ d) => (d.id === drift.id ? drift : d));
    }

    function reportBadge(/** @type {any} */ report) {
      const [css, text] = report.status === 'RUNNING' ? ['s-RUNNING', 'RUNNING']
        : report.status === 'FAILED' ? ['s-FAILED', 'FAILED']
        : report.driftCount === 0 ? ['s-COMPLETED', 'IN STEP']
        : ['s-WAITING_RETRY', `${fmt.format(report.driftCount)} DRIFT${report.driftCount === 1 ? '' : 'S'}`];
      return h('span', { class: `status ${css}`, 'data-report-status': report.status }, text);
    }

    /** The drift's values side by side: one column per system, each with its fields and values (— none —: no such record there). */
    function valuesTable(/** @type {any} */ drift) {
      const systems = SYSTEMS.filter((s) => drift.values.some((/** @type {any} */ v) => v.system === s));
      if (!systems.length) return null;
      return h('table', { class: 'values' },
        h('thead', null, h('tr', null, systems.map((s) => h('th', { class: s === drift.system ? 'off' : '' }, s === drift.system ? `${s} (out of step)` : s)))),
        h('tbody', null, h('tr', null, systems.map((system) =>
          h('td', { class: `mono${system === drift.system ? ' off' : ''}`, 'data-system': system },
            drift.values.filter((/** @type {any} */ v) => v.system === system).map((/** @type {any} */ v) =>
              h('div', { class: 'value', 'data-field': v.field }, h('span', { class: 'field' }, `${v.field}: `), v.value ?? '— none —'))),
        ))),
      );
    }

    function repairCell(/** @type {any} */ drift) {
      const status = drift.repair.status;
      const outcome = panel.outcomes.get(drift.id) ?? drift.repair.run?.outcome ?? null;
      if (status === 'NEEDS_HUMAN') {
        return h('div', { class: 'repair', 'data-repair-status': status, 'data-needs-human': '' },
          h('span', { class: 'status s-COMPENSATING' }, 'NEEDS A PERSON'),
          h('div', { class: 'human' }, drift.humanAction ?? drift.repair.humanAction ?? 'Concord cannot repair this one'));
      }
      const busy = panel.pending.has(drift.id);
      const done = status === 'REPAIRED' || status === 'IN_PROGRESS';
      return h('div', { class: 'repair', 'data-repair-status': status },
        status === 'NOT_STARTED' ? null : statusBadge(status),
        done ? null : h('button', {
          type: 'button',
          class: 'button primary small',
          'data-action': 'repair',
          'data-drift-id': drift.id,
          disabled: busy || !canWrite(),
          title: canWrite() ? `Repair: ${drift.repair.action}` : 'Needs ops:write',
          onclick: () => void repair([drift.id]),
        }, busy ? 'Repairing…' : status === 'FAILED' ? 'Repair again' : 'Repair'),
        outcome ? h('div', { class: 'outcome' }, outcome) : null,
      );
    }

    function renderReconciliation() {
      const container = $('reconciliation');
      const runButton = /** @type {HTMLButtonElement} */ ($('run-reconciliation'));
      runButton.disabled = panel.running || !canWrite() || panel.report?.status === 'RUNNING';
      runButton.title = canWrite() ? 'Compare CRM, billing and ERP now' : 'Needs ops:write';
      runButton.textContent = panel.running || panel.report?.status === 'RUNNING' ? 'Running…' : 'Run now';
      const report = panel.report;
      if (panel.problem) return container.replaceChildren(h('p', { class: 'empty' }, panel.problem));
      if (!report) return container.replaceChildren(h('p', { class: 'empty' }, 'No reconciliation has run yet.'));
      const took = report.finishedAt ? duration(Date.parse(report.finishedAt) - Date.parse(report.startedAt)) : 'running';
      const repairable = report.drifts.filter((/** @type {any} */ d) => d.repair.status === 'NOT_STARTED' || d.repair.status === 'FAILED');
      for (const id of [...panel.selected]) if (!repairable.some((/** @type {any} */ d) => d.id === id)) panel.selected.delete(id);
      const needsHuman = report.drifts.filter((/** @type {any} */ d) => d.repair.status === 'NEEDS_HUMAN').length;
      container.replaceChildren(
        h('div', { class: 'recon-summary' },
          h('div', { class: 'letter-head' }, h('div', null, reportBadge(report), ' ', h('span', { class: 'run-sub' }, report.id)), h('div', { class: 'letter-time' }, `${report.trigger.toLowerCase()} · ${ago(report.startedAt)} · ${took}`)),
          h('div', { class: 'facts' },
            h('div', { class: 'fact' }, stat('Records checked', fmt.format(report.checked))),
            h('div', { class: 'fact' }, stat('Drifts', fmt.format(report.driftCount), report.driftCount > 0)),
            h('div', { class: 'fact' }, stat('Need a person', fmt.format(needsHuman), needsHuman > 0)),
          ),
          report.error ? h('p', { class: 'tl-error' }, report.error) : null,
        ),
        report.drifts.length
          ? h('div', { class: 'drifts' },
              h('div', { class: 'drift-tools' },
                h('label', { class: 'check' },
                  h('input', { type: 'checkbox', id: 'select-all-drifts', disabled: !repairable.length || !canWrite(), checked: repairable.length > 0 && panel.selected.size === repairable.length,
                    onchange: (/** @type {Event} */ e) => { const on = /** @type {HTMLInputElement} */ (e.target).checked; panel.selected = new Set(on ? repairable.map((/** @type {any} */ d) => d.id) : []); render(); } }),
                  ' Select all repairable'),
                h('button', { type: 'button', class: 'button small', id: 'repair-selected', disabled: !panel.selected.size || !canWrite(), onclick: () => void repair([...panel.selected]) }, `Repair selected (${panel.selected.size})`),
              ),
              report.drifts.map((/** @type {any} */ d) =>
                h('article', { class: `drift${d.repair.status === 'NEEDS_HUMAN' ? ' human' : ''}`, 'data-drift-id': d.id, 'data-drift-kind': d.kind },
                  h('div', { class: 'drift-head' },
                    d.repair.status === 'NOT_STARTED' || d.repair.status === 'FAILED'
                      ? h('input', { type: 'checkbox', 'aria-label': `select ${d.id}`, 'data-select-drift': d.id, disabled: !canWrite(), checked: panel.selected.has(d.id),
                          onchange: (/** @type {Event} */ e) => { if (/** @type {HTMLInputElement} */ (e.target).checked) panel.selected.add(d.id); else panel.selected.delete(d.id); render(); } })
                      : null,
                    h('span', { class: 'code' }, d.kind),
                    h('span', { class: 'code neutral' }, d.system),
                    h('span', { class: 'mono subject' }, `${d.subjectType.toLowerCase()} ${d.subjectId}`),
                  ),
                  h('div', { class: 'drift-detail' }, d.detail),
                  valuesTable(d),
                  repairCell(d),
                ),
              ),
              report.truncated ? h('p', { class: 'empty' }, 'More drifts were found than the report holds.') : null,
            )
          : h('p', { class: 'empty' }, 'The three systems agree.'),
      );
    }

    function renderAudit() {
      const body = /** @type {HTMLElement} */ ($('audit').querySelector('tbody'));
      body.replaceChildren(
        ...panel.audit.map((a) =>
          h('tr', { 'data-audit-id': a.id, 'data-audit-action': a.action, 'data-audit-subject': a.subject, 'data-audit-target': a.target ?? '' },
            h('td', { 'data-label': 'When', title: a.at }, ago(a.at)),
            h('td', { 'data-label': 'Who' }, h('strong', null, a.subject)),
            h('td', { 'data-label': 'Action' }, ACTION_LABELS[a.action] ?? a.action),
            h('td', { 'data-label': 'Target', class: 'mono' }, a.target ?? '–'),
            h('td', { 'data-label': 'Outcome' }, h('span', { class: `status ${a.status === 'SUCCEEDED' ? 's-COMPLETED' : 's-FAILED'}`, 'data-audit-status': a.status }, a.status === 'SUCCEEDED' ? 'OK' : a.code ?? 'FAILED'), ' ', h('span', { class: 'outcome' }, a.detail ?? '')),
            h('td', { 'data-label': 'Correlation', class: 'mono' }, a.correlationId),
          ),
        ),
      );
      $('audit-empty').hidden = panel.audit.length > 0;
    }

    function boot() {
      $('run-reconciliation').addEventListener('click', () => void runNow());
      const filter = /** @type {HTMLInputElement} */ ($('audit-subject'));
      let timer = /** @type {any} */ (null);
      filter.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(() => { panel.auditSubject = filter.value.trim(); void refresh(); }, 300);
      });
    }

    return { refresh, render, boot };
  };
})();
