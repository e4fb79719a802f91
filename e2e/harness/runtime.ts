/**
 * Exposes the public API to Playwright: tests call `window.loupe.*` through page.evaluate,
 * so they exercise the same code path an app does (workers, transfer, streaming).
 */
import * as loupe from '../../src';
import { defaultWorkers } from '../../src/engine/default-workers';

declare global {
  interface Window {
    loupe: typeof loupe;
    /** The real workers, for tests that wrap them (drop a message, signal a crash). */
    loupeWorkers: typeof defaultWorkers;
  }
}

window.loupe = loupe;
window.loupeWorkers = defaultWorkers;
document.querySelector('#status')!.textContent = 'ready';
