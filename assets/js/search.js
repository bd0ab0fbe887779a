// Search suggestions: a combobox over the header's search form, which still submits to the search page without
// JavaScript. Suggestions come from `/api/search` for the cluster being viewed, as you type; arrows choose, Enter
// follows, Escape closes, and "/" jumps to the box from anywhere.

import { $, base, make, typing } from './dom.js';

export function initSearch() {
  const input = $('#search');
  const list = $('#search-results');
  if (!input || !list) return;
  const form = input.form;
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', list.id);
  input.setAttribute('aria-expanded', 'false');

  let [timer, controller, options, active] = [0, null, [], -1];

  const close = () => {
    list.hidden = true;
    list.replaceChildren();
    options = [];
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };

  const select = (i) => {
    if (options.length === 0) return;
    active = i;
    options.forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    if (i < 0) { input.removeAttribute('aria-activedescendant'); return; }
    input.setAttribute('aria-activedescendant', options[i].id);
    options[i].scrollIntoView({ block: 'nearest' });
  };

  const render = (results) => {
    list.replaceChildren();
    options = [];
    active = -1;
    for (const r of results.slice(0, 8)) {
      let href;
      try { href = new URL(r.href, location.href); } catch { continue; }
      if (!/^https?:$/.test(href.protocol)) continue; // only ordinary links
      const small = make('small', { textContent: [r.kind, r.namespace].filter(Boolean).join(' · ') });
      const a = make('a', { href: href.href, tabIndex: -1 }, String(r.name || r.id || ''), ' ', small);
      const li = make('li', { id: `search-option-${options.length}` }, a);
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');
      li.addEventListener('pointerenter', () => select(options.indexOf(li)));
      list.append(li);
      options.push(li);
    }
    if (options.length === 0) list.append(make('li', { className: 'none', textContent: 'No match' }));
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  };

  const query = async () => {
    const q = input.value.trim();
    if (!q) { close(); return; }
    if (controller) controller.abort();
    controller = new AbortController();
    const params = new URLSearchParams({ q });
    // Search the cluster being viewed: the form's hidden field, else the page's query.
    const cluster = (form && form.elements.cluster && form.elements.cluster.value) ||
      new URLSearchParams(location.search).get('cluster');
    if (cluster) params.set('cluster', cluster);
    try {
      const res = await fetch(`${base}/api/search?${params}`, { signal: controller.signal });
      if (!res.ok) return;
      const results = await res.json();
      // Drop answers to a question no longer asked, and answers that lost focus meanwhile.
      if (input.value.trim() === q && document.activeElement === input && Array.isArray(results)) render(results);
    } catch (err) {
      if (err.name !== 'AbortError') close();
    }
  };

  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(query, 120); });
  input.addEventListener('keydown', (e) => {
    const open = !list.hidden && options.length > 0;
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (open) select(active + 1 < options.length ? active + 1 : 0); else query();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      if (open) select(active > 0 ? active - 1 : options.length - 1);
    } else if (e.key === 'Enter') {
      if (open && active >= 0) {
        e.preventDefault();
        window.location.assign($('a', options[active]).href);
      } // else: the form submits to the search page
    } else if (e.key === 'Escape') {
      if (!list.hidden) { e.preventDefault(); close(); } else if (input.value) { input.value = ''; }
    }
  });
  // Keep focus in the box while clicking a suggestion, so blur does not close the list under the pointer.
  list.addEventListener('mousedown', (e) => e.preventDefault());
  input.addEventListener('blur', () => close());
  if (form) form.addEventListener('submit', () => clearTimeout(timer));

  // "/" jumps to search from anywhere, as on GitHub.
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    e.preventDefault();
    input.focus();
    input.select();
  });
}
