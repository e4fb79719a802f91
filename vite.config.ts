/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

export default defineConfig({
  // onnxruntime-web finds its wasm via import.meta.url; pre-bundling would move it.
  optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'] },
  worker: { format: 'es' },
  // Several pages (demo, test harness), and a missing model file must 404, not fall back to index.html.
  appType: 'mpa',
  build: { target: 'es2022', sourcemap: true },
  server: { port: 5173 },
  test: {
    include: ['src/**/*.test.ts', 'workers/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    alias: { 'onnxruntime-web/webgpu': 'onnxruntime-web' },
  },
});
