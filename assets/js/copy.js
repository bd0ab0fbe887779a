// Copy link: the header's button copies the page's share URL (the public URL's, when the server has one) to the
// clipboard, or by hand where there is no clipboard API, and says whether it did.

import { $, make } from './dom.js';

export function initCopy() {
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
