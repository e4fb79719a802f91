/** `import 'loupe-vlm/chat'` registers the <loupe-chat> element. */
import { LoupeChatElement } from './loupe-chat';

export { LoupeChatElement } from './loupe-chat';
export type { LoupeChatEvents } from './loupe-chat';

if (typeof customElements !== 'undefined' && !customElements.get('loupe-chat')) {
  customElements.define('loupe-chat', LoupeChatElement);
}

declare global {
  interface HTMLElementTagNameMap {
    'loupe-chat': LoupeChatElement;
  }
}
