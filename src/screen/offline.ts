import { registerSW } from 'virtual:pwa-register';
import { MODEL_CACHE, storageStatus } from '../bundle';
import { formatBytes } from './format';

/**
 * The app shell works offline once the service worker is installed (production builds only).
 * When a new deploy is ready, it takes over (the page reloads) at once if `idle()` says nothing
 * would be lost; otherwise `offer` gets a function that does it when the user chooses.
 */
export function registerOfflineShell(idle: () => boolean, offer: (update: () => void) => void): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const updateSW = registerSW({
    immediate: true,
    onNeedRefresh() {
      // Reload once the new worker controls the page (workbox-window does so only for updates it
      // found itself, not for ones the browser found on its own).
      const update = () => {
        navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
        void updateSW(true);
      };
      if (idle()) update();
      else offer(update);
    },
  });
}

/** How many of a bundle's files Cache Storage holds, and their bytes. */
async function cachedBundle(baseUrl: string): Promise<{ files: number; bytes: number }> {
  if (typeof caches === 'undefined') return { files: 0, bytes: 0 };
  const cache = await caches.open(MODEL_CACHE);
  const base = new URL(baseUrl, location.href).href;
  let files = 0;
  let bytes = 0;
  for (const request of await cache.keys()) {
    if (!request.url.startsWith(base)) continue;
    files++;
    bytes += Number((await cache.match(request))?.headers.get('content-length') ?? 0);
  }
  return { files, bytes };
}

/**
 * "Make available offline": the model's files are already kept on first load; this asks the
 * browser not to evict them (navigator.storage.persist) and reports what is stored.
 */
export async function makeAvailableOffline(baseUrl: string): Promise<string> {
  const persisted = (await navigator.storage?.persist?.()) ?? false;
  return describeStorage(baseUrl, persisted);
}

export async function describeStorage(baseUrl: string, persisted?: boolean): Promise<string> {
  const [bundle, status] = await Promise.all([cachedBundle(baseUrl), storageStatus()]);
  const kept = persisted ?? status?.persisted ?? false;
  const usage = status ? `${formatBytes(status.usage)} of ${formatBytes(status.quota)} used` : 'storage estimate unavailable';
  return `${bundle.files} model files (${formatBytes(bundle.bytes)}) stored for offline use; ${usage}; ${kept ? 'kept (persistent)' : 'may be evicted under storage pressure'}.`;
}
