// Pan and zoom: each `.graph-frame svg.graph` is moved by rewriting its viewBox, so nothing but attributes
// change and the drawing stays crisp at every scale. Wheel, drag, pinch, keys and buttons move it; level titles
// stay in view; a minimap shows where the view is on a drawing larger than it; a view the reader moved is kept
// across live refreshes (state / restore).

import { $, $$, clamp, make, typing } from './dom.js';
import { SVGNS, nodeBox, nodeOfLink } from './drawing.js';

const MAX_SCALE = 4;
const READABLE_PX = 11;   // the first paint never shows the boxes' text smaller than this on screen
const DRAG_THRESHOLD = 4; // px before a press becomes a pan, so a plain click still follows the node's link


export class GraphView {
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
