/**
 * The pgcdc dashboard: polls `pgcdc serve`'s JSON API and shows every stream with its state, and for
 * the selected one its figures, a chart of the last hour, snapshot progress, slot, alerts, errors
 * and dead letters; every button goes through the same API. Plain DOM, no framework: the server's
 * text is only ever set as textContent. uPlot (served by pgcdc at /vendor) draws the charts.
 */

const STATS_INTERVAL_MS = 2000;
const HISTORY_INTERVAL_MS = 5000;
const CHART_WINDOW_S = 3600;
const TOKEN_KEY = 'pgcdc-token';
const OPERATIONS = { c: 'insert', u: 'update', d: 'delete', r: 'snapshot read', t: 'truncate', m: 'message' };

// ---------------------------------------------------------------------------------------------
// API client: a bearer token given once as ?token= is kept for the tab's session.

const token = takeToken();

function takeToken() {
  const params = new URLSearchParams(location.search);
  const given = params.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    params.delete('token');
    const query = params.toString();
    history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    if (response.ok) throw new ApiError(response.status, 'BAD_RESPONSE', `${path} did not answer JSON`);
  }
  if (!response.ok) {
    const message = data?.message ?? `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, data?.error_code ?? `HTTP_${response.status}`, message);
  }
  return data;
}

const streamPath = (name, suffix = '') => `/api/streams/${encodeURIComponent(name)}${suffix}`;

// ---------------------------------------------------------------------------------------------
// Formatting.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

const fmtCount = (n) => (n == null ? '–' : integer.format(n));
const fmtRate = (n) => (n == null ? '–' : n < 10 ? decimal.format(n) : integer.format(n));

function fmtBytes(n) {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? integer.format(value) : decimal.format(value)} ${units[unit]}`;
}

function fmtSeconds(s) {
  if (s == null) return '–';
  if (s < 10) return `${decimal.format(s)} s`;
  if (s < 60) return `${integer.format(s)} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

function fmtAgo(iso) {
  if (!iso) return '–';
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 5) return 'just now';
  return `${fmtSeconds(Math.round(seconds))} ago`;
}

const fmtTime = (iso) => (iso ? clock.format(new Date(iso)) : '–');
const targetType = (target) => (typeof target === 'string' ? target : target?.type ?? '–');

// ---------------------------------------------------------------------------------------------
// DOM helpers.

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children);
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Keeps `parent`'s children one per item, in order, by key: existing nodes are updated, not rebuilt. */
function syncChildren(parent, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of parent.children) existing.set(child.dataset.key, child);
  items.forEach((item, index) => {
    const key = String(keyOf(item));
    let node = existing.get(key);
    if (node) existing.delete(key);
    else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] ?? null);
  });
  for (const node of existing.values()) node.remove();
}

function badge(node, state) {
  node.className = 'badge';
  node.dataset.state = state ?? 'unknown';
  setText(node, state ?? 'unknown');
}

function toast(message, kind = 'ok') {
  const node = el('div', { class: `toast ${kind}`, text: message });
  $('toasts').append(node);
  setTimeout(() => node.remove(), kind === 'error' ? 8000 : 4000);
}

function askInDialog(dialog) {
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

// ---------------------------------------------------------------------------------------------
// State and polling.

const state = {
  streams: [],
  details: new Map(),
  selected: null,
  history: [],
  live: [],
  deadLetters: [],
  busy: false,
};

function selectedFromHash() {
  const match = /^#\/streams\/(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

async function refresh() {
  try {
    state.streams = await api('/api/streams');
    const details = await Promise.all(state.streams.map((s) => api(streamPath(s.name)).catch(() => null)));
    state.details = new Map(details.filter(Boolean).map((d) => [d.name, d]));
    if (state.selected === null || !state.streams.some((s) => s.name === state.selected)) {
      const wanted = selectedFromHash();
      select(state.streams.some((s) => s.name === wanted) ? wanted : state.streams[0]?.name ?? null, false);
    }
    if (state.selected !== null) {
      state.deadLetters = await api(streamPath(state.selected, '/dead-letters')).catch(() => []);
      appendLivePoint(state.details.get(state.selected));
    }
    showConnection(null);
  } catch (error) {
    showConnection(error);
  }
  render();
}

async function refreshHistory() {
  if (state.selected === null) return;
  const name = state.selected;
  try {
    const { points } = await api(streamPath(name, '/history'));
    if (name !== state.selected) return;
    state.history = points;
    const last = points.at(-1)?.t ?? 0;
    state.live = state.live.filter((p) => p.t > last);
    drawCharts();
  } catch {
    // The next round tries again; the list shows when the server is unreachable.
  }
}

function appendLivePoint(detail) {
  const stats = detail?.stats;
  if (!stats) return;
  state.live.push({ t: Date.now() / 1000, eventsPerSecond: stats.eventsPerSecond, lagBytes: stats.lagBytes, lagSeconds: stats.lagSeconds });
  drawCharts();
}

function every(intervalMs, task) {
  const run = async () => {
    if (!document.hidden) await task();
    setTimeout(run, intervalMs);
  };
  void run();
}

function showConnection(error) {
  const node = $('connection');
  node.dataset.ok = String(error === null);
  if (error === null) setText(node, '');
  else if (error.status === 401) setText(node, 'Unauthorized: open the page as /?token=<token of pgcdc serve>');
  else setText(node, `Cannot reach pgcdc serve (${error.message}); retrying`);
}

function select(name, updateHash = true) {
  if (name === state.selected) return;
  state.selected = name;
  state.history = [];
  state.live = [];
  state.deadLetters = [];
  if (updateHash && name !== null) location.hash = `#/streams/${encodeURIComponent(name)}`;
  drawCharts();
  void refreshHistory();
}

// ---------------------------------------------------------------------------------------------
// Rendering.

function render() {
  renderSummary();
  renderList();
  renderDetail();
}

function renderSummary() {
  const counts = {};
  for (const s of state.streams) counts[s.state] = (counts[s.state] ?? 0) + 1;
  const parts = [`${state.streams.length} ${state.streams.length === 1 ? 'stream' : 'streams'}`];
  for (const [name, count] of Object.entries(counts)) parts.push(`${count} ${name}`);
  setText($('summary'), parts.join(' · '));
}

function renderList() {
  $('no-streams').hidden = state.streams.length > 0;
  syncChildren(
    $('stream-rows'),
    state.streams,
    (s) => s.name,
    (s) =>
      el('tr', { 'data-stream': s.name, onclick: () => select(s.name) },
        el('td', {}, el('a', { href: `#/streams/${encodeURIComponent(s.name)}`, text: s.name })),
        el('td', {}, el('span', { class: 'badge' })),
        el('td', { class: 'muted' }),
        el('td', { class: 'num' }),
        el('td', { class: 'num' })),
    (row, s) => {
      const stats = state.details.get(s.name)?.stats;
      const [, stateCell, targetCell, rateCell, lagCell] = row.children;
      row.classList.toggle('selected', s.name === state.selected);
      if (s.name === state.selected) row.setAttribute('aria-current', 'true');
      else row.removeAttribute('aria-current');
      badge(stateCell.firstChild, s.state);
      setText(targetCell, targetType(s.target));
      setText(rateCell, fmtRate(stats?.eventsPerSecond));
      setText(lagCell, fmtBytes(stats?.lagBytes));
      lagCell.title = stats?.lagSeconds == null ? '' : `${fmtSeconds(stats.lagSeconds)} behind`;
    },
  );
}

function renderDetail() {
  const detail = state.details.get(state.selected);
  $('detail').hidden = !detail;
  if (!detail) return;
  const stats = detail.stats ?? null;
  setText($('detail-name'), detail.name);
  const source = detail.source ?? {};
  const sourceParts = [targetType(detail.target), source.database && `database ${source.database}`, source.slot && `slot ${source.slot}`, source.publication && `publication ${source.publication}`, detail.since && `${detail.state} since ${fmtTime(detail.since)}`];
  setText($('detail-source'), sourceParts.filter(Boolean).join(' · '));
  $('detail-source').title = detail.file ?? '';
  badge($('detail-state'), detail.state);
  renderActions(detail);
  renderFailure(detail.error);
  renderFigures(stats);
  renderOperations(stats?.eventsByOperation ?? {});
  renderSlot(detail, stats);
  renderSnapshot(stats?.snapshot ?? null);
  renderAlerts(stats?.alerts ?? []);
  renderLastErrors(detail.lastErrors ?? []);
  renderDeadLetters();
}

function renderActions(detail) {
  const allowed = {
    pause: ['running', 'starting', 'restarting'].includes(detail.state),
    resume: ['paused', 'stopped', 'failed'].includes(detail.state),
    restart: true,
    stop: detail.state !== 'stopped',
    snapshot: (detail.tables ?? []).length > 0 && ['running', 'paused'].includes(detail.state),
  };
  for (const button of document.querySelectorAll('[data-action]')) button.disabled = state.busy || !allowed[button.dataset.action];
}

function renderFailure(error) {
  const node = $('detail-error');
  node.hidden = !error;
  if (!error) return;
  node.replaceChildren(
    el('strong', { text: `${error.code}: ` }), error.message,
    ...(error.hint ? [el('br'), el('span', { class: 'muted', text: error.hint })] : []),
    ...(error.at ? [el('br'), el('small', { class: 'muted', text: `at ${fmtTime(error.at)}` })] : []),
  );
}

function renderFigures(stats) {
  setText($('fig-events'), fmtCount(stats?.events));
  setText($('fig-rate'), fmtRate(stats?.eventsPerSecond));
  setText($('fig-lag-bytes'), fmtBytes(stats?.lagBytes));
  setText($('fig-lag-seconds'), fmtSeconds(stats?.lagSeconds));
  setText($('fig-wal'), fmtBytes(stats?.slot?.retainedWalBytes));
  setText($('fig-queue'), fmtBytes(stats?.queue.bytes));
  setText($('fig-queue-max'), stats ? `of ${fmtBytes(stats.queue.maxBytes)}` : '');
  setText($('fig-retries'), fmtCount(stats?.retries));
  setText($('fig-dead'), fmtCount(stats?.deadLetters));
}

function renderOperations(byOperation) {
  const keys = Object.keys(OPERATIONS).filter((op) => op in byOperation || 'cud'.includes(op));
  const max = Math.max(1, ...keys.map((op) => byOperation[op] ?? 0));
  syncChildren(
    $('operations'),
    keys,
    (op) => op,
    (op) => el('div', { class: 'operation', 'data-op': op }, el('span', { text: OPERATIONS[op] }), el('span', { class: 'bar' }, el('span')), el('span', { class: 'num' })),
    (row, op) => {
      const count = byOperation[op] ?? 0;
      row.children[1].firstChild.style.width = `${(100 * count) / max}%`;
      setText(row.children[2], fmtCount(count));
    },
  );
}

function renderSlot(detail, stats) {
  const slot = stats?.slot;
  const pairs = [
    ['Slot', detail.source?.slot ?? '–'],
    ['WAL status', slot?.walStatus ?? '–'],
    ['Retained WAL', fmtBytes(slot?.retainedWalBytes)],
    ['Active', slot?.active == null ? '–' : slot.active ? 'yes' : 'no'],
    ['Confirmed LSN', stats?.confirmedLsn ?? '–'],
    ['Server LSN', stats?.serverLsn ?? '–'],
    ['Connected', stats ? (stats.connected ? 'yes' : 'no') : '–'],
    ['Restarts', fmtCount(stats?.restarts)],
  ];
  syncChildren(
    $('slot'),
    pairs,
    ([label]) => label,
    ([label]) => el('div', {}, el('dt', { text: label }), el('dd')),
    (row, [label, value]) => {
      setText(row.lastChild, value);
      row.lastChild.dataset.warn = String(label === 'WAL status' && ['extended', 'unreserved', 'lost'].includes(value));
    },
  );
}

function renderSnapshot(snapshot) {
  $('snapshot-panel').hidden = !snapshot;
  if (!snapshot) return;
  badge($('snapshot-status'), snapshot.status);
  syncChildren(
    $('snapshot-tables'),
    snapshot.tables,
    (t) => t.table,
    (t) => el('div', { class: 'progress-row', 'data-table': t.table }, el('span', { class: 'name', text: t.table }), el('progress', { max: '1' }), el('span', { class: 'muted' })),
    (row, t) => {
      const done = t.estimatedRows > 0 ? Math.min(1, t.rowsDone / t.estimatedRows) : t.chunks > 0 ? t.chunksDone / t.chunks : 0;
      row.children[1].value = done;
      const parts = [`${fmtCount(t.rowsDone)} / ~${fmtCount(t.estimatedRows)} rows`, `chunk ${t.chunksDone}/${t.chunks}`];
      if (t.rowsPerSecond != null) parts.push(`${fmtRate(t.rowsPerSecond)} rows/s`);
      if (t.etaSeconds != null) parts.push(`ETA ${fmtSeconds(t.etaSeconds)}`);
      setText(row.children[2], parts.join(' · '));
    },
  );
}

function renderAlerts(alerts) {
  const list = $('alerts');
  if (alerts.length === 0) {
    list.replaceChildren(el('li', { class: 'muted', text: 'No alert thresholds set for this stream.' }));
    return;
  }
  list.replaceChildren(
    ...alerts.map((a) =>
      el('li', { class: a.active ? 'firing' : 'ok' },
        el('span', { class: 'badge', 'data-state': a.active ? 'failed' : 'running', text: a.active ? 'firing' : 'ok' }),
        ` ${a.name}: ${a.value == null ? '–' : decimal.format(a.value)} (threshold ${decimal.format(a.threshold)})`,
        a.since ? el('span', { class: 'muted', text: ` since ${fmtTime(a.since)}` }) : '')),
  );
}

function renderLastErrors(errors) {
  const list = $('last-errors');
  if (errors.length === 0) {
    list.replaceChildren(el('li', { class: 'muted', text: 'None.' }));
    return;
  }
  list.replaceChildren(
    ...errors.map((e) => el('li', { 'data-level': e.level }, el('time', { datetime: e.at, text: fmtTime(e.at) }), ' ', el('span', { text: e.message }))),
  );
}

function renderDeadLetters() {
  $('no-dead-letters').hidden = state.deadLetters.length > 0;
  syncChildren(
    $('dead-letter-rows'),
    state.deadLetters,
    (d) => d.id,
    (d) =>
      el('tr', { 'data-dead-letter': d.id },
        el('td', {}, el('time'), el('div', { class: 'muted resent' })),
        el('td', { class: 'error-text' }),
        el('td', { class: 'num' }),
        el('td', { class: 'row-actions' },
          el('button', { type: 'button', onclick: () => showEvent(d.id) , text: 'View' }),
          el('button', { type: 'button', onclick: () => resend(d.id), text: 'Resend' }))),
    (row, d) => {
      const time = row.querySelector('time');
      time.dateTime = d.failedAt;
      setText(time, fmtTime(d.failedAt));
      setText(row.querySelector('.resent'), d.resentAt ? `resent ${fmtAgo(d.resentAt)}` : '');
      setText(row.children[1], d.error);
      setText(row.children[2], fmtCount(d.attempts));
      row.dataset.resent = String(Boolean(d.resentAt));
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Charts: throughput, and lag in bytes and seconds, over the last hour.

const charts = { rate: null, lag: null };

function cssColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** At least the last five minutes, so a young stream's first points are not stretched over the width. */
const timeRange = (_, min, max) => (min == null ? [Date.now() / 1000 - 300, Date.now() / 1000] : [Math.min(min, max - 300), max]);

function buildCharts() {
  if (typeof uPlot === 'undefined') return;
  for (const chart of Object.values(charts)) chart?.destroy();
  const text = cssColor('--muted');
  const grid = cssColor('--grid');
  const axis = (extra = {}) => ({ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, ...extra });
  const sized = (node) => ({ width: Math.max(200, node.clientWidth), height: 150 });
  const rate = $('chart-rate');
  charts.rate = new uPlot(
    {
      ...sized(rate),
      series: [{}, { label: 'events/s', stroke: cssColor('--accent'), fill: cssColor('--accent-fill'), width: 2, value: (_, v) => fmtRate(v) }],
      axes: [axis(), axis({ size: 60, values: (_, ticks) => ticks.map(fmtRate) })],
      scales: { x: { time: true, range: timeRange }, y: { range: (_, min, max) => [0, Math.max(1, max)] } },
    },
    [[], []],
    rate,
  );
  const lag = $('chart-lag');
  charts.lag = new uPlot(
    {
      ...sized(lag),
      series: [
        {},
        { label: 'lag', scale: 'bytes', stroke: cssColor('--warn'), width: 2, value: (_, v) => fmtBytes(v) },
        { label: 'lag time', scale: 's', stroke: cssColor('--info'), width: 2, dash: [6, 4], value: (_, v) => fmtSeconds(v) },
      ],
      axes: [
        axis(),
        axis({ scale: 'bytes', size: 70, values: (_, ticks) => ticks.map(fmtBytes) }),
        axis({ scale: 's', side: 1, size: 60, grid: { show: false }, values: (_, ticks) => ticks.map(fmtSeconds) }),
      ],
      scales: { x: { time: true, range: timeRange }, bytes: { range: (_, min, max) => [0, Math.max(1024, max)] }, s: { range: (_, min, max) => [0, Math.max(1, max)] } },
    },
    [[], [], []],
    lag,
  );
  drawCharts();
}

function drawCharts() {
  if (!charts.rate) return;
  const from = Date.now() / 1000 - CHART_WINDOW_S;
  const points = state.history.concat(state.live).filter((p) => p.t >= from);
  state.live = state.live.filter((p) => p.t >= from);
  const t = points.map((p) => p.t);
  charts.rate.setData([t, points.map((p) => p.eventsPerSecond)]);
  charts.lag.setData([t, points.map((p) => p.lagBytes), points.map((p) => p.lagSeconds)]);
}

function resizeCharts() {
  for (const [key, chart] of Object.entries(charts)) {
    const node = $(key === 'rate' ? 'chart-rate' : 'chart-lag');
    if (chart && node.clientWidth > 0) chart.setSize({ width: node.clientWidth, height: 150 });
  }
}

// ---------------------------------------------------------------------------------------------
// Actions.

async function perform(label, request) {
  state.busy = true;
  render();
  try {
    await request();
    toast(label);
  } catch (error) {
    toast(`${label} failed: ${error.message}${error.code ? ` (${error.code})` : ''}`, 'error');
  } finally {
    state.busy = false;
    await refresh();
  }
}

async function onAction(action) {
  const name = state.selected;
  const detail = state.details.get(name);
  if (!detail) return;
  if (action === 'stop') {
    setText($('confirm-text'), `Stop stream ${name}? It drains, acknowledges what its target holds and stays stopped until resumed.`);
    if (!(await askInDialog($('confirm-dialog')))) return;
  }
  if (action === 'snapshot') {
    const choices = $('snapshot-choices');
    choices.replaceChildren(...detail.tables.map((table) => el('label', {}, el('input', { type: 'checkbox', name: 'table', value: table }), ` ${table}`)));
    if (!(await askInDialog($('snapshot-dialog')))) return;
    const tables = [...choices.querySelectorAll('input:checked')].map((input) => input.value);
    if (tables.length === 0) {
      toast('No table chosen: no snapshot started', 'error');
      return;
    }
    await perform(`Snapshot of ${tables.join(', ')} requested`, () => api(streamPath(name, '/snapshot'), { method: 'POST', body: { tables } }));
    return;
  }
  const done = { pause: 'Paused', resume: 'Resumed', restart: 'Restarted', stop: 'Stopped' }[action];
  await perform(`${done} ${name}`, () => api(streamPath(name, `/${action}`), { method: 'POST' }));
}

async function resend(id) {
  const name = state.selected;
  await perform(`Dead letter ${id} re-sent`, () => api(streamPath(name, `/dead-letters/${encodeURIComponent(id)}/resend`), { method: 'POST' }));
}

function showEvent(id) {
  const letter = state.deadLetters.find((d) => d.id === id);
  if (!letter) return;
  setText($('event-title'), `Dead letter ${id}`);
  setText($('event-error'), `${letter.error} (${letter.attempts} ${letter.attempts === 1 ? 'attempt' : 'attempts'}, failed ${fmtAgo(letter.failedAt)})`);
  setText($('event-json'), JSON.stringify(letter.event, null, 2));
  $('event-dialog').showModal();
}

// ---------------------------------------------------------------------------------------------
// Start.

for (const button of document.querySelectorAll('[data-action]')) button.addEventListener('click', () => onAction(button.dataset.action));
window.addEventListener('hashchange', () => {
  const name = selectedFromHash();
  if (name !== null) {
    select(name, false);
    render();
  }
});
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void refresh();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', buildCharts);
new ResizeObserver(resizeCharts).observe($('detail'));

buildCharts();
every(STATS_INTERVAL_MS, refresh);
every(HISTORY_INTERVAL_MS, refreshHistory);
