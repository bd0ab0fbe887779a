// fluxgraph — progressive enhancement for the server-rendered pages. Every page works without this file; with
// it, graphs pan and zoom, hovering a node shows what it waits on and what waits on it, the page follows file
// changes live (server-sent events) without losing the reader's place, links copy in one click, and search
// suggests as you type. No framework, no build step, no inline styles or handlers (the page has a strict CSP).
'use strict';

(() => {
  const body = document.body;
  const base = body.dataset.base || '';
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const make = (tag, props = {}, ...children) => {
    const el = Object.assign(document.createElement(tag), props);
    el.append(...children);
    return el;
  };

  // Whether a key press belongs to a text field rather than to the page's shortcuts.
  const typing = (el) => el instanceof Element &&
    (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  // ---------------------------------------------------------------------------------------------------------
  // Pan and zoom: each `.graph-frame svg.graph` is moved by rewriting its viewBox, so nothing but attributes
  // change and the drawing stays crisp at every scale.

  const MAX_SCALE = 4;
  const READABLE_PX = 11;   // the first paint never shows the boxes' text smaller than this on screen
  const SVGNS = 'http://www.w3.org/2000/svg';
  const DRAG_THRESHOLD = 4; // px before a press becomes a pan, so a plain click still follows the node's link

  class GraphView {
    constructor(frame, svg) {
      this.frame = frame;
      this.svg = svg;
      const vb = svg.viewBox.baseVal;
      this.natural = vb && vb.width > 0
        ? { x: vb.x, y: vb.y, w: vb.width, h: vb.height }
        : { x: 0, y: 0, w: svg.width.baseVal.value || 1, h: svg.height.baseVal.value || 1 };
      this.vb = { ...this.natural };
      this.moved = false;        // the reader panned or zoomed: keep their view on resize and refresh
      this.fitted = false;       // a hidden frame has no size to fit to yet
      this.lastScale = 1;
      this.dragging = this.suppressClick = false;
      this.pointers = new Map(); // active pointers, for drag and pinch

      frame.classList.add('pannable');
      svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
      svg.setAttribute('width', '100%');
      // Level titles, with where the server put them: apply() keeps them inside the view.
      this.titles = $$('.layer-title', svg).map((t) => ({ t, x: Number(t.getAttribute('x')), y: Number(t.getAttribute('y')),
        across: t.getAttribute('text-anchor') === 'end' }));
      this.sizeFrame();
      this.addControls();
      this.addMinimap();
      this.listen();
      this.fit(true);
      // Fit again whenever the frame changes size (window resize, a closed <details> opening).
      this.observer = new ResizeObserver(() => this.resized());
      this.observer.observe(frame);
    }

    // The frame is as tall as the graph, within reason: at most a share of the window that app.css sets
    // (--frame-max: 0.7, less for .small frames), at least enough for the controls.
    sizeFrame() {
      const share = parseFloat(getComputedStyle(this.frame).getPropertyValue('--frame-max')) || 0.7;
      const width = this.box().width;
      const scale = width > 0 ? this.firstScale(width) : 1;
      const height = Math.round(clamp(this.natural.h * scale, 220, Math.max(220, window.innerHeight * share)));
      this.svg.setAttribute('height', String(height));
    }

    box() { return this.svg.getBoundingClientRect(); }
    scale() { const r = this.box(); return r.width > 0 ? r.width / this.vb.w : 1; }

    // The smallest scale at which the boxes' text is still READABLE_PX on screen.
    readableScale() {
      const sizes = ['.node .title', '.node .subtitle', '.layer-title'].map((sel) => $(sel, this.svg))
        .filter(Boolean).map((el) => parseFloat(getComputedStyle(el).fontSize)).filter((px) => px > 0);
      return sizes.length ? READABLE_PX / Math.min(...sizes) : 0;
    }

    // The first paint's scale for a frame `width` wide: the width fitted (not the whole drawing), never
    // enlarged beyond 1:1, never below readable.
    firstScale(width) { return Math.max(Math.min(width / this.natural.w, 1), this.readableScale()); }

    // The scale at which the whole graph fits, never enlarged beyond 1:1.
    fitScale() { const r = this.box(); return Math.min(r.width / this.natural.w, r.height / this.natural.h, 1); }

    // Written at once (the browser still paints once per frame), so that scripts and tests read what they did.
    apply() {
      const f = (n) => String(Math.round(n * 100) / 100);
      const { x, y, w, h } = this.vb;
      this.svg.setAttribute('viewBox', `${f(x)} ${f(y)} ${f(w)} ${f(h)}`);
      this.lastScale = this.scale();
      this.stickTitles();
      this.updateMinimap();
    }

    // Level titles stay at the top (left, for rows) of the view while the drawing pans under them, and
    // below the window's top edge while the page scrolls past the frame.
    stickTitles() {
      if (!this.titles.length) return;
      const s = this.lastScale || 1;
      const f = (n) => String(Math.round(n * 10) / 10);
      const r = this.box();
      const hidden = clamp(-r.top, 0, Math.max(0, r.height - 40));
      for (const { t, x, y, across } of this.titles) {
        if (across) t.setAttribute('x', f(Math.max(x, this.vb.x + x)));
        else t.setAttribute('y', f(Math.max(y, this.vb.y + (18 + hidden) / s)));
      }
    }

    // A minimap of a drawing larger than its view: every box, and where the view is; a press moves there.
    addMinimap() {
      const boxes = $$('g.node[data-id]', this.svg);
      if (boxes.length < 2) return;
      const n = this.natural;
      const map = document.createElementNS(SVGNS, 'svg');
      map.setAttribute('class', 'minimap');
      map.setAttribute('viewBox', `${n.x} ${n.y} ${n.w} ${n.h}`);
      map.setAttribute('preserveAspectRatio', 'xMinYMin meet');
      map.setAttribute('aria-hidden', 'true');
      const ratio = n.h / n.w;
      const [w, h] = ratio > 0.75 ? [Math.round(120 / ratio), 120] : [160, Math.max(24, Math.round(160 * ratio))];
      map.setAttribute('width', String(w));
      map.setAttribute('height', String(h));
      for (const g of boxes) {
        const b = nodeBox(g);
        const r = document.createElementNS(SVGNS, 'rect');
        for (const [k, v] of Object.entries({ x: b.x, y: b.y, width: b.w, height: b.h })) r.setAttribute(k, String(v));
        r.setAttribute('class', `mm-node${g.classList.contains('critical') ? ' critical' : ''}`);
        map.append(r);
      }
      this.mapView = document.createElementNS(SVGNS, 'rect');
      this.mapView.setAttribute('class', 'mm-view');
      map.append(this.mapView);
      const go = (e) => {
        const m = map.getScreenCTM();
        if (!m) return;
        const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
        this.show(this.scale(), p.x, p.y);
        this.moved = true;
      };
      map.addEventListener('pointerdown', (e) => { e.stopPropagation(); capture(map, e.pointerId); go(e); this.mapDrag = true; });
      map.addEventListener('pointermove', (e) => { if (this.mapDrag) go(e); });
      map.addEventListener('pointerup', () => { this.mapDrag = false; });
      this.minimap = map;
      this.frame.append(map);
    }

    updateMinimap() {
      if (!this.minimap) return;
      const [n, v] = [this.natural, this.vb];
      // Shown only when part of the drawing is out of view.
      this.minimap.classList.toggle('shown', v.x > n.x + 1 || v.y > n.y + 1 || v.x + v.w < n.x + n.w - 1 || v.y + v.h < n.y + n.h - 1);
      for (const [k, val] of Object.entries({ x: v.x, y: v.y, width: v.w, height: v.h })) this.mapView.setAttribute(k, String(val));
    }

    // Shows the view at `scale`, its centre at user coordinates (cx, cy).
    show(scale, cx, cy) {
      const r = this.box();
      if (!(r.width > 0 && r.height > 0)) return; // hidden: wait for the ResizeObserver
      const [w, h] = [r.width / scale, r.height / scale];
      this.vb = { x: cx - w / 2, y: cy - h / 2, w, h };
      this.keepInView();
      this.apply();
    }

    fit(initial = false) {
      const r = this.box();
      if (!(r.width > 0 && r.height > 0)) return;
      const n = this.natural;
      let [scale, cx, cy] = [this.fitScale(), n.x + n.w / 2, n.y + n.h / 2];
      // On a large graph, fitting everything makes text unreadable: start at the focused object instead.
      const focus = initial && scale < 0.35 && $('.node.focus', this.svg);
      if (focus) {
        const b = nodeBox(focus);
        [scale, cx, cy] = [0.8, b.x + b.w / 2, b.y + b.h / 2];
      } else if (initial) {
        // Readable first: fit the width when that keeps the text readable, else start at the first level;
        // what does not fit below is reached by scrolling (wheel with shift, drag, arrows) or the minimap.
        scale = Math.max(scale, this.firstScale(r.width));
        const [w, h] = [r.width / scale, r.height / scale];
        cx = n.w <= w ? n.x + n.w / 2 : n.x + w / 2;
        cy = n.h <= h ? n.y + n.h / 2 : n.y + h / 2;
        // Taller than the view: start level with the critical path's first box (else the first column's
        // boxes), so that the first paint shows boxes and not the empty top of a column.
        if (n.h > h) {
          const boxes = $$('g.node[data-id]', this.svg).map((g) => ({ g, b: nodeBox(g) }));
          const first = (list) => list.reduce((a, x) => (!a || x.b.x < a.b.x ? x : a), null);
          const start = first(boxes.filter((x) => x.g.classList.contains('critical'))) || first(boxes);
          if (start) cy = clamp(start.b.y + start.b.h / 2, n.y + h / 2, n.y + n.h - h / 2);
        }
      }
      this.fitted = true;
      this.whole = !initial;       // the reader asked for the whole drawing: a resize fits it again
      this.moved = Boolean(focus); // a view on the focus is kept like one the reader chose
      this.show(scale, cx, cy);
    }

    // Zooms by `factor` keeping the point under (clientX, clientY) still.
    zoomAt(clientX, clientY, factor) {
      const r = this.box();
      const s = this.scale();
      const next = clamp(s * factor, Math.min(this.fitScale(), 1) * 0.5, MAX_SCALE);
      const [px, py] = [clientX - r.left, clientY - r.top];
      const [ux, uy] = [this.vb.x + px / s, this.vb.y + py / s]; // the user point under the cursor stays put
      this.vb = { x: ux - px / next, y: uy - py / next, w: r.width / next, h: r.height / next };
      this.keepInView();
      this.moved = true;
      this.apply();
    }

    zoomCentre(factor) {
      const r = this.box();
      this.zoomAt(r.left + r.width / 2, r.top + r.height / 2, factor);
    }

    // Pans by a distance in screen pixels.
    panBy(dx, dy) {
      const s = this.scale();
      this.vb.x -= dx / s;
      this.vb.y -= dy / s;
      this.keepInView();
      this.moved = true;
      this.apply();
    }

    // Some of the graph always stays on screen, so the reader cannot lose it off an edge.
    keepInView() {
      const [n, v] = [this.natural, this.vb];
      const margin = Math.min(v.w, v.h) * 0.2;
      v.x = clamp(v.x, n.x - v.w + margin, n.x + n.w - margin);
      v.y = clamp(v.y, n.y - v.h + margin, n.y + n.h - margin);
    }

    resized() {
      this.sizeFrame();
      if (!this.moved) { this.fit(!this.fitted || !this.whole); return; }
      // Keep the scale and the centre; only the visible extent changes.
      this.show(this.lastScale, this.vb.x + this.vb.w / 2, this.vb.y + this.vb.h / 2);
    }

    // Brings a node into view when it gets keyboard focus outside the visible part.
    reveal(g) {
      const [b, v] = [nodeBox(g), this.vb];
      if (b.x >= v.x && b.y >= v.y && b.x + b.w <= v.x + v.w && b.y + b.h <= v.y + v.h) return;
      this.show(this.scale(), b.x + b.w / 2, b.y + b.h / 2);
      this.moved = true;
    }

    // Saved and restored across live refreshes; a view the reader never moved is fitted afresh instead.
    // The frame keeps its height too, so that nothing below it moves.
    state() { return this.moved ? { vb: { ...this.vb }, height: this.svg.getAttribute('height') } : null; }
    restore(state) {
      if (!state) return;
      this.svg.setAttribute('height', state.height);
      this.vb = { ...state.vb };
      this.moved = true;
      // The frame may have another width now: keep the scale, recompute the extent.
      const r = this.box();
      if (r.width > 0) this.vb.h = this.vb.w * (r.height / r.width);
      this.apply();
    }

    // Controls are made here, so that pages without JavaScript show no dead buttons.
    addControls() {
      const bar = make('div', { className: 'graph-controls' });
      for (const [label, text, action] of [
        ['Zoom in (+)', '+', () => this.zoomCentre(1.25)],
        ['Zoom out (−)', '−', () => this.zoomCentre(0.8)],
        ['Fit (0)', '⤢', () => this.fit()],
      ]) {
        const b = make('button', { type: 'button', textContent: text, title: label });
        b.setAttribute('aria-label', label);
        b.addEventListener('click', action);
        bar.append(b);
      }
      this.frame.append(bar);
    }

    listen() {
      const { svg, frame } = this;

      // Wheel zooms around the cursor; shift+wheel pans.
      svg.addEventListener('wheel', (e) => {
        e.preventDefault();
        const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.box().height : 1;
        if (e.shiftKey) {
          this.panBy(-(e.deltaX || e.deltaY) * unit, e.deltaX ? -e.deltaY * unit : 0);
          return;
        }
        // A trackpad pinch arrives as ctrl+wheel with small deltas: make it as responsive as a wheel notch.
        const delta = clamp(e.deltaY * unit, -120, 120);
        this.zoomAt(e.clientX, e.clientY, Math.exp(-delta * (e.ctrlKey ? 0.01 : 0.002)));
      }, { passive: false });

      // Drag pans (mouse, pen, one finger); two fingers pinch-zoom.
      svg.addEventListener('pointerdown', (e) => {
        if (e.pointerType === 'mouse' && e.button !== 0) return;
        this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
        if (this.pointers.size === 1) {
          this.start = { x: e.clientX, y: e.clientY };
          this.dragging = false;
          this.suppressClick = false;
        } else {
          this.pinch = pinchOf(this.pointers);
          this.dragging = true; // a pinch never ends in a click
          capture(svg, e.pointerId);
        }
      });
      svg.addEventListener('pointermove', (e) => {
        const last = this.pointers.get(e.pointerId);
        if (!last) return;
        const now = { x: e.clientX, y: e.clientY };
        this.pointers.set(e.pointerId, now);
        if (this.pointers.size === 1) {
          if (!this.dragging && Math.hypot(now.x - this.start.x, now.y - this.start.y) > DRAG_THRESHOLD) {
            this.dragging = true;
            frame.classList.add('panning');
            capture(svg, e.pointerId);
          }
          if (this.dragging) this.panBy(now.x - last.x, now.y - last.y);
        } else if (this.pointers.size === 2 && this.pinch) {
          const next = pinchOf(this.pointers);
          if (this.pinch.d > 0) this.zoomAt(next.x, next.y, next.d / this.pinch.d);
          this.panBy(next.x - this.pinch.x, next.y - this.pinch.y);
          this.pinch = next;
        }
      });
      const release = (e) => {
        if (!this.pointers.delete(e.pointerId)) return;
        if (this.pointers.size < 2) this.pinch = null;
        if (this.pointers.size === 1) {
          // Continue as a one-finger pan from where the remaining finger is.
          const [p] = this.pointers.values();
          this.start = { ...p };
        }
        if (this.pointers.size === 0) {
          frame.classList.remove('panning');
          this.suppressClick = this.dragging;
          this.dragging = false;
        }
      };
      svg.addEventListener('pointerup', release);
      svg.addEventListener('pointercancel', release);
      // A drag that ends over a node must not follow its link.
      svg.addEventListener('click', (e) => {
        if (!this.suppressClick) return;
        this.suppressClick = false;
        e.preventDefault();
        e.stopPropagation();
      }, true);
      // Links and text would otherwise start the browser's own drag.
      svg.addEventListener('dragstart', (e) => e.preventDefault());

      // Keyboard, when the frame (or a node in it) has focus.
      frame.addEventListener('keydown', (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
        const step = e.shiftKey ? 240 : 60;
        const zoomIn = () => this.zoomCentre(1.25);
        const zoomOut = () => this.zoomCentre(0.8);
        const action = {
          '+': zoomIn, '=': zoomIn, '-': zoomOut, '_': zoomOut, 0: () => this.fit(),
          ArrowLeft: () => this.panBy(step, 0), ArrowRight: () => this.panBy(-step, 0),
          ArrowUp: () => this.panBy(0, step), ArrowDown: () => this.panBy(0, -step),
        }[e.key];
        if (!action) return;
        e.preventDefault();
        action();
      });
      svg.addEventListener('focusin', (e) => {
        const g = nodeOfLink(e.target);
        if (g) this.reveal(g);
      });
    }

    destroy() { this.observer.disconnect(); }
  }

  function pinchOf(pointers) {
    const [a, b] = pointers.values();
    return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, d: Math.hypot(a.x - b.x, a.y - b.y) };
  }

  function capture(el, pointerId) {
    try { el.setPointerCapture(pointerId); } catch { /* the pointer is already gone */ }
  }

  // The node drawn inside a node link (or inside any element of one).
  function nodeOfLink(el) {
    const link = el instanceof Element && el.closest('a.node-link');
    return link ? $('g.node[data-id]', link) : null;
  }

  // A node's box in the SVG's user coordinates, from its translate() and its rect.
  function nodeBox(g) {
    const m = g.transform.baseVal.consolidate();
    const rect = $(':scope > rect', g);
    return { x: m ? m.matrix.e : 0, y: m ? m.matrix.f : 0,
      w: rect ? rect.width.baseVal.value : 0, h: rect ? rect.height.baseVal.value : 0 };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Highlight: hovering or focusing a node lights it, what it waits on (up: its dependsOn targets and its
  // parent, transitively) and what waits on it (down), and fades the rest. Source edges are shown one hop
  // only: every Kustomization uses the repository's source, and following them would light everything.

  class Highlighter {
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

  function highlightEvents(svg, hl, view) {
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

  // Every graph in `root`, set up; `saved` is what a live refresh carried over, frame by frame.
  let graphs = [];
  function initGraphs(root, saved = []) {
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
  }
  // A taller window gives the frames more height (the ResizeObserver sees only their width change).
  window.addEventListener('resize', () => { for (const g of graphs) if (g) g.view.resized(); });
  window.addEventListener('scroll', () => { for (const g of graphs) if (g) g.view.stickTitles(); }, { passive: true });

  // ---------------------------------------------------------------------------------------------------------
  // Live updates: the server announces each new snapshot; the page fetches its own body again and swaps it in,
  // keeping zoom, pan, highlight, focus and scroll as they were.

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
    const frame = inside ? graphs.findIndex((g) => g && g.frame.contains(active)) : -1;
    return {
      x: window.scrollX,
      y: window.scrollY,
      graphs: graphs.map((g) => g && { view: g.view.state(), hl: g.hl.current }),
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
    const frame = focus.frame >= 0 && graphs[focus.frame] ? graphs[focus.frame].frame : null;
    const el = focus.node ? nodeLink(frame || main, focus.node)
      : focus.id ? document.getElementById(focus.id)
      : focus.href ? $$('a[href]', main).find((a) => a.getAttribute('href') === focus.href)
      : frame;
    if (el && main.contains(el)) el.focus({ preventScroll: true });
  }

  function nodeLink(root, id) {
    const g = $$('g.node[data-id]', root).find((n) => n.dataset.id === id);
    return g && g.closest('a.node-link');
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
    initGraphs(main, keep ? place.graphs : []);
    foldLegends(main);
    restoreFocus(main, place.focus);
    window.scrollTo(place.x, place.y);
    main.dispatchEvent(new CustomEvent('fluxgraph:updated', { bubbles: true }));
  }

  // Opening or closing a group of the overview happens in place: the page's body is swapped, the URL
  // (which names the open groups) pushed, so that a shared or reloaded link shows the same picture.
  function initGroups() {
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

  // On a phone the legend starts folded: it would fill the first screen.
  function foldLegends(root) {
    if (window.matchMedia('(max-width: 720px)').matches) for (const d of $$('details.legend', root)) d.open = false;
  }

  function initLive() {
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

  // ---------------------------------------------------------------------------------------------------------
  // Live status (`serve --kube-status`, `--flux-source`): every graph node gets the class of its state
  // (`st-ready`, `st-failed`…) and its reason in its tooltip, the bar under the header counts each state (its
  // swatches are the legend), and `status` events change them in place, so zoom and scroll stay. The whole
  // status (with what blocks each object) is fetched again shortly after changes, and so are the parts of a
  // page that print status (`data-live` on /blocked, an object's status section).

  const live = { url: body.dataset.status || '', doc: null, timer: 0, last: 0 };
  const STATES = [['ready', 'ready'], ['progressing', 'progressing'], ['failed', 'failed'], ['waiting', 'waiting'],
    ['suspended', 'suspended'], ['stalled', 'stalled'], ['not-applied', 'not yet applied'], ['loading', 'loading']];
  const countKey = (state) => state.replace('-', '_');

  function statusUrl() {
    const cluster = new URLSearchParams(location.search).get('cluster');
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
    const label = (STATES.find((st) => st[0] === s.state) || [s.state, s.state])[1];
    let text = label + (s.reason ? ` (${s.reason})` : '') + (s.message ? `: ${s.message}` : '');
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
      for (const [state, label] of STATES) {
        const n = doc.counts[countKey(state)] || 0;
        if (n === 0 && (state === 'stalled' || state === 'not-applied' || state === 'loading')) continue;
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

  function onStatus(data) {
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

  function initStatus() {
    if (!live.url) return;
    loadStatus();
    // A new snapshot redraws the graphs: paint them again.
    document.addEventListener('fluxgraph:updated', () => loadStatus());
  }

  // ---------------------------------------------------------------------------------------------------------
  // Copy link.

  function initCopy() {
    const button = $('#copy-link');
    if (!button) return;
    button.setAttribute('aria-live', 'polite');
    const label = button.textContent;
    let timer = 0;
    button.addEventListener('click', async () => {
      const url = button.dataset.url || location.href;
      let ok = true;
      try {
        await navigator.clipboard.writeText(url);
      } catch {
        ok = copyByHand(url); // no clipboard API (plain http, old browser, denied)
      }
      button.textContent = ok ? 'Copied' : 'Copy failed';
      button.classList.toggle('copied', ok);
      clearTimeout(timer);
      timer = setTimeout(() => { button.textContent = label; button.classList.remove('copied'); }, 1500);
    });
  }

  function copyByHand(text) {
    const input = make('input', { value: text, readOnly: true, className: 'sr-only' });
    document.body.append(input);
    input.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    input.remove();
    return ok;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Search suggestions: a combobox over the form, which still submits to the search page without JavaScript.

  function initSearch() {
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

  // ---------------------------------------------------------------------------------------------------------

  const main = $('#content');
  if (main) { initGraphs(main); foldLegends(main); }
  initLive();
  initGroups();
  initStatus();
  initCopy();
  initSearch();
})();
