// fluxgraph — progressive enhancement for the server-rendered pages. Every page works without this file; with
// it, graphs pan and zoom, hovering a node shows what it waits on and what waits on it, the page follows file
// changes live (server-sent events) without losing the reader's place, links copy in one click, and search
// suggests as you type. No framework, no build step, no inline styles or handlers (the page has a strict CSP).
//
// This is the entry module (templates/layout.html loads it with type="module"); it starts the parts, each a
// module of its own under js/:
//   dom.js        shared DOM helpers and the page's base path
//   drawing.js    reading the server's SVG drawing: a node's box, its link
//   panzoom.js    pan, zoom, minimap and sticky level titles of one graph
//   highlight.js  what a hovered or focused node waits on, and what waits on it
//   graphs.js     every graph of the page set up, and set up again after a swap
//   live.js       server-sent events, the page's body swapped in place keeping the reader's place
//   status.js     the live status: boxes coloured, the header's counts, the parts that print status
//   copy.js       the Copy link button
//   search.js     search suggestions as you type

import { $ } from './js/dom.js';
import { setUp } from './js/graphs.js';
import { initGroups, initLive } from './js/live.js';
import { initStatus, onStatus } from './js/status.js';
import { initCopy } from './js/copy.js';
import { initSearch } from './js/search.js';

const main = $('#content');
if (main) setUp(main);
initLive(onStatus);
initGroups();
initStatus();
initCopy();
initSearch();
