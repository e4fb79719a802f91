/**
 * The one worker script behind both Loupe workers, so a built app ships onnxruntime-web
 * once: the bundler splits it into a chunk the two roles share. The role comes from the
 * worker's name; each role loads only its own service (the vision worker never parses
 * transformers.js).
 */
import * as Comlink from 'comlink';
import { installErrorTransfer } from '../src/engine/comlink-errors';

export const VISION_ROLE = 'loupe-vision';
export const LANGUAGE_ROLE = 'loupe-language';

installErrorTransfer();

// Messages may arrive while the service module loads; hold them, then replay in order.
const early: unknown[] = [];
const hold = (event: MessageEvent) => early.push(event.data);
self.addEventListener('message', hold);

const role = (self as unknown as { name: string }).name;
const service =
  role === LANGUAGE_ROLE ? new (await import('./language-service')).LanguageService() : new (await import('./vision-service')).VisionService();

self.removeEventListener('message', hold);
Comlink.expose(service);
for (const data of early) self.dispatchEvent(new MessageEvent('message', { data }));
