// Reading the graph as the server drew it (src/render/svg.rs): a node is a `g.node[data-id]`, placed by its
// translate() and sized by its rect, inside an `a.node-link`; edges are `path.edge[data-from][data-to]`.

import { $, $$ } from './dom.js';

export const SVGNS = 'http://www.w3.org/2000/svg';

// The node drawn inside a node link (or inside any element of one).
export function nodeOfLink(el) {
  const link = el instanceof Element && el.closest('a.node-link');
  return link ? $('g.node[data-id]', link) : null;
}

// The link around the node `id` in `root`.
export function nodeLink(root, id) {
  const g = $$('g.node[data-id]', root).find((n) => n.dataset.id === id);
  return g && g.closest('a.node-link');
}

// A node's box in the SVG's user coordinates, from its translate() and its rect.
export function nodeBox(g) {
  const m = g.transform.baseVal.consolidate();
  const rect = $(':scope > rect', g);
  return { x: m ? m.matrix.e : 0, y: m ? m.matrix.f : 0,
    w: rect ? rect.width.baseVal.value : 0, h: rect ? rect.height.baseVal.value : 0 };
}
