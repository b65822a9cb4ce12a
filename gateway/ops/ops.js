// @ts-check
/**
 * Concord operations console. Everything shown comes from the gateway's own GraphQL API (POST
 * /graphql) and subscriptions (graphql-ws on /graphql), with the operator's bearer token: there is
 * no other back end. The token comes from the URL fragment (#token=..., which browsers never send to
 * a server; it is removed from the address bar at once) or is pasted, and stays in sessionStorage.
 *
 *   runs           opsRuns (every kind, from the run stores: filters by kind and status, search by
 *                  customer, deal, run or correlation id, paged), then
 *                  businessEvents(RUN_STATUS_CHANGED) keeps order-to-cash rows current
 *   dead letters   deadLetters and workflowRuns(DEAD_LETTERED), with retry/cancel (ops:write)
 *   everything     opsOverview (runs per status, backlog, vendor limits, hotspots, timeline),
 *   else           polled every few seconds (?poll=ms overrides); reconciliation and the audit
 *                  trail are ops-panels.js
 */
(() => {
  'use strict';

  const TOKEN_KEY = 'concord.ops.token';
  const STEP_NAMES = ['readOpportunity', 'erpCustomer', 'billingCustomer', 'contract', 'invoice', 'erpPosting', 'crmWriteBack'];
  const STEP_LABELS = {
    readOpportunity: 'Read deal',
    erpCustomer: 'ERP customer',
    billingCustomer: 'Billing customer',
    contract: 'Subscription',
    invoice: 'Invoice',
    erpPosting: 'ERP posting',
    crmWriteBack: 'CRM write-back',
  };
  const SETTLED = new Set(['COMPLETED', 'COMPENSATED', 'DEAD_LETTERED']);
  const params = new URLSearchParams(location.search);
  const POLL_MS = Math.max(500, Number(params.get('poll')) || 5000);
  const MAX_RUNS = 50;

  const STEP_FIELDS = 'name system status attempts startedAt finishedAt nextAttemptAt lastError { code message retryable }';
  const RUN_FIELDS = `id opportunityId correlationId status createdAt updatedAt steps { ${STEP_FIELDS} }`;
  const DEAD_FIELDS = 'deadLetter { step duringCompensation deadLetteredAt error { code message retryable system } }';
  const KIND_LABELS = { ORDER_TO_CASH: 'Order to cash', CUSTOMER_SYNC: 'Customer sync', CONTRACT_AMENDMENT: 'Amendment', DRIFT_REPAIR: 'Repair' };
  /** Customer names come from the CRM through the gateway when the token may read customers. */
  const opsRunFields = () => `id kind status correlationId opportunityId customerName amount currency outcome createdAt updatedAt steps { ${STEP_FIELDS} } ${DEAD_FIELDS} customer { id${scopes().includes('customers:read') ? ' name' : ''} }`;
  const OVERVIEW_QUERY = `query OpsConsole {
    opsOverview {
      generatedAt sampleIntervalSeconds deadLetters
      runs { status count }
      backlog { system waiting active delayed }
      vendors { system vendor callsLastMinute errorsLastMinute rateLimitedLastMinute p95LatencyMs callsTotal limit { kind used max source } }
      hotspots(first: 8) { step system vendor code openDeadLetters failedAttempts lastSeenAt }
      vendorErrors(first: 6) { vendor operation status calls }
      timeline(minutes: 30) { ...Sample }
      lastMinute { ...Sample }
    }
    deadLetters(first: 50) { edges { node { id step duringCompensation deadLetteredAt state error { code message retryable system } run { ${RUN_FIELDS} } } } }
  }
  fragment Sample on OpsSample { at requestsPerSecond errorsPerSecond latencyP50Ms latencyP95Ms vendorCallsPerSecond runsCompleted runsDeadLettered backlog deadLetters }`;
  const runsQuery = () => `query OpsRuns($kind: OpsRunKind, $status: RunStatus, $search: String, $first: Int, $after: String) {
    opsRuns(kind: $kind, status: $status, search: $search, first: $first, after: $after) { edges { node { ${opsRunFields()} } } pageInfo { hasNextPage endCursor } }
    workflowLetters: opsRuns(status: DEAD_LETTERED, kind: null, first: 50) { edges { node { ${opsRunFields()} } } }
  }`;
  const RUN_EVENTS = `subscription OpsRunEvents { businessEvents(types: [RUN_STATUS_CHANGED]) { id occurredAt run { ${RUN_FIELDS} } } }`;

  /** @type {{ token: string | null, claims: any, runs: Map<string, any>, selected: string | null, filter: string, kind: string, search: string, limit: number, cursor: string | null, letters: any[], overview: any, charts: Record<string, any>, ws: any, unsubscribe: (() => void) | null, pollTimer: any, pending: Set<string>, confirming: string | null }} */
  const state = {
    token: null,
    claims: null,
    runs: new Map(),
    selected: null,
    filter: 'ALL',
    kind: '',
    search: '',
    limit: MAX_RUNS,
    cursor: null,
    letters: [],
    overview: null,
    charts: {},
    ws: null,
    unsubscribe: null,
    pollTimer: null,
    pending: new Set(),
    confirming: null,
  };

  // ---------------------------------------------------------------------------------------------
  // DOM helpers: elements are built with textContent only (no HTML from data, ever).

  /** @param {string} id */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

  /**
   * @param {string} tag
   * @param {Record<string, any> | null} [attrs]
   * @param {...any} children
   */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'style') Object.assign(el.style, value);
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const fmt = new Intl.NumberFormat('en-US');
  const num = (/** @type {number} */ n, digits = 0) => (n === null || n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 }));

  function ago(/** @type {string | null} */ iso) {
    if (!iso) return '–';
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 5) return 'just now';
    if (seconds < 60) return `${Math.floor(seconds)}s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
    return `${Math.floor(seconds / 86400)}d ago`;
  }

  function duration(/** @type {number} */ ms) {
    if (!Number.isFinite(ms) || ms < 0) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
    return `${Math.floor(ms / 3_600_000)}h ${Math.round((ms % 3_600_000) / 60_000)}m`;
  }

  const statusBadge = (/** @type {string} */ status) => h('span', { class: `status s-${status}`, 'data-status': status }, status.replace(/_/g, ' '));
  const shortId = (/** @type {string} */ id) => (id.length > 18 ? `${id.slice(0, 10)}…${id.slice(-6)}` : id);

  function toast(/** @type {string} */ message, error = false) {
    const el = h('div', { class: `toast${error ? ' error' : ''}` }, message);
    $('toasts').append(el);
    setTimeout(() => el.remove(), error ? 8000 : 4000);
  }

  // ---------------------------------------------------------------------------------------------
  // The token and the API

  function decodeClaims(/** @type {string} */ token) {
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const binary = atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), '='));
      return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    } catch {
      return null;
    }
  }

  const scopes = () => String(state.claims?.scope ?? '').split(/\s+/).filter(Boolean);
  const canWrite = () => scopes().includes('ops:write');

  class ApiError extends Error {
    constructor(/** @type {string} */ message, /** @type {number} */ status, /** @type {string | undefined} */ code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** @returns {Promise<{ data: any, errors: any[] }>} */
  async function gql(/** @type {string} */ query, /** @type {Record<string, unknown>} */ variables = {}) {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${state.token}`, 'x-correlation-id': `ops-console-${Math.random().toString(36).slice(2, 12)}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) throw new ApiError('The token was refused (expired or invalid).', 401, 'UNAUTHENTICATED');
    if (!response.ok && !body.data) {
      const first = body.errors?.[0];
      throw new ApiError(first?.message ?? `HTTP ${response.status}`, response.status, first?.extensions?.code);
    }
    return { data: body.data ?? {}, errors: body.errors ?? [] };
  }

  function signOut(/** @type {string} */ reason = '') {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.claims = null;
    stopLive();
    $('console').hidden = true;
    $('signin').hidden = false;
    $('sign-out').hidden = true;
    $('who').textContent = '';
    $('token-error').textContent = reason;
    setLive('offline', 'Offline');
  }

  function fail(/** @type {unknown} */ error) {
    if (error instanceof ApiError && error.status === 401) return signOut(error.message);
    if (error instanceof ApiError && error.status === 403) return signOut('This token lacks the ops:read scope.');
    toast(error instanceof Error ? error.message : String(error), true);
  }

  // ---------------------------------------------------------------------------------------------
  // Runs

  function upsertRun(/** @type {any} */ run, flash = false) {
    if (!run?.id) return;
    const known = state.runs.get(run.id);
    // Events may arrive out of order across replicas: keep the newest state.
    if (known && Date.parse(known.updatedAt) > Date.parse(run.updatedAt)) return;
    state.runs.set(run.id, { kind: 'ORDER_TO_CASH', ...known, ...run, _flash: flash && (!known || known.status !== run.status || JSON.stringify(known.steps) !== JSON.stringify(run.steps)) });
    if (state.runs.size > state.limit * 2) {
      const oldest = [...state.runs.values()].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))[0];
      if (oldest && oldest.id !== state.selected) state.runs.delete(oldest.id);
    }
  }

  const matchesStatus = (/** @type {any} */ run) =>
    state.filter === 'ALL' ||
    (state.filter === 'ACTIVE' && !SETTLED.has(run.status)) ||
    run.status === state.filter;

  /** The same rules as opsRuns applies on the server, for rows that arrive live. */
  function visible(/** @type {any} */ run) {
    if (!matchesStatus(run)) return false;
    if (state.kind && run.kind !== state.kind) return false;
    const text = state.search.toLowerCase();
    if (!text) return true;
    return [run.id, run.correlationId, run.opportunityId, run.customerName, run.customer?.id, run.customer?.name].some((v) => typeof v === 'string' && v.toLowerCase().includes(text));
  }

  const customerLabel = (/** @type {any} */ run) => run.customer?.name ?? run.customerName ?? run.customer?.id ?? '–';
  const money = (/** @type {any} */ run) => {
    if (run.amount === null || run.amount === undefined) return '–';
    const value = Number(run.amount);
    try {
      return new Intl.NumberFormat('en-US', { style: 'currency', currency: run.currency || 'USD' }).format(value);
    } catch {
      return `${run.amount} ${run.currency ?? ''}`.trim();
    }
  };

  function renderRuns() {
    const runs = [...state.runs.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).filter(visible).slice(0, state.limit);
    const tbody = /** @type {HTMLTableSectionElement} */ ($('runs').querySelector('tbody'));
    tbody.replaceChildren(
      ...runs.map((run) => {
        const attempts = run.steps.reduce((n, s) => n + s.attempts, 0);
        const end = SETTLED.has(run.status) ? Date.parse(run.updatedAt) : Date.now();
        const row = h(
          'tr',
          { 'data-run-id': run.id, 'data-status': run.status, class: [run.id === state.selected ? 'selected' : '', run._flash ? 'flash' : ''].join(' ').trim(), onclick: () => selectRun(run.id) },
          h('td', { 'data-label': 'Run' }, h('div', { class: 'run-kind', 'data-kind': run.kind }, KIND_LABELS[run.kind] ?? run.kind), h('div', { class: 'run-id', title: run.id }, shortId(run.id))),
          h('td', { 'data-label': 'Customer' }, h('div', { class: 'run-customer' }, customerLabel(run)), h('div', { class: 'run-sub' }, run.opportunityId ? `deal ${run.opportunityId}` : '')),
          h('td', { 'data-label': 'Amount', class: 'num' }, money(run)),
          h('td', { 'data-label': 'Status' }, statusBadge(run.status)),
          h('td', { 'data-label': 'Steps' }, stepStrip(run)),
          h('td', { 'data-label': 'Attempts', class: 'num' }, String(attempts)),
          h('td', { 'data-label': 'Age', class: 'num', title: run.createdAt }, duration(end - Date.parse(run.createdAt))),
          h('td', { 'data-label': 'Updated', class: 'num', title: run.updatedAt }, ago(run.updatedAt)),
        );
        run._flash = false;
        return row;
      }),
    );
    $('runs-empty').hidden = runs.length > 0;
    $('runs-more').hidden = !state.cursor;
  }

  function stepStrip(/** @type {any} */ run) {
    return h(
      'div',
      { class: 'steps', 'aria-label': 'steps' },
      (run.kind === 'ORDER_TO_CASH' ? STEP_NAMES : run.steps.map((/** @type {any} */ s) => s.name)).map((/** @type {string} */ name) => {
        const step = run.steps.find((/** @type {any} */ s) => s.name === name) ?? { status: 'PENDING', attempts: 0 };
        const tip = `${STEP_LABELS[name] ?? name}: ${step.status}${step.attempts > 1 ? ` (${step.attempts} attempts)` : ''}${step.lastError ? ` — ${step.lastError.code}` : ''}`;
        return h('span', { class: `step-seg ${step.status}`, title: tip, 'data-step': name, 'data-step-status': step.status });
      }),
    );
  }

  function selectRun(/** @type {string} */ id) {
    state.selected = id;
    renderRuns();
    renderDetail();
  }

  function renderDetail() {
    const container = $('run-detail');
    const run = state.selected ? state.runs.get(state.selected) : null;
    if (!run) {
      container.replaceChildren(h('p', { class: 'empty' }, 'Select a run to see its step timeline.'));
      $('detail-note').textContent = '';
      return;
    }
    const start = Date.parse(run.createdAt);
    const times = run.steps.flatMap((s) => [s.startedAt, s.finishedAt].filter(Boolean).map((t) => Date.parse(t)));
    const end = Math.max(start + 1, SETTLED.has(run.status) ? Date.parse(run.updatedAt) : Date.now(), ...times);
    const span = end - start;
    const pct = (/** @type {number} */ t) => `${Math.min(100, Math.max(0, ((t - start) / span) * 100)).toFixed(2)}%`;
    const rows = run.steps.map((step) => {
      const from = step.startedAt ? Date.parse(step.startedAt) : null;
      const to = step.finishedAt ? Date.parse(step.finishedAt) : step.status === 'RUNNING' || step.status === 'WAITING_RETRY' ? end : from;
      const bar = from === null
        ? null
        : h('div', { class: `tl-bar ${step.status}`, style: { left: pct(from), width: `calc(${pct(to ?? from)} - ${pct(from)})` } });
      const info = step.status === 'PENDING' ? 'pending' : `${from !== null && to !== null ? duration(to - from) : ''}${step.attempts > 1 ? ` · ${step.attempts}×` : ''}`;
      return [
        h('div', { class: 'tl-row', 'data-step': step.name, 'data-step-status': step.status },
          h('div', { class: 'tl-name' }, STEP_LABELS[step.name] ?? step.name, h('span', { class: 'sys' }, step.system)),
          h('div', { class: 'tl-track', title: `${step.name}: ${step.status}` }, bar),
          h('div', { class: 'tl-info' }, info),
        ),
        step.lastError && step.status !== 'SUCCEEDED'
          ? h('div', { class: 'tl-row' }, h('div'), h('div', { class: 'tl-error' }, `${step.lastError.code}: ${step.lastError.message}${step.nextAttemptAt ? ` — next attempt ${ago(step.nextAttemptAt).replace(' ago', '')}` : ''}`))
          : null,
      ];
    });
    container.replaceChildren(
      h('div', { class: 'detail-head' },
        h('div', null,
          h('div', null, statusBadge(run.status), ' ', h('span', { class: 'run-id' }, run.id)),
          h('div', { class: 'meta' }, [
            KIND_LABELS[run.kind] ?? run.kind,
            `customer ${customerLabel(run)}`,
            run.opportunityId ? `deal ${run.opportunityId}` : null,
            run.amount ? money(run) : null,
            `correlation ${run.correlationId}`,
            `started ${new Date(start).toLocaleTimeString()}`,
            run.outcome ? `outcome: ${run.outcome}` : null,
          ].filter(Boolean).join(' · ')),
        ),
        actionButtons(run, 'detail'),
      ),
      h('div', { class: 'timeline' }, rows.flat()),
      h('div', { class: 'tl-axis' }, h('span', null, '0 s'), h('span', null, duration(span))),
    );
    $('detail-note').textContent = SETTLED.has(run.status) ? `took ${duration(span)}` : 'live';
  }

  // ---------------------------------------------------------------------------------------------
  // Dead letters and operator actions

  function actionButtons(/** @type {any} */ run, /** @type {string} */ where) {
    const retryable = run.status === 'DEAD_LETTERED' || run.status === 'WAITING_RETRY';
    const cancellable = !['COMPENSATING', 'COMPENSATED'].includes(run.status);
    if (!retryable && !(where === 'letter' && cancellable)) return h('div', { class: 'detail-actions' });
    const busy = state.pending.has(run.id);
    const why = canWrite() ? null : 'Needs ops:write';
    const confirming = state.confirming === `${where}:${run.id}`;
    return h('div', { class: 'detail-actions' },
      retryable
        ? h('button', { type: 'button', class: 'button primary small', 'data-action': 'retry', 'data-run-id': run.id, disabled: busy || !canWrite(), title: why ?? 'Redrive from the failed step; finished steps are not redone', onclick: (/** @type {Event} */ e) => { e.stopPropagation(); void act('retry', run.id); } }, busy ? 'Working…' : run.status === 'WAITING_RETRY' ? 'Retry now' : 'Retry')
        : null,
      cancellable
        ? h('button', {
            type: 'button',
            class: `button danger small${confirming ? ' confirm' : ''}`,
            'data-action': 'cancel',
            'data-run-id': run.id,
            disabled: busy || !canWrite(),
            title: why ?? 'Undo what the run did, newest first',
            onclick: (/** @type {Event} */ e) => {
              e.stopPropagation();
              if (!confirming) {
                state.confirming = `${where}:${run.id}`;
                renderAll();
                setTimeout(() => { if (state.confirming === `${where}:${run.id}`) { state.confirming = null; renderAll(); } }, 4000);
                return;
              }
              state.confirming = null;
              void act('cancel', run.id);
            },
          }, confirming ? 'Confirm cancel' : 'Cancel')
        : null,
    );
  }

  async function act(/** @type {'retry' | 'cancel'} */ action, /** @type {string} */ runId) {
    // Workflow runs (wf_ ids) have their own mutations; both are audited under the caller's subject.
    const workflow = runId.startsWith('wf_');
    const fields = workflow ? `id kind status correlationId createdAt updatedAt steps { ${STEP_FIELDS} }` : RUN_FIELDS;
    const field = `${action}${workflow ? 'WorkflowRun' : 'OrderToCash'}`;
    const mutation = `mutation Ops${action === 'retry' ? 'Retry' : 'Cancel'}($id: ID!) { ${field}(runId: $id) { ${fields} } }`;
    state.pending.add(runId);
    renderAll();
    try {
      const { data, errors } = await gql(mutation, { id: runId });
      if (errors.length) throw new Error(`${errors[0].extensions?.code ?? 'ERROR'}: ${errors[0].message}`);
      const run = data[field];
      upsertRun(run, true);
      state.letters = state.letters.filter((l) => l.id !== runId);
      toast(action === 'retry' ? `Retry started for ${shortId(runId)}` : `Cancellation started for ${shortId(runId)}`);
      state.selected = runId;
    } catch (error) {
      fail(error);
    } finally {
      state.pending.delete(runId);
      renderAll();
      void refreshOverview();
    }
  }

  function renderLetters() {
    const container = $('dead-letters');
    const count = $('dead-count');
    count.textContent = String(state.letters.length);
    count.classList.toggle('alert', state.letters.length > 0);
    if (!state.letters.length) {
      container.replaceChildren(h('p', { class: 'empty' }, 'No dead letters. Every run is flowing or finished.'));
      return;
    }
    container.replaceChildren(
      ...state.letters.map((letter) => {
        const run = state.runs.get(letter.id) ?? letter.run;
        let pretty = letter.state;
        try {
          pretty = JSON.stringify(JSON.parse(letter.state), null, 2);
        } catch {
          /* shown as it is */
        }
        return h('article', { class: `letter${state.pending.has(letter.id) ? ' working' : ''}`, 'data-dead-letter-id': letter.id, 'data-kind': letter.kind },
          h('div', { class: 'letter-head' },
            h('div', { class: 'letter-title' }, `${STEP_LABELS[letter.step] ?? letter.step} failed`, letter.duringCompensation ? ' while undoing' : '', ' · ', h('span', { class: 'run-id' }, shortId(letter.id))),
            h('div', { class: 'letter-time', title: letter.deadLetteredAt }, ago(letter.deadLetteredAt)),
          ),
          h('div', { class: 'letter-error' },
            h('span', { class: 'code' }, letter.error.code),
            letter.error.system ? h('span', { class: 'code neutral' }, letter.error.system) : null,
            h('span', { class: 'letter-message' }, letter.error.message),
          ),
          h('div', { class: 'letter-meta' },
            h('span', null, KIND_LABELS[letter.kind] ?? letter.kind),
            h('span', null, `Customer ${customerLabel(run)}`),
            run.opportunityId ? h('span', null, `Deal ${run.opportunityId}`) : null,
            run.amount ? h('span', null, money(run)) : null,
            h('span', null, `Correlation ${run.correlationId}`),
            h('span', null, letter.error.retryable ? 'Retryable' : 'Not retryable as it stands: fix the cause, then retry'),
          ),
          h('details', null, h('summary', null, 'Preserved state'), h('pre', { class: 'mono' }, pretty)),
          h('div', { class: 'letter-actions' }, canWrite() ? null : h('span', { class: 'why' }, 'Retry and cancel need ops:write'), actionButtons({ ...run, status: 'DEAD_LETTERED' }, 'letter')),
        );
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Overview: KPIs, vendors, hotspots, charts, reconciliation

  function renderKpis() {
    const o = state.overview;
    if (!o) return;
    const count = (/** @type {string} */ status) => o.runs.find((r) => r.status === status)?.count ?? 0;
    const inFlight = count('PENDING') + count('RUNNING') + count('WAITING_RETRY') + count('COMPENSATING');
    // Order-to-cash dead letters counted by the store, workflow ones (amendments, syncs, repairs) as listed.
    const dead = o.deadLetters + state.letters.filter((l) => l.kind !== 'ORDER_TO_CASH').length;
    const backlog = o.backlog.reduce((n, lane) => n + lane.waiting + lane.active + lane.delayed, 0);
    // Rates over the last minute, so that one quiet sample does not show as zero.
    const last = o.lastMinute;
    const tile = (/** @type {string} */ label, /** @type {string} */ value, /** @type {string} */ sub, /** @type {string} */ tone, /** @type {string} */ key) =>
      h('div', { class: `kpi ${tone}`, 'data-kpi': key }, h('div', { class: 'kpi-label' }, label), h('div', { class: 'kpi-value' }, value), h('div', { class: 'kpi-sub' }, sub));
    $('kpis').replaceChildren(
      tile('In flight', fmt.format(inFlight), `${fmt.format(count('WAITING_RETRY'))} waiting to retry`, 'run', 'inflight'),
      tile('Completed', fmt.format(count('COMPLETED')), `${fmt.format(count('COMPENSATED'))} compensated`, 'ok', 'completed'),
      tile('Dead letters', fmt.format(dead), dead ? 'need an operator' : 'none open', `dead${dead ? ' nonzero' : ''}`, 'dead'),
      tile('Backlog', fmt.format(backlog), o.backlog.map((l) => `${l.system} ${l.waiting + l.delayed + l.active}`).join(' · '), 'wait', 'backlog'),
      tile('Gateway p95', last?.latencyP95Ms != null ? `${num(last.latencyP95Ms, 1)} ms` : '–', last?.latencyP50Ms != null ? `p50 ${num(last.latencyP50Ms, 1)} ms · last minute` : 'no requests in the last minute', 'run', 'p95'),
      tile('Requests', last ? `${num(last.requestsPerSecond, 1)}/s` : '–', last ? `${num(last.errorsPerSecond, 2)} errors/s` : 'collecting', 'ok', 'rps'),
      tile('Vendor calls', last ? `${num(last.vendorCallsPerSecond, 1)}/s` : '–', `${fmt.format(o.vendors.reduce((n, v) => n + v.callsLastMinute, 0))} in the last minute`, 'run', 'vendor'),
    );
  }

  const VENDOR_NAMES = { salesforce: 'Salesforce', stripe: 'Stripe', netsuite: 'NetSuite' };
  const LIMIT_TEXT = {
    DAILY_REQUESTS: 'API requests in the last 24 h',
    REQUESTS_PER_SECOND: 'Requests per second, busiest second of the last minute',
    CONCURRENT_REQUESTS: 'Requests in flight, busiest second of the last minute',
  };

  function renderVendors() {
    const o = state.overview;
    if (!o) return;
    $('vendors').replaceChildren(
      ...o.vendors.map((v) => {
        const ratio = v.limit && v.limit.max > 0 ? v.limit.used / v.limit.max : null;
        const tone = ratio === null ? '' : ratio >= 0.85 ? 'high' : ratio >= 0.6 ? 'warn' : '';
        return h('div', { class: 'vendor', 'data-vendor': v.vendor },
          h('div', { class: 'vendor-head' },
            h('div', null, h('span', { class: 'vendor-name' }, VENDOR_NAMES[v.vendor] ?? v.vendor), h('span', { class: 'vendor-system' }, v.system)),
            h('div', { class: 'vendor-ratio' }, ratio === null ? 'limit not reported yet' : `${num(ratio * 100, 1)}%`),
          ),
          h('div', { class: 'meter' }, h('div', { class: `meter-fill ${tone}`, style: { width: `${Math.min(100, (ratio ?? 0) * 100)}%` } })),
          h('div', { class: 'vendor-limit', title: v.limit?.source ?? '' },
            v.limit ? `${num(v.limit.used, 2)} of ${num(v.limit.max)} — ${LIMIT_TEXT[v.limit.kind] ?? v.limit.kind}` : 'Reported on the first call'),
          h('div', { class: 'vendor-stats' },
            stat('Calls / min', fmt.format(v.callsLastMinute)),
            stat('Errors / min', fmt.format(v.errorsLastMinute), v.errorsLastMinute > 0),
            stat('429s / min', fmt.format(v.rateLimitedLastMinute), v.rateLimitedLastMinute > 0),
            stat('p95', v.p95LatencyMs == null ? '–' : `${num(v.p95LatencyMs, 0)} ms`),
          ),
        );
      }),
    );
  }

  const stat = (/** @type {string} */ label, /** @type {string} */ value, bad = false) =>
    h('div', null, h('div', { class: 'stat-label' }, label), h('div', { class: `stat-value${bad ? ' bad' : ''}` }, value));

  function renderHotspots() {
    const o = state.overview;
    if (!o) return;
    const body = /** @type {HTMLElement} */ ($('hotspots').querySelector('tbody'));
    body.replaceChildren(
      ...o.hotspots.map((spot) =>
        h('tr', { 'data-hotspot': `${spot.step}:${spot.code}` },
          h('td', { 'data-label': 'Step' }, STEP_LABELS[spot.step] ?? spot.step),
          h('td', { 'data-label': 'Vendor' }, VENDOR_NAMES[spot.vendor] ?? spot.vendor ?? spot.system ?? '–'),
          h('td', { 'data-label': 'Code' }, h('span', { class: 'code' }, spot.code)),
          h('td', { 'data-label': 'Open dead letters', class: 'num' }, fmt.format(spot.openDeadLetters)),
          h('td', { 'data-label': 'Failed attempts', class: 'num' }, fmt.format(spot.failedAttempts)),
          h('td', { 'data-label': 'Last seen', class: 'num', title: spot.lastSeenAt ?? '' }, ago(spot.lastSeenAt)),
        ),
      ),
    );
    $('hotspots-empty').hidden = o.hotspots.length > 0;
    const errors = /** @type {HTMLElement} */ ($('vendor-errors').querySelector('tbody'));
    errors.replaceChildren(
      ...o.vendorErrors.map((e) =>
        h('tr', null, h('td', null, VENDOR_NAMES[e.vendor] ?? e.vendor), h('td', { class: 'mono' }, e.operation), h('td', { class: 'num' }, e.status === 0 ? 'no answer' : String(e.status)), h('td', { class: 'num' }, fmt.format(e.calls))),
      ),
    );
    $('vendor-errors-empty').hidden = o.vendorErrors.length > 0;
  }

  // Charts (uPlot, served by the gateway itself)
  const AXIS = { stroke: '#8fa0bd', grid: { stroke: '#1a2644', width: 1 }, ticks: { stroke: '#223052', width: 1 }, font: '11px system-ui, sans-serif' };
  const CHARTS = {
    latency: { el: 'chart-latency', series: [['p50 ms', '#60a5fa', 'latencyP50Ms'], ['p95 ms', '#c084fc', 'latencyP95Ms']] },
    throughput: { el: 'chart-throughput', series: [['requests/s', '#34d399', 'requestsPerSecond'], ['vendor calls/s', '#5cc8ff', 'vendorCallsPerSecond'], ['errors/s', '#f87171', 'errorsPerSecond']] },
    backlog: { el: 'chart-backlog', series: [['queued jobs', '#fbbf24', 'backlog'], ['dead letters', '#f87171', 'deadLetters'], ['completed', '#34d399', 'runsCompleted']] },
  };

  function renderCharts() {
    const timeline = state.overview?.timeline ?? [];
    for (const [key, spec] of Object.entries(CHARTS)) {
      const el = $(spec.el);
      if (timeline.length < 2) {
        if (!el.querySelector('.chart-empty')) el.replaceChildren(h('div', { class: 'chart-empty' }, `Collecting samples (one every ${state.overview?.sampleIntervalSeconds ?? 5} s)…`));
        state.charts[key]?.destroy?.();
        delete state.charts[key];
        continue;
      }
      const data = [timeline.map((s) => Date.parse(s.at) / 1000), ...spec.series.map(([, , field]) => timeline.map((s) => s[field]))];
      const width = Math.max(240, el.clientWidth);
      if (!state.charts[key]) {
        el.replaceChildren();
        // @ts-ignore uPlot is a global from the served IIFE build
        state.charts[key] = new uPlot({
          width,
          height: 190,
          cursor: { drag: { x: false, y: false } },
          legend: { live: true },
          scales: { x: { time: true }, y: { range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [0, Math.max(1, max * 1.15)] } },
          axes: [{ ...AXIS, space: 60 }, { ...AXIS, size: 44 }],
          series: [{}, ...spec.series.map(([label, color]) => ({ label, stroke: color, width: 2, fill: `${color}1a`, points: { show: false }, spanGaps: true }))],
        }, data, el);
      } else {
        state.charts[key].setData(data);
        if (Math.abs(state.charts[key].width - width) > 4) state.charts[key].setSize({ width, height: 190 });
      }
    }
  }

  function renderAll() {
    renderKpis();
    renderRuns();
    renderDetail();
    renderLetters();
    renderVendors();
    renderHotspots();
    renderCharts();
  }

  // ---------------------------------------------------------------------------------------------
  // Data: polling for the overview, a subscription for runs

  // @ts-ignore concordOpsPanels is defined by ops-panels.js, loaded first
  const panels = window.concordOpsPanels({ h, gql, toast, ago, fmt, canWrite, statusBadge, duration, stat, fail });
  /** Whether this gateway serves the GraphQL IDE (development, or turned on). */
  let ide = false;

  /** The runs query's variables: status chips that are one status go to the server, "in flight" is several. */
  const runVariables = (/** @type {string | null} */ after, /** @type {number} */ first) => ({
    kind: state.kind || null,
    status: state.filter === 'ALL' || state.filter === 'ACTIVE' ? null : state.filter,
    search: state.search || null,
    first,
    after,
  });

  /** A workflow run's dead letter in the shape of deadLetters' (its preserved state: the steps). */
  const workflowLetter = (/** @type {any} */ run) => ({
    id: run.id,
    kind: run.kind,
    step: run.deadLetter.step,
    error: run.deadLetter.error,
    duringCompensation: run.deadLetter.duringCompensation,
    deadLetteredAt: run.deadLetter.deadLetteredAt,
    state: JSON.stringify({ kind: run.kind, customer: run.customer?.id ?? null, steps: run.steps }),
    run,
  });

  async function refreshOverview() {
    try {
      const [overview, runs] = await Promise.all([gql(OVERVIEW_QUERY), gql(runsQuery(), runVariables(null, state.limit))]);
      if (overview.data.opsOverview) state.overview = overview.data.opsOverview;
      const letters = (overview.data.deadLetters?.edges ?? []).map((/** @type {any} */ e) => ({ kind: 'ORDER_TO_CASH', ...e.node, run: { kind: 'ORDER_TO_CASH', ...e.node.run } }));
      const workflowLetters = (runs.data.workflowLetters?.edges ?? []).map((/** @type {any} */ e) => e.node).filter((/** @type {any} */ r) => r.kind !== 'ORDER_TO_CASH' && r.deadLetter).map(workflowLetter);
      if (overview.data.deadLetters || runs.data.workflowLetters) state.letters = [...letters, ...workflowLetters].sort((a, b) => Date.parse(b.deadLetteredAt) - Date.parse(a.deadLetteredAt));
      for (const letter of state.letters) upsertRun(letter.run);
      for (const edge of runs.data.opsRuns?.edges ?? []) upsertRun(edge.node);
      state.cursor = runs.data.opsRuns?.pageInfo.hasNextPage ? runs.data.opsRuns.pageInfo.endCursor : null;
      const problems = [...overview.errors, ...runs.errors];
      if (problems.some((e) => e.extensions?.code === 'FORBIDDEN')) toast('This token may not read some of the operations data (ops:read needed).', true);
      renderAll();
      $('footer').replaceChildren(
        h('span', null, `Updated ${new Date().toLocaleTimeString()} · every ${Math.round(POLL_MS / 100) / 10} s · figures of this gateway process, runs and dead letters of all`),
        h('span', null, 'Prometheus: ', h('a', { href: '/metrics' }, '/metrics'), ide ? ' · ' : '', ide ? h('a', { href: '/graphql', id: 'ide-link' }, 'GraphQL IDE') : ''),
      );
    } catch (error) {
      fail(error);
    }
    await panels.refresh();
  }

  /** The next page of runs (older ones) for the current filters. */
  async function loadMore() {
    if (!state.cursor) return;
    try {
      const { data } = await gql(runsQuery(), runVariables(state.cursor, MAX_RUNS));
      const edges = data.opsRuns?.edges ?? [];
      state.limit += edges.length;
      for (const edge of edges) upsertRun(edge.node);
      state.cursor = data.opsRuns?.pageInfo.hasNextPage ? data.opsRuns.pageInfo.endCursor : null;
      renderRuns();
    } catch (error) {
      fail(error);
    }
  }

  /** New filters: the list is read again from the store. */
  function refilter() {
    state.limit = MAX_RUNS;
    state.cursor = null;
    for (const id of [...state.runs.keys()]) if (id !== state.selected) state.runs.delete(id);
    renderRuns();
    void refreshOverview();
  }

  function setLive(/** @type {string} */ mode, /** @type {string} */ label) {
    const live = $('live');
    live.dataset.state = mode;
    /** @type {HTMLElement} */ (live.querySelector('.live-label')).textContent = label;
  }

  let refreshLetters = /** @type {any} */ (null);
  function startLive() {
    // @ts-ignore graphqlWs is a global from the served UMD build
    const { createClient } = window.graphqlWs;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    setLive('connecting', 'Connecting…');
    state.ws = createClient({
      url,
      connectionParams: () => ({ authorization: `Bearer ${state.token}` }),
      retryAttempts: Infinity,
      shouldRetry: (/** @type {any} */ event) => !(event && event.code === 4403),
      retryWait: async (/** @type {number} */ retries) => new Promise((resolve) => setTimeout(resolve, Math.min(15000, 500 * 2 ** retries))),
      on: {
        connected: () => {
          setLive('live', 'Live');
          // Anything missed while away is read again.
          void refreshOverview();
        },
        closed: (/** @type {any} */ event) => {
          if (event?.code === 4403) return signOut('The token was refused by the subscription server.');
          setLive('connecting', 'Reconnecting…');
        },
      },
    });
    state.unsubscribe = state.ws.subscribe({ query: RUN_EVENTS }, {
      next: (/** @type {any} */ message) => {
        const run = message.data?.businessEvents?.run;
        if (!run) return;
        const before = state.runs.get(run.id)?.status;
        upsertRun(run, true);
        renderRuns();
        if (run.id === state.selected) renderDetail();
        setLive('live', `Live · ${new Date().toLocaleTimeString()}`);
        if (before !== run.status && (run.status === 'DEAD_LETTERED' || before === 'DEAD_LETTERED' || SETTLED.has(run.status))) {
          clearTimeout(refreshLetters);
          refreshLetters = setTimeout(() => void refreshOverview(), 250);
        }
      },
      error: (/** @type {any} */ error) => {
        const first = Array.isArray(error) ? error[0] : error;
        if (first?.extensions?.code === 'UNAUTHENTICATED') return signOut('The token expired: paste a fresh one.');
        setLive('error', 'Live updates stopped');
        toast(`Live updates stopped: ${first?.message ?? 'connection closed'}`, true);
      },
      complete: () => setLive('offline', 'Offline'),
    });
  }

  function stopLive() {
    state.unsubscribe?.();
    state.unsubscribe = null;
    state.ws?.dispose();
    state.ws = null;
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  function start(/** @type {string} */ token) {
    state.token = token;
    state.claims = decodeClaims(token);
    sessionStorage.setItem(TOKEN_KEY, token);
    $('signin').hidden = true;
    $('console').hidden = false;
    $('sign-out').hidden = false;
    const expires = state.claims?.exp ? new Date(state.claims.exp * 1000) : null;
    $('who').replaceChildren(
      h('strong', null, state.claims?.sub ?? 'operator'),
      ` · ${scopes().filter((s) => s.startsWith('ops:')).join(' ') || 'no ops scopes'}`,
      expires ? ` · until ${expires.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : '',
    );
    void refreshOverview();
    state.pollTimer = setInterval(() => void refreshOverview(), POLL_MS);
    startLive();
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up

  function boot() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const fromFragment = fragment.get('token');
    if (fromFragment) history.replaceState(null, '', location.pathname + location.search);
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = /** @type {HTMLTextAreaElement} */ ($('token-input')).value.trim().replace(/^Bearer\s+/i, '');
      if (!decodeClaims(value)) {
        $('token-error').textContent = 'That is not a JWT (three base64url parts separated by dots).';
        return;
      }
      /** @type {HTMLTextAreaElement} */ ($('token-input')).value = '';
      start(value);
    });
    $('sign-out').addEventListener('click', () => signOut());
    for (const chip of document.querySelectorAll('[data-filter]')) {
      chip.addEventListener('click', () => {
        state.filter = /** @type {HTMLElement} */ (chip).dataset.filter ?? 'ALL';
        for (const other of document.querySelectorAll('[data-filter]')) other.classList.toggle('active', other === chip);
        refilter();
      });
    }
    /** @type {HTMLSelectElement} */ ($('run-kind')).addEventListener('change', (event) => {
      state.kind = /** @type {HTMLSelectElement} */ (event.target).value;
      refilter();
    });
    let searchTimer = /** @type {any} */ (null);
    $('run-search').addEventListener('input', (event) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => {
        state.search = /** @type {HTMLInputElement} */ (event.target).value.trim();
        refilter();
      }, 300);
    });
    $('runs-more').addEventListener('click', () => void loadMore());
    panels.boot();
    void fetch('/graphql', { headers: { accept: 'text/html' } }).then((r) => { ide = r.ok && (r.headers.get('content-type') ?? '').startsWith('text/html'); }, () => undefined);
    window.addEventListener('resize', () => renderCharts());
    // Relative times and running durations age between updates.
    setInterval(() => {
      if (state.token) {
        renderRuns();
        if (state.selected && !SETTLED.has(state.runs.get(state.selected)?.status)) renderDetail();
      }
    }, 1000);
    const token = fromFragment ?? sessionStorage.getItem(TOKEN_KEY);
    if (token) start(token);
    else signOut();
  }

  boot();
})();
