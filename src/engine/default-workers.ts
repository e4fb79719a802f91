import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import type { WorkerFactories } from './types';

/**
 * Workers and the wasm binary, resolved relative to this module so hosts need no CDN.
 * All run the same script (one copy of onnxruntime-web); the name picks the role, or both.
 */
export const defaultWorkers: WorkerFactories = {
  vision: () => new Worker(new URL('../../workers/loupe.worker.js', import.meta.url), { type: 'module', name: 'loupe-vision' }),
  language: () => new Worker(new URL('../../workers/loupe.worker.js', import.meta.url), { type: 'module', name: 'loupe-language' }),
  both: () => new Worker(new URL('../../workers/loupe.worker.js', import.meta.url), { type: 'module', name: 'loupe-vision+language' }),
};

export const defaultWasmUrl: string = new URL(ortWasmUrl, globalThis.location?.href ?? import.meta.url).href;
