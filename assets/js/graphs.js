// The page's graphs, set up: every `.graph-frame` gets its pan/zoom view and its highlighter, and legends fold
// on a phone; again after each swap of the page's body, with what the reader had (zoom, pan, highlight) carried
// over frame by frame. The window's resizes and scrolls reach every view.

import { $, $$ } from './dom.js';
import { GraphView } from './panzoom.js';
import { Highlighter, highlightEvents } from './highlight.js';

let graphs = []; // by frame index; a frame without a graph leaves a hole

// Every graph in `root`, set up; `saved` is what a live refresh carried over, frame by frame (savedViews()).
export function setUp(root, saved = []) {
  for (const g of graphs) if (g) g.view.destroy();
  graphs = [];
  $$('.graph-frame', root).forEach((frame, i) => {
    const svg = $('svg.graph', frame);
    if (!svg || svg.classList.contains('empty')) return;
    const view = new GraphView(frame, svg);
    const hl = new Highlighter(svg);
    highlightEvents(svg, hl, view);
    const before = saved[i];
    if (before) {
      view.restore(before.view);
      if (before.hl) hl.show(before.hl);
    }
    graphs[i] = { frame, view, hl };
  });
  foldLegends(root);
}

// What setUp() needs to give each frame back its view and highlight.
export function savedViews() {
  return graphs.map((g) => g && { view: g.view.state(), hl: g.hl.current });
}

// The index of the graph frame holding `el`, or -1.
export function frameIndexOf(el) {
  return graphs.findIndex((g) => g && g.frame.contains(el));
}

// The graph frame at `index`, if it has a graph.
export function frameAt(index) {
  return index >= 0 && graphs[index] ? graphs[index].frame : null;
}

// On a phone the legend starts folded: it would fill the first screen.
function foldLegends(root) {
  if (window.matchMedia('(max-width: 720px)').matches) for (const d of $$('details.legend', root)) d.open = false;
}

// A taller window gives the frames more height (the ResizeObserver sees only their width change).
window.addEventListener('resize', () => { for (const g of graphs) if (g) g.view.resized(); });
window.addEventListener('scroll', () => { for (const g of graphs) if (g) g.view.stickTitles(); }, { passive: true });
