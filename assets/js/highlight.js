// Highlight: hovering or focusing a node lights it, what it waits on (up: its dependsOn targets and its
// parent, transitively) and what waits on it (down), and fades the rest. Source edges are shown one hop
// only: every Kustomization uses the repository's source, and following them would light everything.
// Hovering follows the pointer unless the reader is dragging the view; keyboard focus on a node lights it too.

import { $$ } from './dom.js';
import { nodeOfLink } from './drawing.js';

export class Highlighter {
  constructor(svg) {
    this.svg = svg;
    this.current = null;
    this.lit = []; // what show() lit, for clear()
    this.nodes = new Map($$('g.node[data-id]', svg).map((g) => [g.dataset.id, g]));
    [this.up, this.down, this.sourceUp, this.sourceDown] = [new Map(), new Map(), new Map(), new Map()];
    const add = (map, from, to, edge) => {
      if (!map.has(from)) map.set(from, []);
      map.get(from).push({ id: to, edge });
    };
    for (const edge of $$('path.edge[data-from][data-to]', svg)) {
      const { from, to } = edge.dataset;
      const kind = edge.dataset.kind || ['dependsOn', 'applies', 'source'].find((k) => edge.classList.contains(k));
      if (kind === 'dependsOn') { add(this.up, from, to, edge); add(this.down, to, from, edge); }
      else if (kind === 'applies') { add(this.up, to, from, edge); add(this.down, from, to, edge); }
      else if (kind === 'source') { add(this.sourceUp, from, to, edge); add(this.sourceDown, to, from, edge); }
    }
  }

  show(id) {
    if (id === this.current) return;
    this.clear();
    const self = this.nodes.get(id);
    if (!self) return;
    this.current = id;
    this.light(self, 'hl-self');
    this.walk(id, this.up, 'hl-up', true);
    this.walk(id, this.down, 'hl-down', true);
    this.walk(id, this.sourceUp, 'hl-up', false);
    this.walk(id, this.sourceDown, 'hl-down', false);
    this.svg.classList.add('has-hl');
  }

  // Breadth-first along `map` from `id`, lighting nodes and the edges taken.
  walk(id, map, cls, transitive) {
    const seen = new Set([id]);
    const queue = [id];
    for (let i = 0; i < queue.length; i++) {
      for (const { id: next, edge } of map.get(queue[i]) || []) {
        this.light(edge, 'hl-edge', cls);
        if (seen.has(next)) continue;
        seen.add(next);
        const g = this.nodes.get(next);
        if (g) this.light(g, cls);
        if (transitive) queue.push(next);
      }
    }
  }

  light(el, ...classes) { el.classList.add(...classes); this.lit.push(el); }

  clear() {
    for (const el of this.lit) el.classList.remove('hl-self', 'hl-up', 'hl-down', 'hl-edge');
    this.lit = [];
    this.current = null;
    this.svg.classList.remove('has-hl');
  }
}

export function highlightEvents(svg, hl, view) {
  const nodeOf = (target) => target instanceof Element && target.closest('g.node[data-id]');
  svg.addEventListener('pointerover', (e) => {
    const g = nodeOf(e.target);
    if (g && !view.dragging) hl.show(g.dataset.id);
  });
  svg.addEventListener('pointerout', (e) => {
    const g = nodeOf(e.target);
    if (!g || (e.relatedTarget instanceof Node && g.contains(e.relatedTarget))) return;
    // Back to the focused node, if the keyboard is on one.
    const focused = svg.contains(document.activeElement) && nodeOfLink(document.activeElement);
    if (focused) hl.show(focused.dataset.id); else hl.clear();
  });
  svg.addEventListener('focusin', (e) => {
    const g = nodeOfLink(e.target);
    if (g) hl.show(g.dataset.id);
  });
  svg.addEventListener('focusout', (e) => {
    if (!(e.relatedTarget instanceof Node && svg.contains(e.relatedTarget))) hl.clear();
  });
}
