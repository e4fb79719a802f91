/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { ISOLATION_HEADERS } from './workers/isolation.ts';

/**
 * Cross-origin isolation, which wasm threads (SharedArrayBuffer) need. Static hosts that
 * cannot set headers get the same from the service worker (workers/service-worker.ts) after
 * its first visit.
 */
const isolation = { ...ISOLATION_HEADERS };

export default defineConfig({
  // onnxruntime-web finds its wasm via import.meta.url; pre-bundling would move it.
  // The pages this server serves (not e2e/host-app, a separate app that imports the packed library).
  optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'], entries: ['index.html', 'e2e/harness/*.html', 'bench/*.html'] },
  worker: { format: 'es' },
  // Several pages (demo, test harness), and a missing model file must 404, not fall back to index.html.
  appType: 'mpa',
  build: { target: 'es2022', sourcemap: true },
  plugins: [
    // The offline app shell (HTML, JS, CSS, the onnxruntime wasm) is precached by Workbox.
    // Model files are not: Loupe keeps them in its own Cache Storage entry on first use, so
    // a new deploy (a new precache) never evicts a downloaded model.
    VitePWA({
      // A new deploy waits until the page says it may take over (no reload mid-conversation).
      registerType: 'prompt',
      injectRegister: null,
      // Our own service worker (workers/service-worker.ts): Workbox precaching plus the COOP/COEP
      // headers that make the page cross-origin isolated on hosts that cannot send them.
      strategies: 'injectManifest',
      srcDir: 'workers',
      filename: 'service-worker.ts',
      includeManifestIcons: false,
      manifest: {
        name: 'Loupe — ask about high-resolution images',
        short_name: 'Loupe',
        description: 'Visual question answering on your device with WebGPU. No server.',
        start_url: '.',
        display: 'standalone',
        background_color: '#f6f7f9',
        theme_color: '#2f6fdf',
        icons: [
          { src: 'icons/loupe-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icons/loupe-512.png', sizes: '512x512', type: 'image/png', purpose: 'any maskable' },
        ],
      },
      injectManifest: {
        globPatterns: ['**/*.{html,js,css,wasm,png,webmanifest}', 'samples/*.{jpg,json}'],
        globIgnores: ['models/**'],
        maximumFileSizeToCacheInBytes: 40 * 2 ** 20,
      },
    }),
  ],
  server: { port: 5173, headers: isolation },
  preview: { headers: isolation },
  test: {
    include: ['src/**/*.test.ts', 'workers/**/*.test.ts', 'bench/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    alias: { 'onnxruntime-web/webgpu': 'onnxruntime-web' },
  },
});
