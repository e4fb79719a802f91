// What an app does to embed Loupe: one import registers <loupe-chat>.
import 'loupe-vlm/chat';
import { planImage } from 'loupe-vlm';

window.hostEvents = [];
for (const type of ['loupe-progress', 'loupe-token', 'loupe-answer', 'loupe-error']) {
  document.addEventListener(type, (event) => window.hostEvents.push({ type, detail: event.detail }));
}
window.hostReady = typeof planImage === 'function';
