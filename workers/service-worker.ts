/**
 * The offline app shell, and cross-origin isolation on hosts that cannot set headers.
 *
 * Workbox precaches the built app (HTML, JS, CSS, onnxruntime's wasm). Every response served
 * from the precache gets COOP/COEP headers, so from the second visit on the page is
 * cross-origin isolated and onnxruntime-web can run wasm on several threads, even on a
 * static host (GitHub Pages and the like) that sends no such headers. Model files are not
 * precached: Loupe keeps them in its own Cache Storage entry, so a new deploy never evicts them.
 * A new deploy's worker waits until the page asks it to take over (SKIP_WAITING), so a page
 * in the middle of a conversation is never reloaded under the user; the first install takes
 * control at once.
 */
import { clientsClaim } from 'workbox-core';
import { addPlugins, cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import { withIsolation } from './isolation';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

self.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});
clientsClaim();
addPlugins([{ handlerWillRespond: async ({ response }) => withIsolation(response) }]);
precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
