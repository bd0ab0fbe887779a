// Live status (`serve --kube-status`, `--flux-source`): every graph node gets the class of its state
// (`st-ready`, `st-failed`…) and its reason in its tooltip, the bar under the header counts each state (its
// swatches are the legend), and `status` events change them in place, so zoom and scroll stay. The whole
// status (with what blocks each object) is fetched again shortly after changes, and so are the parts of a
// page that print status (`data-live` on /blocked, an object's status section). The states, their labels and
// their order come from the server (`data-states` on <body>, from the Rust `State`): none are listed here.

import { $, $$, base, body, make } from './dom.js';

const live = { url: body.dataset.status || '', doc: null, timer: 0, last: 0 };
// Each state as { state, label, counts (its key in the status's counts), shown_at_zero }, in the header's order.
const STATES = readStates();

function readStates() {
  try {
    const states = JSON.parse(body.dataset.states || '[]');
    return Array.isArray(states) ? states : [];
  } catch {
    return [];
  }
}

const labelOf = (state) => (STATES.find((s) => s.state === state) || { label: state }).label;

// The cluster the page shows (the search form's hidden field), else the one the URL names: without
// it the server answers for the largest cluster, which may not be the one drawn.
function shownCluster() {
  const field = document.querySelector('form.search input[name="cluster"]');
  return (field && field.value) || new URLSearchParams(location.search).get('cluster');
}

function statusUrl() {
  const cluster = shownCluster();
  return live.url + (cluster ? '?cluster=' + encodeURIComponent(cluster) : '');
}

async function loadStatus() {
  if (!live.url) return;
  try {
    const res = await fetch(statusUrl(), { cache: 'no-store' });
    if (!res.ok) return;
    live.doc = await res.json();
  } catch {
    return; // offline: the next event retries
  }
  paintAll();
  loadLiveParts();
}

function describe(id, s) {
  let text = labelOf(s.state) + (s.reason ? ` (${s.reason})` : '') + (s.message ? `: ${s.message}` : '');
  const others = (s.blocked_by || []).filter((b) => b !== id);
  if (others.length) text += `\nblocked by ${others.join(', ')}`;
  if (s.behind) text += `\nbehind: applied ${s.behind[0] || 'nothing'}, its source is at ${s.behind[1]}`;
  return text;
}

function paint(node, s) {
  for (const c of Array.from(node.classList)) if (c.startsWith('st-')) node.classList.remove(c);
  if (s) node.classList.add('st-' + s.state);
  const title = Array.from(node.children).find((c) => c.tagName === 'title');
  if (!title) return;
  if (title.dataset.plain === undefined) title.dataset.plain = title.textContent;
  title.textContent = title.dataset.plain + (s ? '\n' + describe(node.dataset.id, s) : '');
}

function paintAll() {
  const doc = live.doc;
  if (!doc) return;
  for (const node of $$('g.node[data-id]')) paint(node, doc.applies ? doc.objects[node.dataset.id] : null);
  showCounts();
}

function showCounts() {
  const bar = $('#live-status');
  const doc = live.doc;
  if (!bar || !doc) return;
  bar.replaceChildren();
  if (!doc.applies) {
    bar.append(make('span', { textContent: 'The live status is of another cluster of this repository.' }));
  } else {
    for (const { state, label, counts, shown_at_zero: shownAtZero } of STATES) {
      const n = doc.counts[counts] || 0;
      if (n === 0 && !shownAtZero) continue;
      const count = make('span', { className: `count st-${state}${n ? '' : ' zero'}`, title: `${label}: the colour of such boxes` });
      count.dataset.state = state;
      count.append(make('b', { textContent: String(n) }), ' ' + label);
      bar.append(count);
    }
    bar.append(make('a', { href: base + '/blocked' + (location.search.includes('cluster=') ? location.search : ''), textContent: 'what blocks' }));
  }
  if (doc.stale) {
    const since = new Date(doc.stale.since * 1000);
    bar.append(make('span', { className: 'stale', role: 'status',
      textContent: `status stale since ${since.toLocaleTimeString()}: ${doc.stale.why}` }));
  }
  bar.hidden = false;
}

export function onStatus(data) {
  let u;
  try { u = JSON.parse(data); } catch { return; }
  const doc = live.doc;
  if (doc && doc.applies && u.cluster === doc.cluster) {
    for (const c of u.changes || []) {
      const old = doc.objects[c.id];
      doc.objects[c.id] = Object.assign({}, c, { blocked_by: old ? old.blocked_by : [], behind: old ? old.behind : undefined });
      for (const node of $$('g.node[data-id]').filter((n) => n.dataset.id === c.id)) paint(node, doc.objects[c.id]);
    }
    if (u.counts) doc.counts = u.counts;
  }
  if (doc) { doc.stale = u.stale; showCounts(); }
  // What blocks what, and the pages' status text, a little later: at most every second.
  clearTimeout(live.timer);
  const wait = Math.max(300, 1000 - (Date.now() - live.last));
  live.timer = setTimeout(() => { live.last = Date.now(); loadStatus(); }, wait);
}

// Parts of a page that print status come from their own URL (`data-live`), never from the page cache.
async function loadLiveParts() {
  for (const part of $$('[data-live]')) {
    try {
      const res = await fetch(part.dataset.live, { cache: 'no-store' });
      if (res.ok) part.innerHTML = await res.text();
    } catch { /* offline */ }
  }
}

export function initStatus() {
  if (!live.url) return;
  loadStatus();
  // A new snapshot redraws the graphs: paint them again.
  document.addEventListener('fluxgraph:updated', () => loadStatus());
}
