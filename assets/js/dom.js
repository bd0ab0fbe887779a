// The small DOM helpers every module shares: find elements, make one, clamp a number, tell a key pressed in a
// text field from the page's shortcuts; and the page's base path, which the layout puts on <body>.

export const body = document.body;
export const base = body.dataset.base || '';
export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
export const make = (tag, props = {}, ...children) => {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
};

// Whether a key press belongs to a text field rather than to the page's shortcuts.
export const typing = (el) => el instanceof Element &&
  (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
