/**
 * The one worker script behind Loupe's workers, so a built app ships onnxruntime-web once.
 * The role comes from the worker's name. On wasm one worker is named for both roles and
 * hosts both services, exposed as `{ vision, language }`: one onnxruntime (one wasm heap, one
 * thread pool) for the model. With WebGPU each role has a worker named for it, which loads
 * only its own service (the vision worker never parses transformers.js).
 */
import * as Comlink from 'comlink';
import { installErrorTransfer } from '../src/engine/comlink-errors';

export const VISION_ROLE = 'loupe-vision';
export const LANGUAGE_ROLE = 'loupe-language';
export const BOTH_ROLES = 'loupe-vision+language';

installErrorTransfer();

// A rejection nobody handles inside the worker would leave the page waiting: rethrown
// outside the promise it becomes an `error` event, which the page's supervisor turns into
// WORKER_CRASHED for every call still pending.
self.addEventListener('unhandledrejection', (event) => {
  const reason = (event as PromiseRejectionEvent).reason;
  setTimeout(() => {
    throw reason instanceof Error ? reason : new Error(String(reason));
  });
});

// Messages may arrive while the service module loads; hold them, then replay in order.
const early: unknown[] = [];
const hold = (event: MessageEvent) => early.push(event.data);
self.addEventListener('message', hold);

const role = (self as unknown as { name: string }).name;
// A custom worker (LoadModelOptions.workers) must be named for its role; guessing one would
// load the wrong service and fail later with a confusing message.
if (role !== LANGUAGE_ROLE && role !== VISION_ROLE && role !== BOTH_ROLES) {
  throw new Error(`a Loupe worker must be created with name "${VISION_ROLE}", "${LANGUAGE_ROLE}" or "${BOTH_ROLES}" (new Worker(url, { type: 'module', name })); this one is named "${role}"`);
}
const language = () => import('./language-service').then((m) => new m.LanguageService());
const vision = () => import('./vision-service').then((m) => new m.VisionService());
const service =
  role === BOTH_ROLES ? await Promise.all([vision(), language()]).then(([v, l]) => ({ vision: v, language: l })) : role === LANGUAGE_ROLE ? await language() : await vision();

self.removeEventListener('message', hold);
Comlink.expose(service);
for (const data of early) self.dispatchEvent(new MessageEvent('message', { data }));
