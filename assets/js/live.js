// Live updates: the server announces each new snapshot over server-sent events (`/events`); the page fetches
// its own body again (`X-Fluxgraph-Fragment`) and swaps it in, keeping zoom, pan, highlight, focus and scroll
// as they were. Opening a group of the overview swaps the body the same way. A failed refresh shows the
// banner; `status` events go to the live status (initLive's `onStatus`).

import { $, $$, body } from './dom.js';
import { nodeLink, nodeOfLink } from './drawing.js';
import { frameAt, frameIndexOf, savedViews, setUp } from './graphs.js';

const banner = $('#banner');
function showBanner(data) {
  if (!banner) return;
  const failed = data.ok === false;
  banner.textContent = failed ? data.message || 'The repository could not be read; showing the last good state.' : '';
  banner.setAttribute('role', 'alert');
  banner.hidden = !failed;
}

function capturePlace(main) {
  const active = document.activeElement;
  const inside = active && active !== main && main.contains(active);
  const node = inside && nodeOfLink(active);
  const frame = inside ? frameIndexOf(active) : -1;
  return {
    x: window.scrollX,
    y: window.scrollY,
    graphs: savedViews(),
    // What had focus, found again by what identifies it: a node's id, an element's id, a link's target.
    focus: !inside ? null
      : node ? { frame, node: node.dataset.id }
      : active.id ? { id: active.id }
      : active.getAttribute('href') ? { href: active.getAttribute('href') }
      : frame >= 0 ? { frame } : null,
  };
}

function restoreFocus(main, focus) {
  if (!focus) return;
  const frame = frameAt(focus.frame);
  const el = focus.node ? nodeLink(frame || main, focus.node)
    : focus.id ? document.getElementById(focus.id)
    : focus.href ? $$('a[href]', main).find((a) => a.getAttribute('href') === focus.href)
    : frame;
  if (el && main.contains(el)) el.focus({ preventScroll: true });
}

let latest = null;                     // newest version announced
let [fetching, again] = [false, false]; // one refresh at a time; news during it asks for one more

async function refresh() {
  if (fetching) { again = true; return; }
  fetching = true;
  try {
    do { again = false; await swap(); } while (again);
  } finally {
    fetching = false;
  }
}

// `keep`: a refresh of the same view keeps zoom and pan; a new view (a group opened) is fitted afresh.
async function swap(keep = true) {
  const main = $('#content');
  if (!main) return;
  const version = latest;
  let html;
  try {
    const res = await fetch(location.href, { headers: { 'X-Fluxgraph-Fragment': '1' }, cache: 'no-store' });
    // A page about an object that is gone answers 404 with a useful body; other failures keep the page.
    if (!res.ok && res.status !== 404 && res.status !== 410) return;
    html = await res.text();
  } catch {
    return; // offline: the next announcement retries
  }
  const place = capturePlace(main);
  main.innerHTML = html;
  if (version !== null) main.dataset.version = String(version);
  setUp(main, keep ? place.graphs : []);
  restoreFocus(main, place.focus);
  window.scrollTo(place.x, place.y);
  main.dispatchEvent(new CustomEvent('fluxgraph:updated', { bubbles: true }));
}

// Opening or closing a group of the overview happens in place: the page's body is swapped, the URL
// (which names the open groups) pushed, so that a shared or reloaded link shows the same picture.
export function initGroups() {
  const main = $('#content');
  if (!main || !('fetch' in window)) return;
  main.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    const link = e.target instanceof Element && e.target.closest('a.open-group, a.node-link');
    if (!link || (link.classList.contains('node-link') && !$('g.node.group', link))) return;
    const href = link.getAttribute('href') || link.getAttribute('xlink:href');
    if (!href) return;
    e.preventDefault();
    history.pushState({ fluxgraph: true }, '', href);
    swap(false).then(() => {
      const frame = $('.graph-frame', main);
      if (frame) frame.focus({ preventScroll: true });
    });
  });
  window.addEventListener('popstate', () => swap(false));
}

// Follows the server's announcements; `onStatus` receives each `status` event's data.
export function initLive(onStatus) {
  const url = body.dataset.events;
  if (!url || !('EventSource' in window)) return;
  let retry = 2000;
  const connect = () => {
    const events = new EventSource(url);
    events.addEventListener('open', () => { retry = 2000; body.classList.remove('offline'); });
    events.addEventListener('snapshot', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      showBanner(data);
      const main = $('#content');
      if (!main || data.version === undefined || String(data.version) === main.dataset.version) return;
      latest = data.version;
      refresh();
    });
    events.addEventListener('status', (e) => onStatus(e.data));
    events.addEventListener('error', () => {
      body.classList.add('offline');
      // EventSource reconnects by itself unless the server refused it; then retry slowly, backing off.
      if (events.readyState === EventSource.CLOSED) {
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 60000);
      }
    });
  };
  connect();
}
