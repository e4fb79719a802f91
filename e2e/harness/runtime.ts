/**
 * Exposes the public API to Playwright: tests call `window.loupe.*` through page.evaluate,
 * so they exercise the same code path an app does (workers, transfer, streaming).
 */
import * as loupe from '../../src';

declare global {
  interface Window {
    loupe: typeof loupe;
  }
}

window.loupe = loupe;
document.querySelector('#status')!.textContent = 'ready';
