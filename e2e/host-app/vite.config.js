import { defineConfig } from 'vite';

export default defineConfig({
  // Loupe's workers and onnxruntime-web's wasm are found via import.meta.url: keep them unbundled in dev.
  optimizeDeps: { exclude: ['loupe-vlm', 'onnxruntime-web', '@huggingface/transformers'] },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
