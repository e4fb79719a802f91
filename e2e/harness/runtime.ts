/**
 * Exposes the public API to Playwright: tests call `window.loupe.*` through page.evaluate,
 * so they exercise the same code path an app does (workers, transfer, streaming).
 */
import * as loupe from '../../src';
import { defaultWorkers } from '../../src/engine/default-workers';

declare global {
  interface Window {
    loupe: typeof loupe;
    /** The real workers, for tests that wrap them (drop a message, signal a crash). */
    loupeWorkers: typeof defaultWorkers;
    /** In-page helpers the specs share. */
    loupeTest: typeof loupeTest;
  }
}

const loupeTest = {
  /** How a promise settled: 'ok', or its error's code (the text where it has none). */
  codeOf: (promise: Promise<unknown>): Promise<string> => promise.then(() => 'ok', (error: { code?: string }) => error.code ?? String(error)),
  /** Every piece's token id of a streamed answer. */
  drain: async (stream: AsyncIterable<{ tokenId: number | null }>): Promise<(number | null)[]> => {
    const ids: (number | null)[] = [];
    for await (const piece of stream) ids.push(piece.tokenId);
    return ids;
  },
};

window.loupe = loupe;
window.loupeWorkers = defaultWorkers;
window.loupeTest = loupeTest;
document.querySelector('#status')!.textContent = 'ready';
